"""A watchlist: aircraft a reporter cares about, marked and ranked first.

One entry per line: a pattern, then optionally `` # `` and a note. A pattern is a
case-insensitive regular expression that matches an aircraft when it matches the whole ICAO
address, registration or callsign, or is found anywhere in the operator or owner's name::

    aa2183                      # the DHS AS350 over Cleveland
    N917PD
    POLICE|SHERIFF|HOMELAND     # law enforcement by name

Blank lines and lines starting with ``#`` are skipped. A pattern that is not a valid regular
expression is an error naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["WatchEntry", "Watchlist", "load_watchlist", "parse_watchlist"]

_WHOLE = ("object_id", "registration", "callsign")
_ANYWHERE = ("operator",)


@dataclass(frozen=True)
class WatchEntry:
    """One watchlist line: its compiled pattern, note and line number."""

    pattern: re.Pattern[str]
    note: str
    line: int


@dataclass(frozen=True)
class Watchlist:
    """The entries of a watchlist file, in file order."""

    entries: tuple[WatchEntry, ...]
    source: str = "watchlist"

    def match(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(listed, note)`` for each row of *frame* (columns as in :data:`_WHOLE` and
        :data:`_ANYWHERE`, those present); the note of the first entry that matches."""
        listed = np.zeros(len(frame), dtype=bool)
        notes = np.full(len(frame), "", dtype=object)
        for entry in self.entries:
            hit = np.zeros(len(frame), dtype=bool)
            for col in _WHOLE:
                if col in frame.columns:
                    text = frame[col].astype("string").fillna("")
                    hit |= text.str.fullmatch(entry.pattern).fillna(False).to_numpy(bool) & (text != "").to_numpy()
            for col in _ANYWHERE:
                if col in frame.columns:
                    hit |= frame[col].astype("string").fillna("").str.contains(entry.pattern).fillna(False).to_numpy(bool)
            new = hit & ~listed
            notes[new] = entry.note or entry.pattern.pattern
            listed |= hit
        return listed, notes


def parse_watchlist(text: str, *, source: str = "watchlist") -> Watchlist:
    """Parse watchlist text (see the module docstring).

    >>> w = parse_watchlist("aa2183  # DHS\\nPOLICE|SHERIFF\\n")
    >>> w.match(pd.DataFrame({"object_id": ["aa2183", "b"], "operator": ["x", "County Sheriff"]}))[0].tolist()
    [True, True]
    """
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        pattern, _, note = line.partition(" #")
        try:
            compiled = re.compile(pattern.strip(), re.IGNORECASE)
        except re.error as exc:
            raise InputError(f"{pattern.strip()!r} is not a valid pattern ({exc})", path=source, line=number) from exc
        entries.append(WatchEntry(compiled, note.strip(), number))
    return Watchlist(tuple(entries), source)


def load_watchlist(path: str | Path) -> Watchlist:
    """Read a watchlist file (UTF-8)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc})", path=path) from exc
    return parse_watchlist(text, source=str(path))
