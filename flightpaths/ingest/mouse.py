"""Mouse telemetry: Balabit Mouse Dynamics session CSVs and DELBOT-Mouse files.

One session (Balabit) or one file (DELBOT) is one object, id = the file name (lowercased;
the folder is left out on purpose: in DELBOT it names the label). Screen pixels go to ``x``,
``y`` (``lat``/``lon`` stay NaN); times are seconds since the session start, stored as
1970-01-01 UTC plus that offset (the sources record no wall-clock time). ``button`` and
``state`` (Move, Pressed, Released, Drag) are kept; clicks are ``state == "Pressed"``.
Balabit's x or y = 65535 glitches are dropped and counted. Balabit's ``client timestamp``
is kept as ``client_time`` (seconds), so that only rows equal in it too count as duplicates.

- Balabit: header ``record timestamp,client timestamp,button,state,x,y`` (seconds).
- DELBOT: first line ``resolution:W,H`` (kept as ``screen_w``, ``screen_h``), then
  ``time_ms,event,x,y`` rows (milliseconds; x, y in pixels or, from some setups, 0-1 fractions).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

import pandas as pd

from .formats import register_format
from .ledger import Ledger
from .settings import IngestSettings
from .sources import Head, Source, csv_header
from .tabular import Col, build_points, iter_csv

__all__ = ["GLITCH"]

GLITCH: Final = 65535

BALABIT_COLUMNS: Final = {
    "time": Col("record timestamp", "time", unit="s"),
    "client_time": Col("client timestamp"),
    "x": Col("x"),
    "y": Col("y"),
    "button": Col("button", "text"),
    "state": Col("state", "text"),
}
DELBOT_COLUMNS: Final = {"time": Col("time_ms", "time", unit="ms"), "x": Col("x"), "y": Col("y"), "state": Col("event", "text")}


def _object_id(source: Source) -> str:
    return re.sub(r"\.(txt|csv|gz)$", "", source.path.name.lower()).replace(".txt", "")


def _drop_glitches(points: pd.DataFrame, source: Source, ledger: Ledger) -> pd.DataFrame:
    glitch = ((points["x"] == GLITCH) | (points["y"] == GLITCH)).to_numpy()
    if glitch.any():
        ledger.drop(source.name, points["source_line"].to_numpy()[glitch], "mouse glitch (x or y = 65535)", bad=False)
    return points.loc[~glitch]


def _sniff_balabit(head: Head) -> bool:
    cols = csv_header(head)
    return {"record timestamp", "button", "state", "x", "y"} <= set(cols)


_RESOLUTION: Final = re.compile(r"^\s*resolution:\s*(\d+)\s*,\s*(\d+)")


def _resolution(source: Source) -> tuple[float, float]:
    """The ``resolution:W,H`` a DELBOT file starts with (NaN when unreadable)."""
    match = _RESOLUTION.match(source.head().text)
    return (float(match.group(1)), float(match.group(2))) if match else (float("nan"), float("nan"))


def _sniff_delbot(head: Head) -> bool:
    return bool(re.match(r"^\s*resolution:\s*\d+\s*,\s*\d+", head.text))


@register_format("balabit", description="Balabit mouse-dynamics session CSV (one session = one object)", sniff=_sniff_balabit, priority=40)
def read_balabit(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """One Balabit session file."""
    for frame, lines in iter_csv(source, settings, ledger):
        frame.columns = [c.lower() for c in frame.columns]
        points = build_points(frame, BALABIT_COLUMNS, lines=lines, source=source, ledger=ledger, settings=settings)
        points["object_id"] = _object_id(source)
        yield _drop_glitches(points, source, ledger)


@register_format("delbot", description="DELBOT-Mouse trajectory (first line resolution:W,H)", sniff=_sniff_delbot, priority=40)
def read_delbot(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """One DELBOT file (times in ms); the ``resolution:W,H`` line gives every point's screen size."""
    width, height = _resolution(source)
    for frame, lines in iter_csv(source, settings, ledger, skip_lines=1, names=["time_ms", "event", "x", "y"]):
        points = build_points(frame, DELBOT_COLUMNS, lines=lines, source=source, ledger=ledger, settings=settings)
        points["object_id"] = _object_id(source)
        points["screen_w"], points["screen_h"] = width, height
        yield _drop_glitches(points, source, ledger)
