"""How logs are read (:class:`IngestSettings`) and the limits every reader keeps."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InputError
from .formats import get_format

__all__ = ["MAX_TEXT_CHARS", "PLAUSIBLE", "IngestSettings", "replace_settings"]


#: text values longer than this (a callsign, a registration) are cut, and counted
MAX_TEXT_CHARS: Final = 64
#: the range a number column's values can take; an infinite value or one outside it is blanked,
#: counted and named (file, line, column). Latitude and longitude outside +-90/+-180 drop the row.
PLAUSIBLE: Final[Mapping[str, tuple[float, float]]] = {
    "altitude_ft": (-5_000.0, 200_000.0),  # the Dead Sea to high balloons (Mode C stops at 126,750 ft)
    "speed_kt": (0.0, 4_000.0),  # twice the fastest jet
    "track_deg": (-360.0, 360.0),
    "vrate_fpm": (-100_000.0, 100_000.0),
    "x": (-1e7, 1e7),  # screen pixels
    "y": (-1e7, 1e7),
}


@dataclass(frozen=True)
class IngestSettings:
    """How logs are read.

    fmt: a name from :data:`FORMATS`, or ``"auto"`` to detect each file from its content.
    tz: the zone of times written without one (SBS receivers log their local clock).
    strict: stop at the first malformed row (file, line, field) instead of skipping it.
    columns: for generic CSV, point field -> source column (``{"id": "adshex", ...}``), with an
        optional unit after a colon (``"altitude": "alt:m"``); see :mod:`.generic`.
    merge_tolerance_s: SBS position and velocity messages of one aircraft further apart than
        this are not merged.
    chunk_rows: rows per chunk while streaming (bounds memory).
    max_examples: how many ``file:line: reason`` examples the report keeps.
    dedupe: drop rows that repeat an earlier row of the same object exactly.
    dedupe_rows: while streaming (``tracks``, ``score``), how many rows are remembered to find
        repeats across chunks and files (8 bytes each; bounds that memory).
    progress: show a tqdm bar on stderr for inputs over a few MB.
    """

    fmt: str = "auto"
    tz: str = "UTC"
    strict: bool = False
    columns: Mapping[str, str] | None = None
    merge_tolerance_s: float = 2.0
    chunk_rows: int = 500_000
    max_examples: int = 8
    dedupe: bool = True
    dedupe_rows: int = 32_000_000
    progress: bool = False

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(f"unknown time zone {self.tz!r}; use an IANA name such as UTC or Europe/Paris") from exc
        if not self.merge_tolerance_s > 0:
            raise InputError(f"merge_tolerance_s must be positive, got {self.merge_tolerance_s!r}")
        if self.dedupe_rows < 1:
            raise InputError(f"dedupe_rows must be at least 1, got {self.dedupe_rows!r}")
        if self.chunk_rows < 1:
            raise InputError(f"chunk_rows must be at least 1, got {self.chunk_rows!r}")
        if self.fmt != "auto":
            get_format(self.fmt)


def replace_settings(settings: IngestSettings, **changes: Any) -> IngestSettings:
    """A copy of *settings* with *changes* (a small wrapper over dataclasses.replace)."""
    return dataclasses.replace(settings, **changes)


