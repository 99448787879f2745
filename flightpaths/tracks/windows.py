"""Cutting tracks into overlapping windows and assembling the windows table (see the package
docstring for what the figures mean)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import SettingsError
from ..fileio import id_stem
from ..runtime import gc_paused, tune_allocator
from ..schema import KT_PER_MPS
from ._arrays import _NS, _kernel, _map, _next_true
from .clean import _attach, _check_columns, _chunk, _factorize, _prepare, _prepare_tracked, _Prepared, _step_lengths
from .columns import ARRAY_COLUMNS, SCALAR_COLUMNS, empty_windows
from .figures import _figures_numpy, _point_speeds
from .settings import CleanReport, TrackSettings, WindowSettings

__all__ = ["make_windows", "windows_with_report"]


_EMPTY_F = np.empty(0, dtype=np.float64)
_EMPTY_F.setflags(write=False)
_EMPTY_S = np.empty(0, dtype="<U1")
_EMPTY_S.setflags(write=False)


def _object_column(parts: Sequence[np.ndarray]) -> np.ndarray:
    """A 1-D object array holding *parts* (numpy would stack equal-length arrays into 2-D)."""
    col = np.empty(len(parts), dtype=object)
    for i, part in enumerate(parts):
        col[i] = part
    return col


def _slices(offsets: np.ndarray, stops: np.ndarray | None = None) -> list[slice]:
    """``slice(offsets[i], offsets[i+1])`` for every i (built once, used for every column), or
    ``slice(offsets[i], stops[i])`` when *stops* is given."""
    if stops is not None:
        return list(map(slice, offsets.tolist(), stops.tolist()))
    bounds = offsets.tolist()
    return list(map(slice, bounds[:-1], bounds[1:]))


def _read_only(values: np.ndarray) -> np.ndarray:
    """A read-only view of *values*: windows that overlap share their points' speeds and
    altitudes, so no window may change them in place."""
    view = values.view()
    view.flags.writeable = False
    return view


def _split(values: np.ndarray, slices: Sequence[slice]) -> np.ndarray:
    """An object column of views ``values[s]`` for each slice (one view per window)."""
    return np.fromiter(map(values.__getitem__, slices), dtype=object, count=len(slices))


def _constant_column(value: np.ndarray, n: int) -> np.ndarray:
    """An object column whose *n* cells all hold the same (read-only) array."""
    col = np.empty(n, dtype=object)
    col.fill(value)
    return col


_MS_BITS: Final = 40  # track-relative times in ms fit in 40 bits (35 years)


def _window_ranges(prep: _Prepared, window_s: float, step_s: float, report: CleanReport) -> tuple[np.ndarray, ...]:
    """Window index ranges [lo, hi) into track order, their track and nominal start (ns)."""
    t0 = prep.t[prep.offsets[:-1]] if prep.grid_t0 is None else prep.grid_t0
    w_ms, s_ms = int(round(window_s * 1000)), max(1, int(round(step_s * 1000)))
    win_track, start_ms = _window_grid(prep.t[prep.offsets[1:] - 1] - t0, w_ms, s_ms)
    lo, hi = _point_ranges(prep, t0, win_track, start_ms, w_ms)
    nominal = t0[win_track] + start_ms * 1_000_000
    keep = _useful_windows(prep, lo, hi, win_track, nominal, report)
    return lo[keep], hi[keep], win_track[keep], nominal[keep]


def _window_grid(dur: np.ndarray, w_ms: int, s_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Each window's track and start (ms after its track's grid start), for tracks that last
    *dur* ns: windows of *w_ms* every *s_ms* until one reaches the track's end."""
    dur_ms = dur // 1_000_000
    k = np.where(dur_ms > w_ms, -(-(dur_ms - w_ms) // s_ms) + 1, 1).astype(np.int64)
    win_track = np.repeat(np.arange(len(dur)), k)
    first_win = np.concatenate([[0], np.cumsum(k)[:-1]])
    kk = np.arange(len(win_track)) - np.repeat(first_win, k)
    return win_track, kk * s_ms


def _point_ranges(prep: _Prepared, t0: np.ndarray, win_track: np.ndarray, start_ms: np.ndarray,
                  w_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Each window's point range [lo, hi) in track order; a track's last window runs to its end."""
    offsets = prep.offsets
    counts = np.diff(offsets)
    track_of_pt = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), counts)
    rel_ms = (prep.t - np.repeat(t0, counts)) // 1_000_000
    key = (track_of_pt << _MS_BITS) + rel_ms
    base = win_track.astype(np.int64) << _MS_BITS
    lo = np.searchsorted(key, base + start_ms, side="left")
    hi = np.searchsorted(key, base + start_ms + w_ms, side="left")
    last = np.append(win_track[1:] != win_track[:-1], True)
    hi[last] = offsets[1:][win_track[last]]
    return lo, hi


def _useful_windows(prep: _Prepared, lo: np.ndarray, hi: np.ndarray, win_track: np.ndarray, nominal: np.ndarray,
                    report: CleanReport) -> np.ndarray:
    """The windows to keep: not empty, not the same points as the window before, and not left for
    the next stretch of the log; the first two are counted as dropped."""
    n = hi - lo
    dup = np.zeros(len(lo), bool)
    dup[1:] = (lo[1:] == lo[:-1]) & (hi[1:] == hi[:-1]) & (win_track[1:] == win_track[:-1])
    few = (n < 1) & ~dup
    if prep.grid_stop is not None:  # windows left for the next stretch of the log: neither counted nor kept
        now = nominal < prep.grid_stop[win_track]
        few, dup = few & now, dup & now
    else:
        now = np.ones(len(lo), dtype=bool)
    report.count("windows_dropped", "no points", int(few.sum()))
    report.count("windows_dropped", "same points as the previous window", int(dup.sum()))
    keep: np.ndarray = ~dup & ~few & now
    return keep


@dataclass
class _Plan:
    """The windows of one chunk of tracks at one length, before their figures (internal)."""

    lo: np.ndarray
    hi: np.ndarray
    wtrack: np.ndarray
    nominal: np.ndarray

    @property
    def points(self) -> int:
        return int((self.hi - self.lo).sum())


def _plan_windows(prep: _Prepared, window_s: float, step_s: float, ws: WindowSettings, report: CleanReport) -> _Plan:
    """The windows of *prep* at one length with at least ``ws.min_points`` points."""
    lo, hi, wtrack, nominal = _window_ranges(prep, window_s, step_s, report)
    few = hi - lo < ws.min_points
    report.count("windows_dropped", f"fewer than {ws.min_points} points", int(few.sum()))
    return _Plan(lo[~few], hi[~few], wtrack[~few], nominal[~few])


def _windows_one(
    prep: _Prepared, window_s: float, ws: WindowSettings, report: CleanReport, plan: _Plan,
    out: np.ndarray | None = None,
) -> dict[str, Any] | None:
    """The raw columns of the windows of *prep* at one length (None when there are none).
    *plan*: its windows (:func:`_plan_windows`); *out*: a buffer for the per-point arrays (see
    :func:`._kernel.window_figures`)."""
    lo, hi = plan.lo, plan.hi
    n = hi - lo
    if len(lo) == 0:
        return None
    t_first = prep.t[lo]
    goff, pp, fig, gidx, pspeed_all = _figures(prep, lo, hi, n, ws, t_first, out)
    ev_x, ev_y, ev_kind = _events(prep, lo, gidx, goff, pp["px"], pp["py"])
    few_points = n < ws.few_points
    report.windows += len(lo)
    report.few_point_windows += int(few_points.sum())
    # Raw columns; windows_with_report builds one table from all chunks (see _assemble).
    return {
        **_id_columns(prep, plan, window_s), **_when_where(prep, plan, window_s, fig),
        **_shape_columns(fig, few_points), **_point_columns(prep, pp, pspeed_all, goff, lo, hi),
        "ev_x": ev_x, "ev_y": ev_y, "ev_kind": ev_kind,
    }


def _figures(
    prep: _Prepared, lo: np.ndarray, hi: np.ndarray, n: np.ndarray, ws: WindowSettings, t_first: np.ndarray,
    out: np.ndarray | None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None, np.ndarray]:
    """Offsets of the window points, the per-point arrays, the per-window figures, the points'
    track-order index (None from the compiled kernel) and every point's speed."""
    screen = prep.screen
    kernel = _kernel() if ws.projection != "pyproj" else None
    dist = prep.dist if prep.dist is not None else _step_lengths(prep.a, prep.b, screen)
    if kernel is None:
        dt, pspeed_all = _point_speeds(prep, dist)
        goff, pp, fig, gidx = _figures_numpy(prep, lo, hi, n, ws, dt, pspeed_all, t_first)
        return goff, pp, fig, gidx, pspeed_all
    # compiled: one pass over the points, then one over each window's points
    trig, dt, pspeed_all = kernel.point_arrays(prep.t, prep.a, prep.b, prep.speed, dist, prep.offsets,
                                               screen=screen, kt_per_mps=KT_PER_MPS)
    goff, pp, fig = kernel.window_figures(lo, hi, prep.t, trig, prep.a, prep.b, pspeed_all, prep.alt, dt,
                                          prep.line, screen=screen, min_segment_m=ws.min_segment_m, out=out)
    return goff, pp, fig, None, pspeed_all


def _id_columns(prep: _Prepared, plan: _Plan, window_s: float) -> dict[str, Any]:
    """Each window's id, object, track and callsign."""
    wtrack = plan.wtrack
    track_ids = np.array([f"{o}_{k}" for o, k in zip(prep.track_object, prep.track_no)], dtype=object)
    safe_tracks = np.array([f"{id_stem(o, what='object id')}_{k}" for o, k in zip(prep.track_object, prep.track_no)],
                           dtype=object)
    return {
        "window_id": _window_ids(safe_tracks[wtrack], plan.nominal, window_s),
        "object_id": prep.track_object[wtrack],
        "track_id": track_ids[wtrack],
        "callsign": _window_callsigns(prep, plan.lo, plan.hi, wtrack),
    }


def _when_where(prep: _Prepared, plan: _Plan, window_s: float, fig: dict[str, np.ndarray]) -> dict[str, Any]:
    """Each window's times, length, source file and lines, centroid, units and point count."""
    lo, hi = plan.lo, plan.hi
    t_first, t_last = prep.t[lo], prep.t[hi - 1]
    files = np.append(prep.files, None)
    return {
        "start": t_first,
        "end": t_last,
        "window_s": np.full(len(lo), float(window_s)),
        "source_file": files[prep.file_code[lo]],
        "line_first": fig["line_first"].astype(np.int64),
        "line_last": fig["line_last"].astype(np.int64),
        "lat": fig["lat"],
        "lon": fig["lon"],
        "units": "px" if prep.screen else "m",
        "n_points": (hi - lo).astype(np.int64),
        "duration_s": (t_last - t_first) / _NS,
    }


def _shape_columns(fig: dict[str, np.ndarray], few_points: np.ndarray) -> dict[str, np.ndarray]:
    """Each window's shape figures (path, displacement, straightness, turns, radius, extent) and
    medians (speed, altitude, sample interval)."""
    path, net = fig["path"], fig["net"]
    with np.errstate(invalid="ignore", divide="ignore"):
        straight = np.where(path > 0, np.minimum(net / np.where(path > 0, path, 1.0), 1.0), 1.0)
    return {
        "path_length_m": path,
        "net_displacement_m": net,
        "straightness": straight,
        "total_turn_deg": fig["total_turn_deg"],
        "net_turn_rev": fig["net_turn_deg"] / 360.0,
        "radius_m": fig["radius"],
        "extent_m": fig["extent"],
        "median_speed_kt": fig["median_speed"],
        "median_altitude_ft": fig["median_alt"],
        "sample_interval_s": fig["median_dt"],
        "few_points": few_points,
    }


def _point_columns(prep: _Prepared, pp: dict[str, np.ndarray], pspeed_all: np.ndarray, goff: np.ndarray,
                   lo: np.ndarray, hi: np.ndarray) -> dict[str, np.ndarray]:
    """Each window's per-point arrays, as views into the flat ones."""
    slices = _slices(goff)
    own = _slices(lo, hi)  # each window's own points, in track order
    return {
        "px": _split(pp["px"], slices),
        "py": _split(pp["py"], slices),
        "pt": _split(pp["pt"], slices),
        "pspeed": _split(_read_only(pspeed_all), own),  # speeds and altitudes: views, not copies
        "palt": _split(_read_only(prep.alt), own),
        "pturn": _split(pp["pturn"], slices),
        "pcumturn": _split(pp["pcumturn"], slices),
    }


_STRING_COLUMNS: Final = ("object_id", "track_id", "callsign", "source_file")


def _assemble(parts: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One windows table from the raw columns of every chunk (one copy per column, no
    per-chunk tables to concatenate)."""
    if not parts:
        return empty_windows()
    cols: dict[str, Any] = {name: _scalar_column(parts, name) for name in SCALAR_COLUMNS}
    for name in ARRAY_COLUMNS:
        cols[name] = _cat(parts, name)
    return pd.DataFrame(cols)


def _cat(parts: Sequence[dict[str, Any]], name: str) -> np.ndarray:
    """Raw column *name* of every chunk, end to end (the one array itself when one chunk)."""
    cols = [p[name] for p in parts]
    return cols[0] if len(cols) == 1 else np.concatenate(cols)


def _scalar_column(parts: Sequence[dict[str, Any]], name: str) -> Any:
    """Scalar column *name* of the windows table from every chunk's raw columns."""
    import pyarrow as pa

    if name == "window_id":
        ids = [p["window_id"] for p in parts]
        return pd.array(ids[0] if len(ids) == 1 else pa.concat_arrays(ids), dtype="string")
    if name in _STRING_COLUMNS:
        return pd.array(_cat(parts, name), dtype="string")
    if name in ("start", "end"):
        return pd.DatetimeIndex(_cat(parts, name).view("datetime64[ns]")).tz_localize("UTC")
    if name == "units":
        units = np.array([p["units"] for p in parts], dtype=object)
        return pd.array(np.repeat(units, [len(p["n_points"]) for p in parts]), dtype="string")
    return _cat(parts, name)


def _window_ids(tracks: np.ndarray, nominal_ns: np.ndarray, window_s: float) -> Any:
    """``{track}_{start:%Y%m%dT%H%M%S}_{window_s}s`` for every window (vectorized with Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    label = f"{int(window_s)}s" if float(window_s).is_integer() else f"{window_s:g}s".replace(".", "p")
    iso = pa.array(np.datetime_as_string(nominal_ns.astype("datetime64[ns]"), unit="s"))  # 2024-06-01T08:00:00
    text = pc.replace_substring(pc.replace_substring(iso, "-", ""), ":", "")  # (Arrow's strftime is slower)
    return pc.binary_join_element_wise(pa.array(tracks, pa.string()), text, pa.scalar(label), "_")


def _window_callsigns(prep: _Prepared, lo: np.ndarray, hi: np.ndarray, wtrack: np.ndarray) -> np.ndarray:
    """The first callsign inside each window, else the track's first, else None."""
    nw = len(lo)
    codes = prep.call_code
    if codes is None or not len(codes) or not (codes >= 0).any():
        return np.full(nw, None, dtype=object)
    nxt = _next_true(codes >= 0)
    m = len(codes)
    first = nxt[lo]
    track_first = nxt[np.minimum(prep.offsets[:-1][wtrack], m - 1)]
    track_end = prep.offsets[1:][wtrack]
    pick = np.where(first < hi, first, np.where(track_first < track_end, track_first, -1))
    out = np.full(nw, None, dtype=object)
    has = pick >= 0
    out[has] = prep.calls[codes[pick[has]]]
    return out


def _events(
    prep: _Prepared, lo: np.ndarray, gidx: np.ndarray | None, goff: np.ndarray, px: np.ndarray, py: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Click events per window (screen tracks), in the window's frame; empty arrays otherwise.
    *gidx*: the track-order index of each window point (built here from *lo* when None)."""
    nw = len(goff) - 1
    if prep.clicks is None or not prep.clicks.any():
        return _constant_column(_EMPTY_F, nw), _constant_column(_EMPTY_F, nw), _constant_column(_EMPTY_S, nw)
    if gidx is None:
        gidx = np.repeat(lo - goff[:-1], np.diff(goff)) + np.arange(int(goff[-1]))
    gclick = prep.clicks[gidx]
    counts = np.add.reduceat(gclick.astype(np.int64), goff[:-1])
    eoff = np.concatenate([[0], np.cumsum(counts)])
    kinds = np.asarray(prep.kinds[gidx][gclick], dtype=str)
    sl = _slices(eoff)
    return _split(px[gclick], sl), _split(py[gclick], sl), _split(kinds, sl)


def _settings_list(settings: WindowSettings | Sequence[WindowSettings] | None) -> list[WindowSettings]:
    if settings is None:
        return [WindowSettings()]
    if isinstance(settings, WindowSettings):
        return [settings]
    out = list(settings)
    if not out or not all(isinstance(s, WindowSettings) for s in out):
        raise SettingsError("window settings must be a WindowSettings or a non-empty list of them")
    return out


def windows_with_report(
    points: pd.DataFrame,
    settings: WindowSettings | Sequence[WindowSettings] | None = None,
    *,
    tracks: TrackSettings | None = None,
    workers: int | None = None,
    chunk_points: int = 100_000,
    grid: Mapping[str, tuple[int | None, int | None]] | None = None,
) -> tuple[pd.DataFrame, CleanReport]:
    """Windows of *points* and a report of everything cleaned, split and dropped on the way.

    *points* is a points table (cleaned and split here with *tracks*) or the output of
    :func:`split_tracks` (has ``track_id``; used as it is). *settings* may hold several window
    lengths, or be a list of settings; the result then has one row per window per length,
    ordered by length, track and start.

    Tracks are processed in chunks of about *chunk_points* points, which bounds the memory of
    the intermediate arrays, on *workers* threads (numpy releases the GIL; default: the number
    of CPUs, at most 8); cleaning uses them too, for its gathers, filters and step lengths, and
    the string columns are factorized beside it. The result does not depend on either (beyond rounding: centroid sums
    run over a chunk, so coordinates may differ in the ninth decimal of a metre). Python's
    garbage collector is paused meanwhile (see :func:`.runtime.gc_paused`).

    *grid* is for cutting a long log a stretch at a time (``score`` does): for a track id, the
    time (ns since the epoch) its window grid starts at, instead of its first point (points
    before it are in no window), and the
    time from which its windows are left for the next stretch (None: no limit), so that every
    window is cut exactly where one pass over the whole log would cut it.
    """
    with gc_paused():  # hundreds of thousands of array views: no full collections meanwhile
        return _windows_with_report(points, settings, tracks, workers, chunk_points, grid)


def _windows_with_report(
    points: pd.DataFrame,
    settings: WindowSettings | Sequence[WindowSettings] | None,
    tracks: TrackSettings | None,
    workers: int | None,
    chunk_points: int,
    grid: Mapping[str, tuple[int | None, int | None]] | None = None,
) -> tuple[pd.DataFrame, CleanReport]:
    """The work of :func:`windows_with_report`, with the garbage collector paused."""
    report = CleanReport()
    _check_columns(points)
    tune_allocator()  # per-chunk temporaries reuse freed memory instead of faulting in fresh pages
    n_threads = workers or min(os.cpu_count() or 1, 8)
    prep = _prepared(points, _settings_list(settings), tracks, n_threads, report)
    if prep is None:
        return empty_windows(), report
    if grid:
        _set_grid(prep, grid)
    jobs = _jobs(_settings_list(settings), _chunk_bounds(prep.offsets, chunk_points))
    results = _run_jobs(prep, jobs, min(len(jobs), n_threads))
    for _, part in results:
        report.merge(part)
    return _assemble([cols for cols, _ in results if cols is not None]), report


_Job = tuple[WindowSettings, float, float, int, int]  # settings, window and step length, first and end track


def _jobs(settings: list[WindowSettings], bounds: list[int]) -> list[_Job]:
    """One job per window length and chunk of tracks (between *bounds*), ordered by length."""
    return [
        (ws, window_s, step_s, first, last)
        for ws in settings
        for window_s, step_s in ws.lengths()
        for first, last in zip(bounds[:-1], bounds[1:])
    ]


def _prepared(points: pd.DataFrame, settings: list[WindowSettings], tracks: TrackSettings | None, n_threads: int,
              report: CleanReport) -> _Prepared | None:
    """*points* cleaned and split into tracks (or used as split), in track order, with their string
    columns; None when no point is left."""
    ground = _ground_mask(points, settings)
    with ThreadPoolExecutor(max_workers=2) as side:
        # the string columns are factorized beside the cleaning and sorting (Arrow drops the GIL)
        factorized = {name: side.submit(_factorize, points, name) for name in ("source_file", "callsign")} \
            if n_threads > 1 and len(points) >= 200_000 else {}
        if "track_id" in points.columns:
            if ground is not None:  # already tracked: a filtered copy (rare; tracks stay as split)
                factorized = {}
                points = points[~ground]
            prep = _prepare_tracked(points, report)
            if ground is not None:
                report.points_in += int(ground.sum())
                report.count("removed", "on ground", int(ground.sum()))
        else:
            prep = _prepare(points, tracks or TrackSettings(), report, n_threads, ground)
        if not len(prep.t):
            return None
        _attach(prep, factorized)
    return prep


def _run_jobs(prep: _Prepared, jobs: list[_Job], n_workers: int) -> list[tuple[dict[str, Any] | None, CleanReport]]:
    """The raw columns and report of every job: its windows planned, then their figures computed."""

    def plan(job: _Job) -> tuple[_Plan, CleanReport]:
        ws, window_s, step_s, first, last = job
        part = CleanReport()
        return _plan_windows(_chunk(prep, first, last), window_s, step_s, ws, part), part

    plans = _map(plan, jobs, n_workers)
    # One buffer for every window's per-point arrays: a single large allocation, which the OS
    # backs with huge pages where it can (5x fewer page-fault costs than many chunk-sized ones).
    sizes = [p.points for p, _ in plans]
    bases = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    kernel = _kernel()
    flat = np.empty((len(kernel.PER_POINT), int(bases[-1]))) if kernel is not None else None

    def run(k: int) -> tuple[dict[str, Any] | None, CleanReport]:
        ws, window_s, _step_s, first, last = jobs[k]
        part = plans[k][1]
        out = None if flat is None else flat[:, bases[k]:bases[k + 1]]
        return _windows_one(_chunk(prep, first, last), window_s, ws, part, plans[k][0], out), part

    return _map(run, list(range(len(jobs))), n_workers)


def _set_grid(prep: _Prepared, grid: Mapping[str, tuple[int | None, int | None]]) -> None:
    """Each track's grid start and stop from *grid* (by track id; see :func:`windows_with_report`)."""
    first = prep.t[prep.offsets[:-1]]
    t0 = first.copy()
    stop = np.full(len(first), np.iinfo(np.int64).max, dtype=np.int64)
    for i, (obj, no) in enumerate(zip(prep.track_object, prep.track_no)):
        start, end = grid.get(f"{obj}_{no}", (None, None))
        if start is not None:  # points before it are context only (a stretch's carry)
            t0[i] = int(start)
        if end is not None:
            stop[i] = int(end)
    prep.grid_t0, prep.grid_stop = t0, stop


def _ground_mask(points: pd.DataFrame, settings: list[WindowSettings]) -> np.ndarray | None:
    """Rows of *points* reported on the ground, when the settings ask for airborne points only
    and there are any (else None)."""
    wanted = {bool(ws.airborne_only) for ws in settings}
    if len(wanted) > 1:
        raise SettingsError("window settings disagree on airborne_only; use one value for all lengths")
    if not wanted.pop() or "on_ground" not in points.columns or not len(points):
        return None
    col = points["on_ground"]
    if col.dtype == bool:
        ground = col.to_numpy()
    else:
        ground = col.astype("boolean").to_numpy(dtype=bool, na_value=False)
    return ground if ground.any() else None


def _chunk_bounds(offsets: np.ndarray, chunk_points: int) -> list[int]:
    """Track indices that cut the tracks into runs of about *chunk_points* points."""
    ntr = len(offsets) - 1
    if chunk_points <= 0 or offsets[-1] <= chunk_points:
        return [0, ntr]
    marks = np.arange(chunk_points, int(offsets[-1]), chunk_points)
    cuts = np.unique(np.searchsorted(offsets[1:], marks, side="left") + 1)
    cuts = cuts[(cuts > 0) & (cuts < ntr)]
    return [0, *cuts.tolist(), ntr]


def make_windows(
    points: pd.DataFrame,
    settings: WindowSettings | Sequence[WindowSettings] | None = None,
    *,
    tracks: TrackSettings | None = None,
    grid: Mapping[str, tuple[int | None, int | None]] | None = None,
) -> pd.DataFrame:
    """The windows table of *points* (see :func:`windows_with_report`, which also gives counts)."""
    return windows_with_report(points, settings, tracks=tracks, grid=grid)[0]
