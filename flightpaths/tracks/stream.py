"""Cutting a long log into windows a stretch at a time, exactly as one pass would (bounded memory)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from .clean import split_tracks
from .settings import CleanReport
from .windows import windows_with_report

__all__ = ["windows_from_chunks"]


class _Stretch:
    """What a stretch of a long log carries into the next (see :func:`windows_from_chunks`):
    the next track number of every object, and for each open track its number and where its
    window grid goes on (None: from its first drawn point)."""

    def __init__(self, track_settings: Any, window_settings: Any) -> None:
        self.track_settings, self.window_settings = track_settings, window_settings
        lengths = [pair for ws in _as_list(window_settings) for pair in ws.lengths()]
        self.longest_ns = int(max([w for w, _ in lengths], default=300.0) * 1e9)
        steps = [max(1, int(round(s * 1000))) for _, s in lengths] or [150_000]
        self.period_ns = math.lcm(*steps) * 1_000_000  # a grid start every length's grid shares
        self.gap = pd.Timedelta(seconds=float(getattr(track_settings, "gap_s", 600.0)))
        self.tail_s = max(float(getattr(track_settings, "min_duration_s", 0.0)), self.longest_ns / 1e9)
        airborne = any(bool(getattr(ws, "airborne_only", False)) for ws in _as_list(window_settings))
        self.ground: Callable[[pd.DataFrame], np.ndarray] | None = _on_ground if airborne else None
        self.next_no: dict[str, int] = {}
        self.origins: dict[str, int | None] = {}  # carried track id -> its grid start
        self.stops: dict[str, int] = {}

    def number(self, tracked: pd.DataFrame) -> pd.DataFrame:
        """*tracked* (the carry and a new chunk, split) with its tracks numbered as one pass
        over the log would: a carried track keeps its number, new ones follow on."""
        if not len(tracked):
            return tracked.drop(columns=[_CARRY], errors="ignore")
        obj = tracked["object_id"].astype(str).to_numpy(dtype=object)
        split_no = tracked["track_no"].to_numpy(dtype=np.int64)
        carried = tracked[_CARRY].to_numpy(dtype=float) if _CARRY in tracked.columns else np.full(len(tracked), np.nan)
        starts = np.flatnonzero(np.r_[True, (obj[1:] != obj[:-1]) | (split_no[1:] != split_no[:-1])])
        ends = np.r_[starts[1:], len(tracked)]
        numbers = np.empty(len(starts), dtype=np.int64)
        base: dict[str, int] = {}  # per object: its number minus split_tracks' (which counts dropped tracks too)
        for i, (a, b) in enumerate(zip(starts, ends)):  # split_tracks sorts by object, then time
            mine = carried[a:b][~np.isnan(carried[a:b])]
            o = obj[a]
            if len(mine):
                base[o] = int(mine[0]) - int(split_no[a])
            numbers[i] = int(split_no[a]) + base.get(o, self.next_no.get(o, 0))
        for o, n in zip(obj[starts], numbers):
            self.next_no[o] = max(self.next_no.get(o, 0), int(n) + 1)
        out = tracked.drop(columns=[_CARRY], errors="ignore")
        out["track_no"] = np.repeat(numbers, ends - starts)
        out["track_id"] = pd.Series(obj, index=out.index) + "_" + out["track_no"].astype(str)
        return out

    def windows(self, tracked: pd.DataFrame, report: CleanReport) -> pd.DataFrame:
        grid: dict[str, tuple[int | None, int | None]] = {tid: (t0, None) for tid, t0 in self.origins.items()}
        for tid, stop in self.stops.items():
            grid[tid] = (grid.get(tid, (None, None))[0], stop)
        windows, counts = windows_with_report(tracked, self.window_settings, grid=grid or None)
        report.merge(counts)
        return windows

    def plan(self, tracked: pd.DataFrame, t_end: pd.Timestamp | None, nxt: pd.DataFrame) -> dict[str, int | None]:
        """Where each open track's grid stops for now (set before cutting windows); returns
        the grid start each will carry. A track is open when the log has not yet gone a track
        gap past its end, or when it is its object's last and the next chunk has that object
        (a table sorted by object goes on with it)."""
        self.stops = {}
        if not len(tracked):
            return {}
        origins: dict[str, int | None] = {}
        for tid, row in self._open_spans(tracked, t_end, nxt).iterrows():
            t0 = self.origins.get(str(tid))
            if t0 is None and not pd.isna(row["drawn"]):
                t0 = _ns(row["drawn"])
            if t0 is None:  # nothing drawn yet: carry it all, its grid starts later
                self.stops[str(tid)], origins[str(tid)] = _ns(row["first"]), None
                continue
            room = _ns(row["last"]) - 2 * self.longest_ns - t0
            self.stops[str(tid)] = origins[str(tid)] = t0 + max(0, room // self.period_ns) * self.period_ns
        return origins

    def _open_spans(self, tracked: pd.DataFrame, t_end: pd.Timestamp | None, nxt: pd.DataFrame) -> pd.DataFrame:
        """Per open track (see :meth:`plan`): its object, first and last time, and its first time
        drawn (the grid starts at a track's first point that makes windows: airborne, by default)."""
        g = tracked.groupby("track_id", observed=True, sort=False)
        spans = pd.DataFrame({"object_id": g["object_id"].first().astype(str), "first": g["time"].min(),
                              "last": g["time"].max()})
        drawn = tracked if self.ground is None else tracked[~self.ground(tracked)]
        spans["drawn"] = drawn.groupby("track_id", observed=True, sort=False)["time"].min()
        reached = t_end if t_end is not None else spans["last"].max()
        latest = spans["last"] == spans.groupby("object_id")["last"].transform("max")
        going_on = spans["object_id"].isin(set(nxt["object_id"].astype(str).unique())) if len(nxt) else False
        return spans[(spans["last"] >= reached - self.gap) | (latest & going_on)]

    def carry(self, tracked: pd.DataFrame, origins: dict[str, int | None]) -> pd.DataFrame | None:
        """The points the next stretch needs: each open track from a window length before its
        stop (the points before the stop give cleaning its context), marked with its number."""
        self.origins = origins
        if not self.stops:
            return None
        stop = tracked["track_id"].astype(str).map(self.stops)
        stop_ns = stop.fillna(0).to_numpy(dtype=np.int64)
        keep = (stop.notna() & (_ns_array(tracked["time"]) >= stop_ns - self.longest_ns)).to_numpy()
        out = tracked.loc[keep, [c for c in tracked.columns if c not in ("track_id", "track_no")]].reset_index(drop=True)
        out[_CARRY] = tracked["track_no"].to_numpy(dtype=float)[keep]
        return out

    def tail(self, points: pd.DataFrame, tracked: pd.DataFrame, t_end: pd.Timestamp | None) -> pd.DataFrame:
        """Points after an object's last kept track that may start a track the next stretch
        keeps (a track too short so far is dropped by cleaning, not yet over)."""
        if not len(points) or t_end is None:
            return points.iloc[:0]
        obj = points["object_id"].astype(str)
        kept_until = tracked.groupby(tracked["object_id"].astype(str), sort=False)["time"].max() \
            if len(tracked) else pd.Series(dtype=object)
        after = obj.map(kept_until)
        recent = points["time"] >= t_end - self.gap - pd.Timedelta(seconds=self.tail_s)
        loose = recent & (after.isna() | (points["time"] > after))
        cols = [c for c in points.columns if c != _CARRY]
        return points.loc[loose.to_numpy(), cols] if loose.any() else points.iloc[:0][cols]


_CARRY = "_carried_track"  # the number of the track a carried row belongs to


def _on_ground(points: pd.DataFrame) -> np.ndarray:
    if "on_ground" not in points.columns:
        return np.zeros(len(points), dtype=bool)
    ground: np.ndarray = points["on_ground"].astype("boolean").to_numpy(dtype=bool, na_value=False)
    return ground


def _as_list(settings: Any) -> list[Any]:
    return list(settings) if isinstance(settings, (list, tuple)) else [settings]


def _ns(value: Any) -> int:
    return int(pd.Timestamp(value).value)


def _ns_array(times: pd.Series) -> np.ndarray:
    ns: np.ndarray = times.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return ns


def _count(report: CleanReport | None, cleaned: CleanReport, carry: pd.DataFrame | None) -> None:
    """Add one chunk's cleaning counts to *report*, less the carried points counted before."""
    if report is None:
        return
    again = 0 if carry is None else len(carry)
    tracks_again = 0
    if carry is not None and _CARRY in carry.columns:
        tracks_again = len(carry.loc[carry[_CARRY].notna(), ["object_id", _CARRY]].drop_duplicates())
    report.points_in += cleaned.points_in - again
    report.points_kept += cleaned.points_kept - (again if carry is None or _CARRY not in carry.columns
                                                 else int(carry[_CARRY].notna().sum()))
    report.tracks += cleaned.tracks - tracks_again
    report.tracks_dropped += cleaned.tracks_dropped
    report.reordered += cleaned.reordered
    for bucket in ("removed", "blanked", "splits"):
        for reason, n in getattr(cleaned, bucket).items():
            report.count(bucket, reason, n)


def _chunk_end_time(chunk: pd.DataFrame) -> pd.Timestamp:
    """The time the log had reached at the end of *chunk*: the latest time among its last
    lines (by line number), so that a log made of several concatenated logs is read right."""
    tail = chunk.nlargest(max(1, len(chunk) // 100), "source_line") if "source_line" in chunk else chunk
    return tail["time"].max()


def windows_from_chunks(
    chunks: Iterator[pd.DataFrame], track_settings: Any, window_settings: Any, *, report: CleanReport | None = None,
    ground_first: bool = False,
) -> Iterator[pd.DataFrame]:
    """Cut a stream of point chunks into windows exactly as one pass over all of them would.

    A track is still open at the end of a chunk when its last point is less than the track gap
    (``TrackSettings.gap_s``) before the time the log had reached (a later point could still
    extend it). With W the longest window and L an open track's last time, its window grid
    stops for now at the last grid start that every window length shares and that is at most
    ``L - 2W``: the windows before it are complete and emitted, its points from there on are
    carried into the next chunk, where the grid goes on from that start (not from the first
    carried point) and the track keeps its number. Closed tracks are emitted whole and nothing
    of them is carried, which keeps the carry small: at most about ``2W`` plus the longest
    common step of each open track. Concatenated logs (a later day before an earlier one) work
    too (``score`` removes windows found twice). *report*, when given, adds up what cleaning
    and windowing did (points carried between chunks are counted once). With *ground_first*,
    points reported on the ground are left out before tracks are split (as
    :func:`~flightpaths.tracks.windows_with_report` does with a points table, so the ``tracks``
    command's windows are those of one pass); else after (as ``score`` has always cut them).
    """
    stretch = _Stretch(track_settings, window_settings)
    carry: pd.DataFrame | None = None
    pending = next(chunks, None)
    while pending is not None:
        nxt = next(chunks, None)
        t_end = _chunk_end_time(pending) if len(pending) else None
        if ground_first and stretch.ground is not None and len(pending):
            ground = stretch.ground(pending)
            if ground.any():
                pending = pending[~ground]
                if report is not None:
                    report.points_in += int(ground.sum())
                    report.count("removed", "on ground", int(ground.sum()))
        points = pending if carry is None or carry.empty else pd.concat([carry, pending], ignore_index=True)
        pending = nxt
        if points.empty:
            continue
        split, cleaned = split_tracks(points, track_settings)
        tracked = stretch.number(split)
        _count(report, cleaned, carry)
        if nxt is None:
            stretch.stops = {}
        origins = stretch.plan(tracked, t_end, nxt) if nxt is not None else {}
        windows = stretch.windows(tracked, report if report is not None else CleanReport())
        carry = None
        if nxt is not None:
            carry = stretch.carry(tracked, origins)
            loose = stretch.tail(points, tracked, t_end)
            if len(loose):
                carry = loose if carry is None or carry.empty else pd.concat([carry, loose], ignore_index=True)
        if len(windows):
            yield windows
