"""The format registry: :func:`register_format`, :func:`get_format` and content-based
:func:`detect_format`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import InputError, UnsupportedFormatError
from .ledger import Ledger
from .sources import Head, Source, looks_like_csv_with

if TYPE_CHECKING:  # settings check format names against this registry
    from .settings import IngestSettings

__all__ = ["FORMATS", "Format", "Reader", "detect_format", "get_format", "register_format", "supported_formats_text"]

Reader = Callable[[Source, "IngestSettings", Ledger], Iterator[pd.DataFrame]]


@dataclass(frozen=True)
class Format:
    """A registered log format: its name, one-line description, content sniffer and reader."""

    name: str
    description: str
    sniff: Callable[[Head], bool]
    read: Reader
    priority: int = 50


#: name -> :class:`Format`; filled by the reader modules with :func:`register_format`.
FORMATS: dict[str, Format] = {}


def register_format(
    name: str, *, description: str, sniff: Callable[[Head], bool], priority: int = 50
) -> Callable[[Reader], Reader]:
    """Decorator registering a reader under *name*; a name can be registered only once.

    Lower *priority* values are tried first during detection.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name) or name == "auto":
        raise ValueError(f"format name {name!r} must be lowercase letters, digits, '-' or '_' and not 'auto'")

    def decorate(read: Reader) -> Reader:
        if name in FORMATS:
            raise ValueError(f"format {name!r} is already registered")
        FORMATS[name] = Format(name, description, sniff, read, priority)
        return read

    return decorate


def supported_formats_text() -> str:
    """``name (description)`` for every format, for error messages."""
    return "; ".join(f"{f.name} ({f.description})" for f in sorted(FORMATS.values(), key=lambda f: f.name))


def get_format(name: str) -> Format:
    """The registered format *name*; an unknown name raises listing the valid ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UnsupportedFormatError(
            f"unknown format {name!r}; choose from auto, {', '.join(sorted(FORMATS))}"
        ) from None


def _refuse_unreadable(head: Head, source: Source) -> None:
    """Raise for an empty file, Beast binary and other binary data: no format can read them."""
    if not head.data.strip():
        raise InputError("empty file", path=source.name)
    if head.data[:4] in (b"\x1a1\x00\x00",) or head.data[:2] in (b"\x1a2", b"\x1a3", b"\x1a4"):
        raise UnsupportedFormatError(
            "this looks like Beast binary (raw Mode S frames); decode it with dump1090/readsb "
            f"(SBS on port 30003, or aircraft.json) first. Supported: {supported_formats_text()}",
            path=source.name,
        )
    if head.is_binary:
        raise UnsupportedFormatError(
            f"binary data that is not a log this tool reads; supported: {supported_formats_text()}", path=source.name
        )


def detect_format(source: Source, head: Head | None = None, settings: IngestSettings | None = None) -> Format:
    """The format of *source* judged from its content (not its suffix).

    Raises :class:`InputError` for empty and binary files and :class:`UnsupportedFormatError`
    (listing the supported formats) when nothing matches.
    """
    head = head if head is not None else source.head()
    _refuse_unreadable(head, source)
    candidates = sorted(FORMATS.values(), key=lambda f: (f.priority, f.name))
    if settings is not None and settings.columns and "csv" in FORMATS and looks_like_csv_with(head, settings.columns):
        return FORMATS["csv"]
    for fmt in candidates:
        try:
            if fmt.sniff(head):
                return fmt
        except Exception:  # noqa: BLE001 - a sniffer that chokes simply does not match
            continue
    first = head.lines(1)
    shown = repr(first[0][:80]) if first else "nothing readable"
    raise UnsupportedFormatError(
        f"unrecognised log format (starts with {shown}); supported: {supported_formats_text()}; "
        "for another CSV give --columns",
        path=source.name,
    )


