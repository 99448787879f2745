"""The aircraft's own points around each possible episode, kept while scoring streams a log.

Scoring keeps point arrays only for windows that may join an episode (64 points each, for the
thumbnails). A reporter's map needs the real path: the points of the episode's span plus a
margin before and after. :class:`PathKeeper` sees the scored windows of one input, chunk by
chunk, and holds per aircraft only

- the points of the last ``margin_s`` behind the latest window it has seen (a later window may
  still be a candidate and want them as its "before"), and
- the points within ``margin_s`` of a candidate window (one whose probability reaches the
  threshold), each stretch thinned evenly in time to at most ``2 * points_max`` points,

so memory grows with the candidate stretches, never with the log. Points come from the shortest
windows' own arrays (local metres about each window's centre, projected back to lat/lon), so they
are the cleaned points the model saw. :func:`path_table` is what is kept, one row a point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..tracks import inverse_local_aeqd

__all__ = ["PATH_COLUMNS", "PATH_MARGIN_S", "PathKeeper", "empty_paths", "path_between", "paths_by_object", "thin_evenly"]

#: Default seconds of an aircraft's path kept and mapped before and after a possible episode.
PATH_MARGIN_S = 600.0
#: Columns of the kept-points table: object, time (seconds since the epoch, UTC), position.
PATH_COLUMNS = ("object_id", "t", "lat", "lon")

_Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def empty_paths() -> pd.DataFrame:
    """A kept-points table with no rows."""
    return pd.DataFrame({"object_id": pd.Series(dtype="string"), "t": pd.Series(dtype=float),
                         "lat": pd.Series(dtype=float), "lon": pd.Series(dtype=float)})


def thin_evenly(n: int, cap: int) -> np.ndarray:
    """Indices of at most *cap* of *n* items, evenly spaced, first and last kept.

    >>> thin_evenly(5, 3).tolist()
    [0, 2, 4]
    >>> thin_evenly(2, 3).tolist()
    [0, 1]
    """
    if n <= cap:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max(cap, 2)).round().astype(np.int64))


def _bin_thin(t: np.ndarray, step: float) -> np.ndarray:
    """Indices of the first point in each *step*-second bin of time-sorted *t* (all when 0)."""
    if step <= 0 or len(t) == 0:
        return np.arange(len(t))
    return np.unique(np.floor(t / step), return_index=True)[1]


@dataclass
class _Run:
    """One kept stretch of an aircraft's path: the union of candidate spans with their margins."""

    lo: float
    hi: float
    t: np.ndarray = field(default_factory=lambda: np.empty(0))
    lat: np.ndarray = field(default_factory=lambda: np.empty(0))
    lon: np.ndarray = field(default_factory=lambda: np.empty(0))
    step: float = 0.0  # seconds: at most one point per step-wide bin

    def add(self, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, cap: int) -> None:
        """Take points (any order), keep the run time-sorted, one point a time, and thin it to
        at most ``2 * cap`` points by doubling its time step when it grows past that."""
        t, lat, lon = np.concatenate([self.t, t]), np.concatenate([self.lat, lat]), np.concatenate([self.lon, lon])
        t, first = np.unique(t, return_index=True)
        lat, lon = lat[first], lon[first]
        while True:
            keep = _bin_thin(t, self.step)
            t, lat, lon = t[keep], lat[keep], lon[keep]
            if len(t) <= 2 * cap:
                break
            self.step = max(2 * self.step, (t[-1] - t[0]) / cap)
        self.t, self.lat, self.lon = t, lat, lon


def _merge_runs(runs: list[_Run], lo: float, hi: float, cap: int) -> list[_Run]:
    """*runs* (sorted, disjoint) with the span [lo, hi] added: overlapping runs become one."""
    touching = [r for r in runs if r.lo <= hi and lo <= r.hi]
    if not touching:
        return sorted([*runs, _Run(lo, hi)], key=lambda r: r.lo)
    merged = _Run(min(lo, *(r.lo for r in touching)), max(hi, *(r.hi for r in touching)),
                  step=max(r.step for r in touching))
    merged.add(np.concatenate([r.t for r in touching]), np.concatenate([r.lat for r in touching]),
               np.concatenate([r.lon for r in touching]), cap)
    return sorted([r for r in runs if r not in touching] + [merged], key=lambda r: r.lo)


def _window_points(windows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Object index (into ``windows`` rows), time, lat and lon of every point of *windows*."""
    counts = np.array([len(a) if isinstance(a, np.ndarray | list | tuple) else 0 for a in windows["px"]], dtype=np.int64)
    rows = np.flatnonzero(counts)
    if not len(rows):
        return np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0)
    px, py, pt = (windows[c].to_numpy(dtype=object) for c in ("px", "py", "pt"))
    x = np.concatenate([np.asarray(px[i], float) for i in rows])
    y = np.concatenate([np.asarray(py[i], float) for i in rows])
    rel = np.concatenate([np.asarray(pt[i], float) for i in rows])
    n = counts[rows]
    start = pd.to_datetime(windows["start"], utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64)[rows] / 1e9
    t = np.round(rel + np.repeat(start, n), 3)  # to the millisecond: a point two windows share is one point
    lat, lon = inverse_local_aeqd(x, y, np.repeat(windows["lat"].to_numpy(float)[rows], n),
                                  np.repeat(windows["lon"].to_numpy(float)[rows], n))
    return np.repeat(rows, n), t, lat, lon


class PathKeeper:
    """Keeps each aircraft's points within *margin_s* of its candidate windows, while an input's
    windows stream by (see the module docstring). *lengths*: the model's (window, step) pairs in
    seconds; the shortest windows carry every point, and an aircraft with no window for twice
    the longest window plus a step is done with what it waited for (a log read in time order
    cannot bring it an earlier window)."""

    def __init__(self, *, margin_s: float = PATH_MARGIN_S, points_max: int = 4000,
                 lengths: Sequence[tuple[float, float]] = ()) -> None:
        self.margin_s = float(margin_s)
        self.points_max = int(points_max)
        self.window_s = min(w for w, _ in lengths) if lengths else None
        self.horizon_s = 2 * max(w for w, _ in lengths) + max(s for _, s in lengths) if lengths else 7200.0
        self._buffer: dict[str, _Arrays] = {}
        self._runs: dict[str, list[_Run]] = {}
        self._seen: dict[str, float] = {}  # latest point time taken, per object
        self._floor: dict[str, float] = {}  # latest window start seen: later windows start after it

    def add(self, windows: pd.DataFrame, candidate: np.ndarray) -> None:
        """Take one batch of scored windows (with their ``px``/``py``/``pt`` arrays); *candidate*
        marks the rows that may join an episode."""
        need = {"object_id", "start", "end", "lat", "lon", "px", "py", "pt"}
        if windows.empty or not need <= set(windows.columns):
            return
        geo = np.isfinite(windows["lat"].to_numpy(float)) & np.isfinite(windows["lon"].to_numpy(float))
        if not geo.any():
            return
        windows, candidate = windows[geo], np.asarray(candidate, bool)[geo]
        objects = windows["object_id"].astype(str).to_numpy()
        new_points = self._take_points(windows, objects)
        touched = set(new_points)
        starts = pd.to_datetime(windows["start"], utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
        ends = pd.to_datetime(windows["end"], utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
        for obj, s in zip(objects, starts):
            if s > self._floor.get(obj, -np.inf):
                self._floor[obj] = s
        for obj, s, e in zip(objects[candidate], starts[candidate], ends[candidate]):
            self._runs[obj] = _merge_runs(self._runs.get(obj, []), s - self.margin_s, e + self.margin_s, self.points_max)
            touched.add(obj)
        for obj in touched:
            self._settle(obj, new_points.get(obj))
        self._forget_stale(float(starts.max()) - self.horizon_s - self.margin_s, touched)

    def _forget_stale(self, before: float, touched: set[str]) -> None:
        """Drop waiting points older than *before* of aircraft this batch did not touch."""
        for obj in [o for o in self._buffer if o not in touched]:
            t, lat, lon = self._buffer[obj]
            keep = t >= before
            if not keep.any():
                del self._buffer[obj]
            elif not keep.all():
                self._buffer[obj] = (t[keep], lat[keep], lon[keep])

    def _take_points(self, windows: pd.DataFrame, objects: np.ndarray) -> dict[str, _Arrays]:
        """The points of the shortest windows not taken before, per object, time-sorted."""
        lengths = windows["window_s"].to_numpy(float) if "window_s" in windows else np.zeros(len(windows))
        shortest = self.window_s if self.window_s is not None else float(np.nanmin(lengths))
        rows = np.isclose(lengths, shortest) if "window_s" in windows else np.ones(len(windows), bool)
        idx, t, lat, lon = _window_points(windows[rows])
        obj = objects[rows][idx]
        ok = np.isfinite(t) & np.isfinite(lat) & np.isfinite(lon)
        obj, t, lat, lon = obj[ok], t[ok], lat[ok], lon[ok]
        order = np.lexsort((t, obj))
        obj, t, lat, lon = obj[order], t[order], lat[order], lon[order]
        out: dict[str, _Arrays] = {}
        bounds = np.flatnonzero(np.r_[True, obj[1:] != obj[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:]):
            key = str(obj[a])
            tt, first = np.unique(t[a:b], return_index=True)
            new = tt > self._seen.get(key, -np.inf)  # windows overlap: each point once
            if new.any():
                out[key] = (tt[new], lat[a:b][first][new], lon[a:b][first][new])
                self._seen[key] = float(tt[new][-1])
        return out

    def _settle(self, obj: str, new: _Arrays | None) -> None:
        """Move the object's waiting points into its runs; forget those no later window can want."""
        waiting = self._buffer.pop(obj, None)
        parts = [p for p in (waiting, new) if p is not None]
        if not parts:
            return
        t, lat, lon = (np.concatenate([p[i] for p in parts]) for i in range(3))
        taken = np.zeros(len(t), bool)
        for run in self._runs.get(obj, []):
            inside = (t >= run.lo) & (t <= run.hi) & ~taken
            if inside.any():
                run.add(t[inside], lat[inside], lon[inside], self.points_max)
                taken |= inside
        wait = ~taken & (t >= self._floor.get(obj, -np.inf) - self.margin_s)
        if wait.any():
            self._buffer[obj] = (t[wait], lat[wait], lon[wait])

    def table(self) -> pd.DataFrame:
        """The kept points, one row each (:data:`PATH_COLUMNS`), by object and time."""
        frames = [
            pd.DataFrame({"object_id": obj, "t": r.t, "lat": r.lat, "lon": r.lon})
            for obj, runs in sorted(self._runs.items()) for r in runs if len(r.t)
        ]
        if not frames:
            return empty_paths()
        out = pd.concat(frames, ignore_index=True)
        out["object_id"] = out["object_id"].astype("string")
        return out

    @property
    def n_points(self) -> int:
        """Points held now (kept and waiting): what bounds this keeper's memory."""
        kept = sum(len(r.t) for runs in self._runs.values() for r in runs)
        return kept + sum(len(b[0]) for b in self._buffer.values())


def paths_by_object(paths: pd.DataFrame | None) -> dict[str, _Arrays]:
    """Kept points (of one or many inputs) per object: time-sorted ``(t, lat, lon)``, each time once."""
    if paths is None or paths.empty:
        return {}
    out: dict[str, _Arrays] = {}
    for obj, g in paths.groupby(paths["object_id"].astype(str), sort=False):
        t, first = np.unique(g["t"].to_numpy(float), return_index=True)
        out[str(obj)] = (t, g["lat"].to_numpy(float)[first], g["lon"].to_numpy(float)[first])
    return out


def path_between(path: _Arrays, lo: float, hi: float, cap: int) -> _Arrays:
    """The points of *path* with ``lo <= t <= hi``, at most *cap* of them, evenly spaced."""
    t, lat, lon = path
    a, b = np.searchsorted(t, lo, side="left"), np.searchsorted(t, hi, side="right")
    keep = a + thin_evenly(int(b - a), cap)
    return t[keep], lat[keep], lon[keep]
