"""SBS-1 / BaseStation CSV (dump1090 and readsb port 30003): 22 comma-separated fields.

``MSG,<type>,<session>,<aircraft>,<hex>,<flight>,<date gen>,<time gen>,<date log>,<time log>,
<callsign>,<altitude ft>,<ground speed kt>,<track deg>,<lat>,<lon>,<vertical rate ft/min>,
<squawk>,<alert>,<emergency>,<spi>,<on ground>``

Positions arrive in ``MSG,3`` (airborne) and ``MSG,2`` (surface) rows and velocities in
``MSG,4`` rows: each position gets the velocity of the same aircraft nearest in time within
``merge_tolerance_s`` (values already on the position row win). Callsign (``MSG,1``) and
squawk (``MSG,5``/``6``) carry forward per aircraft. Times are the generated date/time
(fields 7-8, falling back to the logged ones, 9-10) on the receiver's clock, read in
``settings.tz``. CRLF line ends, ``000000`` addresses (dropped and counted) and the ``1,1``
session/aircraft ids of some feeders are handled. Files without any timestamps cannot give
tracks: their rows are dropped and counted as "no timestamp".

Logs are read in 16 MiB blocks (the next one read, or decompressed, on another thread while
this one is parsed), so memory stays flat as the log grows. Each block is parsed
by a compiled one-pass scanner (:mod:`._sbs_scan`, numba; the two halves of a block on two
threads, two blocks ahead of the one being merged) or, without numba, by pyarrow's CSV
parser; any block with a line either of them would not take goes to a robust, vectorized
pyarrow path that names every bad line. Merging is integer work, compiled in one pass per
block (:func:`._sbs_scan.merge_rows`): aircraft are numbered through a small hash table, and
the nearest velocity, and the callsign and squawk to carry, are found by one sweep each way
through rows in time order (grouping by aircraft and a walk when time goes back; numpy's
lexsort and search where numba is missing). Callsigns and squawks travel as ids into one
table of distinct strings per log (each distinct byte string is checked and cleaned once).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from ._sbs_arrow import parse_block
from ._sbs_blocks import SCAN_AHEAD, SPACE, parse_block_scan, start_scan
from ._sbs_common import NAT, NON_ICAO_BIT, OTHER_TYPES, SBS_FIELDS, Parsed, code_to_hex, scanner
from ._sbs_merge import Merger, concat_rows
from .formats import register_format
from .ledger import IngestResult, Ledger
from .points import read_logs
from .settings import IngestSettings, replace_settings
from .sources import Head, Source, TruncatedInput, count_lines, iter_blocks

__all__ = ["NON_ICAO_BIT", "SBS_FIELDS", "SbsStream", "code_to_hex", "iter_sbs", "join_rows", "parse_sbs_block",
           "read_sbs", "take_rows"]


def _sniff(head: Head) -> bool:
    """SBS when most of the first lines are SBS messages (a damaged line among them is allowed)."""
    lines = head.lines(10)
    lines = lines[:-1] or lines  # the last one may be cut short
    sbs = sum(ln.split(",", 1)[0] in ("MSG", *OTHER_TYPES) and ln.count(",") >= 4 for ln in lines)
    return bool(lines) and sbs * 2 >= len(lines) and sbs > 0


#: a block read, its scan under way (None without the compiled scanner), the scanner's output space
_Ahead = tuple[np.ndarray, Callable[[], list[tuple[Any, ...]] | None] | None, list[tuple[np.ndarray, np.ndarray]]]


@register_format("sbs", description="SBS-1/BaseStation CSV, dump1090/readsb port 30003", sniff=_sniff, priority=10)
def iter_sbs(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """Yield merged position chunks from one SBS-1 log (see the module docstring). With the
    compiled scanner, the next blocks are scanned on two threads while one is merged.

    Lines are counted by the parse of each block (the scanner counts them as it goes). A gzip
    stream that breaks off still gives every row before the break, those waiting to be merged
    included, then :class:`TruncatedInput` names the line."""
    merger = Merger(settings)
    scan = scanner()
    line = 1  # first line of the next block to finish
    ahead: deque[_Ahead] = deque()
    depth = SCAN_AHEAD if scan is not None else 1
    try:
        for block, _ in iter_blocks(source, progress=settings.progress, count=False):
            taken: list[tuple[np.ndarray, np.ndarray]] = []
            scanning = start_scan(scan, np.frombuffer(block, dtype=np.uint8), taken) if scan is not None else None
            ahead.append((block, scanning, taken))
            if len(ahead) > depth:
                line += yield from _finish_block(*ahead.popleft(), line, source, settings, ledger, merger)
    except TruncatedInput as exc:
        line = yield from _finish_all(ahead, line, source, settings, ledger, merger)
        yield from _flush(merger, source, ledger)
        raise TruncatedInput(exc.path, line, exc.why) from exc
    yield from _finish_all(ahead, line, source, settings, ledger, merger)
    yield from _flush(merger, source, ledger)


def _finish_all(ahead: deque[_Ahead], line: int, source: Source, settings: IngestSettings, ledger: Ledger,
                merger: Merger) -> Generator[pd.DataFrame, None, int]:
    """Finish every block still *ahead*, in order; returns the first line after them."""
    while ahead:
        line += yield from _finish_block(*ahead.popleft(), line, source, settings, ledger, merger)
    return line


def _flush(merger: Merger, source: Source, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """The positions the merger still holds (the last seconds of the log)."""
    frame = merger.feed(Parsed(), final=True)
    if frame is not None and len(frame):
        yield _local_time_check(frame, source, ledger, merger.tz)


def _finish_block(
    block: np.ndarray, scanning: Callable[[], list[tuple[Any, ...]] | None] | None, taken: list[tuple[np.ndarray, np.ndarray]],
    first_line: int,
    source: Source, settings: IngestSettings, ledger: Ledger, merger: Merger,
) -> Generator[pd.DataFrame, None, int]:
    """Parse and merge one block; yields its chunks and returns its number of lines. The
    scanner's output space the block *taken* goes back to :data:`SPACE` once its rows are merged."""
    parts = parse_sbs_block(block, first_line, source, settings, ledger, scanning)
    lines = sum(p.lines for p in parts)
    frame = merger.feed(parts)  # the halves of a block merge as one block (copies: the scan's views are let go)
    del parts
    SPACE.give(taken)
    if frame is not None and len(frame):
        yield _local_time_check(frame, source, ledger, merger.tz)
    ledger.raise_pending()
    return lines


def parse_sbs_block(block: bytes | np.ndarray, first_line: int, source: Source | _Named, settings: IngestSettings,
                    ledger: Ledger, scanning: Callable[[], list[tuple] | None] | None = None) -> list[Parsed]:
    """The rows of one block of SBS lines (ending with a newline; *first_line* its first line's
    number): the compiled scanner or pyarrow's fast path, else the robust path that names every
    bad line in *ledger*. Each part's ``lines`` is the number of lines it covers."""
    parts = parse_block_scan(block, first_line, source, ledger, scanning)  # type: ignore[arg-type]
    if parts is None:
        parts = [parse_block(bytes(block), first_line, source, settings, ledger)]  # type: ignore[arg-type]
        parts[0].lines = count_lines(np.frombuffer(block, dtype=np.uint8))
    return parts


class _Named:
    """What the block parsers need of a source: its name for messages."""

    def __init__(self, name: str) -> None:
        self.name = name


class SbsStream:
    """SBS lines held in memory (a live feed), read block by block with the same parser and
    merger as a log file: :meth:`rows` parses a block into rows (callsigns and squawks as ids
    of this stream's string table), :meth:`merge` joins velocities and identities to the
    positions of the rows given (carrying the last seconds to the next call, as between the
    blocks of a file) and returns them as points (``None`` when none are ready)."""

    def __init__(self, name: str, settings: IngestSettings, ledger: Ledger) -> None:
        self.source = _Named(name)
        self.settings = settings
        self.ledger = ledger
        self.merger = Merger(settings)

    def rows(self, block: bytes, first_line: int) -> Parsed:
        """The rows of *block* (see :func:`parse_sbs_block`), as one part."""
        parts = parse_sbs_block(block, first_line, self.source, self.settings, self.ledger)
        for part in parts:
            self.merger.intern(part)
        out = parts[0] if len(parts) == 1 else join_rows(parts)
        out.lines = sum(p.lines for p in parts)
        return out

    def merge(self, rows: Parsed, *, final: bool = False, complete_ns: int = NAT) -> pd.DataFrame | None:
        """Points of the positions in *rows* (and those carried) that are ready; all with *final*.
        *complete_ns*: every row up to this time was given (see :meth:`Merger.feed`)."""
        frame = self.merger.feed(rows, final=final, complete_ns=complete_ns)
        if frame is None or not len(frame):
            return None
        return _local_time_check(frame, self.source, self.ledger, self.merger.tz)  # type: ignore[arg-type]


    def merge_columns(self, rows: Parsed, *, final: bool = False, complete_ns: int = NAT) -> dict[str, np.ndarray] | None:
        """:meth:`merge` with the points as plain arrays (see :meth:`Merger.feed_columns`)."""
        cols = self.merger.feed_columns(rows, final=final, complete_ns=complete_ns)
        if cols is None or not len(cols["time"]):
            return None
        bad = cols["time"] == NAT  # local times that do not exist or are ambiguous (DST changes)
        if bad.any():
            self.ledger.drop(self.source.name, cols["source_line"][bad], "local time ambiguous or non-existent (DST change)",
                             bad=False)
            cols = {k: v[~bad] for k, v in cols.items()}
        return cols


def join_rows(parts: list[Parsed]) -> Parsed:
    """Interned parts as one (their rows in order)."""
    out = Parsed()
    out.interned = True
    out.pos, out.vel, out.ident = (concat_rows([getattr(p, kind) for p in parts]) for kind in ("pos", "vel", "ident"))
    return out


def take_rows(parsed: Parsed, where: Callable[[np.ndarray], np.ndarray]) -> Parsed:
    """The rows of each kind of *parsed* whose times pass *where* (interned as *parsed*)."""
    out = Parsed()
    out.interned = parsed.interned
    out.pos, out.vel, out.ident = ({k: v[where(d["t"])] for k, v in d.items()} if d else {}
                                   for d in (parsed.pos, parsed.vel, parsed.ident))
    return out


def _local_time_check(frame: pd.DataFrame, source: Source, ledger: Ledger, tz: str) -> pd.DataFrame:
    """Rows whose local time does not exist or is ambiguous (DST changes) are dropped (none in UTC)."""
    if tz == "UTC":
        return frame
    bad = frame["time"].isna().to_numpy()
    if bad.any():
        ledger.drop(source.name, frame["source_line"].to_numpy()[bad],
                    "local time ambiguous or non-existent (DST change)", bad=False)
        frame = frame.loc[~bad]
    return frame


def read_sbs(path: str | PathLike[str], *, settings: IngestSettings = IngestSettings()) -> IngestResult:
    """Read one or more SBS-1 logs (path, directory or glob) into a validated points table.

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "tiny.sbs"
    >>> _ = log.write_text(
    ...     "MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,3000,,,51.5,-0.1,,,0,0,0,0\\n"
    ...     "MSG,4,1,1,4CA2D6,1,2024/05/01,12:00:00.500,2024/05/01,12:00:00.500,,,140,90,,,-64,,0,0,0,0\\n")
    >>> p = read_sbs(log).points
    >>> p[["object_id", "lat", "lon", "altitude_ft", "speed_kt", "track_deg"]].values.tolist()
    [['4ca2d6', 51.5, -0.1, 3000.0, 140.0, 90.0]]
    """
    return read_logs(path, settings=replace_settings(settings, fmt="sbs"))
