"""SBS-1 lines from a live feed -> points, batch by batch, with the library's own SBS reader.

Each batch of lines is parsed once, in memory, by the SBS reader's block parser
(:class:`flightpaths.ingest.sbs.SbsStream`: the compiled scanner, else pyarrow, else the robust
path that names bad lines). A position (``MSG,3``) and its velocity (``MSG,4``) arrive as
separate lines and a feed is not always in time order, so the parsed rows of the last
seconds (:attr:`LiveSbsParser.hold_ns`) are held back; the older ones go to the reader's
merger, which joins velocities, callsigns and squawks to positions exactly as between the
blocks of a log file (carrying its own last seconds and each aircraft's callsign).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LiveSbsParser", "point_columns", "points_frame"]

_NS = 1_000_000_000
_MIN = int(np.iinfo(np.int64).min)
_MAX = int(np.iinfo(np.int64).max)


class LiveSbsParser:
    """Turn SBS lines into points a batch at a time (see the module docstring).

    ``feed(lines)`` stores lines (bytes, each ending with a newline or not); ``parse()`` parses
    what is stored and returns the points that are final: those whose rows are at least
    ``hold_s`` seconds older than the latest time seen and whose velocity can no longer come
    (all of them with ``final=True``). ``source_line`` counts lines of the whole feed
    (1-based); ``source_file`` is *name*. Dropped rows are counted by reason in
    :attr:`dropped`; positions that come after their time was given out are counted in
    :attr:`late` and dropped.
    """

    def __init__(self, *, name: str = "feed", tz: str = "UTC", hold_s: float = 5.0, merge_tolerance_s: float = 2.0) -> None:
        from ..ingest import IngestSettings
        from ..ingest.ledger import Ledger
        from ..ingest.sbs import SbsStream

        self.name = name
        self.settings = IngestSettings(fmt="sbs", tz=tz, merge_tolerance_s=merge_tolerance_s)
        self.hold_ns = int(hold_s * _NS)
        self.ledger = Ledger(strict=False)
        self.stream = SbsStream(name, self.settings, self.ledger)
        self.new: list[bytes] = []
        self.lines = 0  # lines fed so far
        self.parsed = 0  # lines parsed so far
        self.held: Any = None  # parsed rows not yet given to the merger (a Parsed)
        self.given_ns = _MIN  # rows at or before this time went to the merger
        self.latest_ns = _MIN
        self.late = 0
        self._text_count = 0  # strings of the stream's table checked for length

    @property
    def dropped(self) -> Counter[str]:
        """Rows dropped so far, by reason."""
        return self.ledger.dropped

    def close(self) -> None:
        """Nothing to let go (kept for callers that close what they open)."""

    def feed(self, lines: list[bytes]) -> None:
        """Store *lines* for the next :meth:`parse`."""
        self.new.extend(ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines)
        self.lines += len(lines)

    @property
    def pending(self) -> int:
        """Lines stored and not yet parsed."""
        return len(self.new)

    def parse(self, *, final: bool = False) -> pd.DataFrame:
        """The points that are final now (see the class docstring) as a points table; may be empty."""
        cols = self.parse_columns(final=final)
        return pd.DataFrame() if cols is None else points_frame(cols)

    def parse_columns(self, *, final: bool = False) -> dict[str, np.ndarray] | None:
        """:meth:`parse` as the columns of a points table in plain arrays (times as int64 ns,
        ``on_ground`` and ``new_leg`` as float 1/0/NaN, texts as objects, None: empty); None when none."""
        from ..ingest.sbs import join_rows, take_rows

        if self.new:
            rows = self.stream.rows(b"".join(self.new), self.parsed + 1)
            self.parsed += len(self.new)
            self.new = []
            rows = self._drop_late(rows)
            self.held = rows if self.held is None else join_rows([self.held, rows])
        if self.held is None:
            return None
        for part in (self.held.pos, self.held.vel, self.held.ident):
            if part and len(part["t"]):
                self.latest_ns = max(self.latest_ns, int(part["t"].max()))
        horizon = _MAX if final else max(_MIN, self.latest_ns - self.hold_ns)
        ready = take_rows(self.held, lambda t: t <= horizon)
        self.held = None if final else take_rows(self.held, lambda t: t > horizon)
        self.given_ns = max(self.given_ns, self.latest_ns if final else horizon)
        return self._checked(self.stream.merge_columns(ready, final=final, complete_ns=horizon if not final else _MIN))

    def _drop_late(self, rows: Any) -> Any:
        """*rows* less the positions at or before a time already given out (counted in :attr:`late`)."""
        if rows.pos and self.given_ns != _MIN:
            fresh = rows.pos["t"] > self.given_ns
            if not fresh.all():
                self.late += int((~fresh).sum())
                rows.pos = {k: v[fresh] for k, v in rows.pos.items()}
        return rows

    def _checked(self, cols: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
        """The merged positions checked as the reader checks every chunk (impossible positions,
        over-long texts, exact repeats), with the points table's other columns, in time order."""
        from ..ingest.chunks import bound_columns, kept_positions
        from ..ingest.settings import MAX_TEXT_CHARS

        if cols is None:
            return None
        keep = kept_positions(cols["lat"], cols["lon"], None, None, cols["source_line"], self.name, self.ledger)
        if not keep.all():
            cols = {k: v[keep] for k, v in cols.items()}
        bound_columns(cols, cols["source_line"], self.name, self.ledger)  # absurd numbers blanked, as the reader does
        n = len(cols["time"])
        if not n:
            return None
        cols.update(x=np.full(n, np.nan), y=np.full(n, np.nan), new_leg=np.zeros(n), source_file=np.full(n, self.name, dtype=object))
        strings = self.stream.merger.strings
        if len(strings) > self._text_count:
            if max(len(v) for v in strings[self._text_count:]) > MAX_TEXT_CHARS:
                return self._slow_checks(cols)
            self._text_count = len(strings)
        order = np.argsort(cols["time"], kind="stable")
        ts = cols["time"][order]
        if self.settings.dedupe and n > 1 and (ts[1:] == ts[:-1]).any():  # a repeat has its original's time
            return self._slow_checks(cols)
        return {k: v[order] for k, v in cols.items()}

    def _slow_checks(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """Over-long texts cut and exact repeats dropped by the reader's own table checks."""
        from ..ingest.chunks import bound_text, order_and_dedupe

        frame = points_frame(cols)
        bound_text(frame, cols["source_line"], self.stream.source, self.ledger)  # type: ignore[arg-type]
        if self.settings.dedupe:
            frame = order_and_dedupe(frame, self.ledger, True)
        frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
        return point_columns(frame) if len(frame) else None


def point_columns(points: pd.DataFrame) -> dict[str, np.ndarray]:
    """A points table as plain arrays (see :meth:`LiveSbsParser.parse_columns`)."""
    cols: dict[str, np.ndarray] = {}
    for name in points.columns:
        col = points[name]
        if name == "time":
            cols[name] = col.to_numpy(dtype="datetime64[ns]").view(np.int64)
        elif isinstance(col.dtype, pd.BooleanDtype):
            cols[name] = col.to_numpy(float, na_value=np.nan)
        elif isinstance(col.dtype, pd.StringDtype) or col.dtype == object:
            cols[name] = col.to_numpy(object, na_value=None)
        else:
            cols[name] = col.to_numpy()
    return cols


def points_frame(cols: dict[str, np.ndarray] | list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """The points table of plain arrays (see :func:`point_columns`; a list: one after the other),
    with the points table's dtypes (:data:`flightpaths.schema.POINT_COLUMNS`) for its columns."""
    from ..schema import OPTIONAL_COLUMNS, POINT_COLUMNS

    parts = cols if isinstance(cols, list) else [cols]
    dtypes = {**POINT_COLUMNS, **OPTIONAL_COLUMNS}
    data: dict[str, Any] = {}
    for name in [*(n for n in dtypes if n in parts[0]), *(n for n in parts[0] if n not in dtypes)]:
        arr = parts[0][name] if len(parts) == 1 else np.concatenate([p[name] for p in parts])
        dtype = dtypes.get(name)
        if name == "time":
            data[name] = pd.DatetimeIndex(arr.view("datetime64[ns]"), tz="UTC")
        elif dtype == "boolean":
            data[name] = pd.arrays.BooleanArray(arr == 1, np.isnan(arr.astype(float)))
        elif dtype == "string":
            data[name] = pd.array(arr, dtype="string")
        else:
            data[name] = arr
    return pd.DataFrame(data)
