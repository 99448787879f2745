"""SBS-1 lines from a live feed -> points, batch by batch, with the library's own SBS reader.

A position (``MSG,3``) and its velocity (``MSG,4``) arrive as separate lines, and the reader
joins them by time. A batch boundary must not part them, so each batch's last seconds
(:attr:`LiveSbsParser.hold_s`) are held back: their lines are parsed again with the next batch
and their points are given out then. Callsigns carry forward per aircraft across batches.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["LiveSbsParser"]

_NS = 1_000_000_000


def _tmp_dir() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class LiveSbsParser:
    """Turn SBS lines into points a batch at a time (see the module docstring).

    ``feed(lines)`` stores lines (bytes, each ending with a newline or not); ``parse()`` reads
    what is stored and returns the points that are final: those at least ``hold_s`` seconds
    older than the latest time seen (all of them with ``final=True``). ``source_line`` counts
    lines of the whole feed (1-based); ``source_file`` is *name*. Dropped rows are counted by
    reason in :attr:`dropped` (a line in the held-back seconds is counted once per parse).
    """

    def __init__(self, *, name: str = "feed", tz: str = "UTC", hold_s: float = 5.0, merge_tolerance_s: float = 2.0) -> None:
        from ..ingest import IngestSettings

        self.name = name
        self.settings = IngestSettings(fmt="sbs", tz=tz, merge_tolerance_s=merge_tolerance_s)
        self.hold_ns = int(hold_s * _NS)
        self.tol_ns = int(merge_tolerance_s * _NS)
        self.carry: list[bytes] = []
        self.carry_first = 1  # feed line number of carry[0]
        self.new: list[bytes] = []
        self.lines = 0  # lines fed so far
        self.given_ns = np.iinfo(np.int64).min  # points at or before this time were given out
        self.latest_ns = np.iinfo(np.int64).min
        self.late = 0  # points older than what was already given out (dropped, counted)
        self.dropped: Counter[str] = Counter()
        self.callsigns: dict[str, str] = {}
        self._dir = tempfile.TemporaryDirectory(prefix="flightpaths-watch-", dir=_tmp_dir())

    def close(self) -> None:
        """Remove the temporary folder."""
        self._dir.cleanup()

    def feed(self, lines: list[bytes]) -> None:
        """Store *lines* for the next :meth:`parse`."""
        self.new.extend(ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines)
        self.lines += len(lines)

    @property
    def pending(self) -> int:
        """Lines stored and not yet parsed."""
        return len(self.new)

    def parse(self, *, final: bool = False) -> pd.DataFrame:
        """The points that are final now (see the class docstring); may be empty."""
        from ..ingest import read_logs

        data = self.carry + self.new
        first = self.carry_first
        n_old = len(self.carry)
        self.new = []
        if not data:
            self.carry = []
            return pd.DataFrame()
        path = Path(self._dir.name) / "batch.sbs"
        path.write_bytes(b"".join(data))
        result = read_logs([path], settings=self.settings)
        for reason, n in result.report.dropped.items():
            self.dropped[reason] += int(n)
        points = result.points
        if points.empty:
            self.carry, self.carry_first = [], first + len(data)
            return points
        t = points["time"].astype("datetime64[ns, UTC]").astype("int64").to_numpy()
        self.latest_ns = max(self.latest_ns, int(t.max()))
        horizon = np.iinfo(np.int64).max if final else self.latest_ns - self.hold_ns
        lines = points["source_line"].to_numpy(np.int64)
        if final:
            self.carry, self.carry_first = [], first + len(data)
        else:
            later = t > horizon - 2 * self.tol_ns
            cut = int(lines[later].min()) - 1 if later.any() else len(data)  # 0-based index in data
            self.carry, self.carry_first = data[cut:], first + cut
        out_mask = (t > self.given_ns) & (t <= horizon)
        self.late += int(((t <= self.given_ns) & (lines > n_old)).sum())
        if not final:
            self.given_ns = max(self.given_ns, horizon)
        out = points.loc[out_mask].copy()
        out["source_line"] = out["source_line"].astype("int64") + (first - 1)
        out["source_file"] = pd.array([self.name] * len(out), dtype="string")
        out = self._fill_callsigns(out)
        return out.sort_values(["time", "object_id"], kind="stable").reset_index(drop=True)

    def _fill_callsigns(self, points: pd.DataFrame) -> pd.DataFrame:
        """Empty callsigns get the aircraft's latest one from earlier batches; remember the latest."""
        if points.empty or "callsign" not in points:
            return points
        calls = points["callsign"]
        missing = calls.isna()
        if missing.any() and self.callsigns:
            filled = points.loc[missing, "object_id"].astype(str).map(self.callsigns)
            points.loc[missing, "callsign"] = filled.astype("string")
        have = points.loc[points["callsign"].notna(), ["object_id", "callsign"]]
        if len(have):
            last = have.groupby(have["object_id"].astype(str), sort=False)["callsign"].last()
            self.callsigns.update({str(k): str(v) for k, v in last.items()})
        return points
