"""Cleaning points and cutting them into tracks: spikes, impossible jumps, gaps, new legs."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SchemaError
from ..schema import KT_PER_MPS, POINT_COLUMNS
from ._arrays import _NS, _float, _kernel, _map, _parts, _prev_true, _time_ns, _wrap180
from .projection import _WGS84_A, _WGS84_E2
from .settings import CleanReport, TrackSettings

__all__ = ["split_tracks"]


@dataclass
class _Prepared:
    """Clean points in track order as plain arrays (internal)."""

    frame: pd.DataFrame  # the caller's table (rows addressed by ``order``)
    order: np.ndarray  # row positions of kept points, sorted by track then time
    offsets: np.ndarray  # track boundaries into ``order`` (n_tracks + 1)
    track_object: np.ndarray  # object_id per track (object array of str)
    track_no: np.ndarray  # number of the track within its object
    screen: bool
    t: np.ndarray  # int64 ns
    a: np.ndarray  # lat (geo) or x (screen)
    b: np.ndarray  # lon (geo) or y (screen)
    speed: np.ndarray  # reported speed, kt (NaN when absent) — blanked values removed
    alt: np.ndarray
    dist: np.ndarray | None = None  # length of the step into each point (any value at track starts)
    # per-point attributes in track order, filled by _attach (codes into small tables)
    line: np.ndarray | None = None  # source_line as float (NaN when unknown)
    file_code: np.ndarray | None = None
    files: np.ndarray | None = None
    call_code: np.ndarray | None = None  # -1 where no callsign
    calls: np.ndarray | None = None
    clicks: np.ndarray | None = None  # screen tracks: state == "Pressed"
    kinds: np.ndarray | None = None  # screen tracks: button, lowercased
    # per track, when windows are cut a stretch at a time (see windows_with_report's grid)
    grid_t0: np.ndarray | None = None  # int64 ns where the track's window grid starts (its first point if None)
    grid_stop: np.ndarray | None = None  # int64 ns: only windows starting before it (no limit if None)


_Factorized = tuple[np.ndarray, np.ndarray] | None


def _factorize(frame: pd.DataFrame, name: str) -> _Factorized:
    """Codes per row of column *name* (-1 for missing) and its distinct values (None when the
    column is absent)."""
    if name not in frame.columns:
        return None
    codes, uniques = pd.factorize(frame[name].astype("string"))
    if len(uniques) < 2**31 - 1:  # codes only index the distinct values: 4 bytes a row do
        codes = codes.astype(np.int32)
    return codes, np.asarray(uniques.astype(object), dtype=object)


def _codes(
    frame: pd.DataFrame, name: str, order: np.ndarray, *, clean: bool = False,
    factorized: Future[_Factorized] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Factorized column *name* in track order: codes (-1 for missing) and the distinct values.
    *factorized*: :func:`_factorize` of the column, started before on another thread."""
    found = _factorize(frame, name) if factorized is None else factorized.result()
    if found is None:
        return np.full(len(order), -1, dtype=np.int64), np.empty(0, dtype=object)
    codes, values = found
    codes = codes[order]
    if clean and len(values):  # blank strings count as missing
        blank = np.array([str(v).strip() == "" for v in values] + [True])
        codes = np.where(blank[codes], -1, codes)
    return codes, values


def _attach(prep: _Prepared, factorized: dict[str, Future[_Factorized]] | None = None) -> _Prepared:
    """Fill the per-point attribute arrays of *prep* once (cheap: factorized strings).
    *factorized*: column name to a future of :func:`_factorize`, when started early."""
    frame, order = prep.frame, prep.order
    factorized = factorized or {}
    if "source_line" in frame.columns:
        prep.line = frame["source_line"].to_numpy(dtype=np.float64, na_value=np.nan)[order]
    else:
        prep.line = np.full(len(order), np.nan)
    prep.file_code, prep.files = _codes(frame, "source_file", order, factorized=factorized.get("source_file"))
    prep.call_code, prep.calls = _codes(frame, "callsign", order, clean=True, factorized=factorized.get("callsign"))
    if prep.screen and "state" in frame.columns:
        prep.clicks = _click_mask(frame)[order]
        if "button" in frame.columns:
            codes, values = _codes(frame, "button", order)
            lowered = np.array([str(v).lower() for v in values] + ["unknown"], dtype=object)
            prep.kinds = lowered[codes]
        else:
            prep.kinds = np.full(len(order), "click", dtype=object)
    return prep


def _chunk(prep: _Prepared, first: int, last: int) -> _Prepared:
    """The tracks ``first .. last-1`` of *prep* as their own :class:`_Prepared` (views)."""
    a, b = int(prep.offsets[first]), int(prep.offsets[last])
    sl = slice(a, b)

    def cut(v: np.ndarray | None) -> np.ndarray | None:
        return None if v is None else v[sl]

    return _Prepared(
        frame=prep.frame, order=prep.order[sl], offsets=prep.offsets[first : last + 1] - a,
        track_object=prep.track_object[first:last], track_no=prep.track_no[first:last], screen=prep.screen,
        t=prep.t[sl], a=prep.a[sl], b=prep.b[sl], speed=prep.speed[sl], alt=prep.alt[sl], dist=cut(prep.dist),
        line=cut(prep.line), file_code=cut(prep.file_code), files=prep.files, call_code=cut(prep.call_code),
        calls=prep.calls, clicks=cut(prep.clicks), kinds=cut(prep.kinds),
        grid_t0=None if prep.grid_t0 is None else prep.grid_t0[first:last],
        grid_stop=None if prep.grid_stop is None else prep.grid_stop[first:last],
    )


def _check_columns(points: pd.DataFrame) -> None:
    if not isinstance(points, pd.DataFrame):
        raise SchemaError(f"expected a points table (pandas DataFrame), got {type(points).__name__}")
    need = ["object_id", "time"]
    missing = [c for c in need if c not in points.columns]
    has_geo = "lat" in points.columns and "lon" in points.columns
    has_xy = "x" in points.columns and "y" in points.columns
    if not (has_geo or has_xy):
        missing.append("lat/lon or x/y")
    if missing:
        raise SchemaError(
            f"points table lacks column(s) {', '.join(missing)}; expected the columns "
            f"{', '.join(POINT_COLUMNS)}"
        )


def _is_screen(frame: pd.DataFrame) -> bool:
    lat = _float(frame, "lat")
    x = _float(frame, "x")
    return bool(len(frame)) and not np.isfinite(lat).any() and bool(np.isfinite(x).any())


def _step_lengths(a: np.ndarray, b: np.ndarray, screen: bool, workers: int = 1) -> np.ndarray:
    """:func:`_step_lengths_one` in blocks on *workers* threads (elementwise: the same bits).

    >>> a, b = np.linspace(59.0, 61.0, 300_001), np.linspace(179.0, 181.0, 300_001) % 360 - 180
    >>> bool(np.array_equal(_step_lengths(a, b, False, 2), _step_lengths_one(a, b, False), equal_nan=True))
    True
    """
    parts = _parts(len(a))
    if len(parts) == 1:
        return _step_lengths_one(a, b, screen)
    dist = np.empty(len(a))

    def one(part: tuple[int, int]) -> None:
        lo, hi = part
        first = max(lo - 1, 0)  # the step into lo starts at lo - 1
        dist[lo:hi] = _step_lengths_one(a[first:hi], b[first:hi], screen)[lo - first:]

    _map(one, parts, workers)
    return dist


def _step_lengths_one(a: np.ndarray, b: np.ndarray, screen: bool) -> np.ndarray:
    """Length (m, or px for screen tracks) of each step i-1 -> i; element 0 is NaN.

    Geographic steps use the WGS84 radii of curvature at the step's mean latitude on a local
    plane (exact to well under 0.1% for steps below 100 km); one trig call per point.
    Callers mask steps that cross a track boundary.
    """
    n = len(a)
    kernel = _kernel()
    if kernel is not None:  # compiled: the same formulas, one pass, no temporaries
        return kernel.step_lengths(a, b, screen)
    dist = np.full(n, np.nan)
    if n < 2:
        return dist
    if screen:
        dist[1:] = np.hypot(np.diff(a), np.diff(b))
        return dist
    cp = np.cos(np.radians(a))
    c_mid = 0.5 * (cp[1:] + cp[:-1])
    s2 = 1.0 - c_mid * c_mid
    w = 1.0 - _WGS84_E2 * s2
    n_mid = _WGS84_A / np.sqrt(w)
    m_mid = n_mid * (1.0 - _WGS84_E2) / w
    dlon = _wrap180(np.diff(b))  # same bits as (d + 180) % 360 - 180
    dx = np.radians(dlon) * c_mid * n_mid
    dy = np.radians(np.diff(a)) * m_mid
    dist[1:] = np.hypot(dx, dy)
    return dist


def _prepare(
    points: pd.DataFrame, settings: TrackSettings, report: CleanReport, workers: int = 1,
    ground: np.ndarray | None = None,
) -> _Prepared:
    """Clean, sort and split *points* into tracks, counting every removal (vectorized; gathers,
    filters and step lengths on *workers* threads). Rows where *ground* is true are removed
    first, counted as "on ground" (the table itself is not copied)."""
    _check_columns(points)
    n = len(points)
    report.points_in += n
    screen = _is_screen(points)
    frame = points
    if n == 0:
        return _empty_prepared(frame, screen)

    codes, uniques = pd.factorize(frame["object_id"], sort=True)
    t = _time_ns(frame["time"]) if "time" in frame.columns else np.full(n, np.iinfo(np.int64).min)
    a, b = (_float(frame, "x"), _float(frame, "y")) if screen else (_float(frame, "lat"), _float(frame, "lon"))
    keep = _keep_rows(frame, t, a, b, screen, settings, report, ground)
    order, c_o = _track_order(frame, keep, codes, t, len(uniques), screen, report)
    order, c_o, t_o = _drop_duplicate_times(order, c_o, t[order], report)

    # Every column is gathered into track order once; later steps filter these in order.
    speed = _float(frame, "speed_kt")
    alt = _float(frame, "altitude_ft")
    pts = _Ordered(order, c_o, t_o, *_map(lambda v: v[order], (a, b, speed), workers))
    del codes, t, a, b, speed, keep  # table-sized arrays no longer needed (peak memory)
    if settings.jump_rule:
        pts, jump_split, dist = _remove_spikes(pts, screen, settings, report, workers)
    else:  # mouse telemetry: a bot's teleport is signal, not a receiver glitch
        jump_split, dist = np.zeros(len(pts.order), bool), _step_lengths(pts.a, pts.b, screen, workers)
    order, c_o, t_o = pts.order, pts.codes, pts.t
    sp, al = _blank_out_of_range(pts.speed.copy(), alt[order], settings, report)
    starts, new_obj = _track_starts(frame, order, c_o, t_o, jump_split, settings, report)
    return _drop_short_tracks(frame, screen, order, c_o, starts, new_obj, uniques,
                              (t_o, pts.a, pts.b, sp, al, dist), settings, report, workers)


def _keep_rows(
    frame: pd.DataFrame, t: np.ndarray, a: np.ndarray, b: np.ndarray, screen: bool, settings: TrackSettings,
    report: CleanReport, ground: np.ndarray | None,
) -> np.ndarray:
    """Rows that have an object, a time and a usable position (the others counted by reason)."""
    n = len(frame)
    obj_na = frame["object_id"].isna().to_numpy()
    t_na = t == np.iinfo(np.int64).min
    pos_na = ~(np.isfinite(a) & np.isfinite(b))
    if screen:
        lim = settings.screen_limit_px
        out_range = ~pos_na & ((np.abs(a) > lim) | (np.abs(b) > lim))
        null_island = np.zeros(n, bool)
    else:
        out_range = ~pos_na & ((np.abs(a) > 90) | (np.abs(b) > 180))
        null_island = ~pos_na & (a == 0) & (b == 0)
    keep = np.ones(n, bool)
    if ground is not None:
        keep &= ~ground
        report.count("removed", "on ground", int(ground.sum()))
    for reason, bad in (
        ("missing object id", obj_na),
        ("missing time", t_na),
        ("missing position", pos_na),
        ("position out of range", out_range),
        ("position 0,0", null_island),
    ):
        hit = bad & keep
        report.count("removed", reason, int(hit.sum()))
        keep &= ~bad
    return keep


def _track_order(
    frame: pd.DataFrame, keep: np.ndarray, codes: np.ndarray, t: np.ndarray, n_objects: int, screen: bool,
    report: CleanReport,
) -> tuple[np.ndarray, np.ndarray]:
    """Kept rows sorted by object then time (stable: ties keep file order; clicks first for
    screen tracks), and the object code of each in that order."""
    idx = np.flatnonzero(keep)
    small = np.int16 if n_objects < 32_000 else np.int32  # radix sort for small integers
    if screen and "state" in frame.columns:
        not_click = ~_click_mask(frame)
        pre = idx[np.argsort(not_click[idx], kind="stable")]
    else:
        pre = idx
    kernel = _kernel()
    if kernel is not None:  # a counting sort by object, then time only where a log is out of order
        order = kernel.track_order(pre, codes, t, n_objects)
    else:
        pre = pre[np.argsort(t[pre], kind="stable")]
        order = pre[np.argsort(codes[pre].astype(small), kind="stable")]
    # object codes in that order: sorted, so counted rather than gathered
    c_o = np.repeat(np.arange(n_objects, dtype=np.int64), np.bincount(codes[idx], minlength=n_objects))
    # rows that came before an earlier report of the same object in the input
    report.reordered += int(np.sum((np.diff(order) < 0) & (c_o[1:] == c_o[:-1])))
    return order, c_o


def _drop_duplicate_times(
    order: np.ndarray, c_o: np.ndarray, t_o: np.ndarray, report: CleanReport
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leave out repeated timestamps of an object (keep the first: for screen tracks the click)."""
    c_o = c_o.astype(np.int64, copy=False)
    dup = np.zeros(len(order), bool)
    dup[1:] = (c_o[1:] == c_o[:-1]) & (t_o[1:] == t_o[:-1])
    n_dup = int(dup.sum())
    report.count("removed", "duplicate time", n_dup)
    if n_dup:
        keep_o = ~dup
        order, c_o, t_o = order[keep_o], c_o[keep_o], t_o[keep_o]
    return order, c_o, t_o


def _blank_out_of_range(
    sp: np.ndarray, al: np.ndarray, settings: TrackSettings, report: CleanReport
) -> tuple[np.ndarray, np.ndarray]:
    """Speeds and altitudes out of range blanked (NaN), not dropped; counted."""
    lo_alt, hi_alt = settings.altitude_range_ft
    bad_alt = np.isfinite(al) & ((al < lo_alt) | (al > hi_alt))
    bad_sp = np.isfinite(sp) & ((sp < 0) | (sp > settings.max_reported_speed_kt))
    report.count("blanked", "altitude out of range", int(bad_alt.sum()))
    report.count("blanked", "speed out of range", int(bad_sp.sum()))
    al[bad_alt] = np.nan
    sp[bad_sp] = np.nan
    return sp, al


def _track_starts(
    frame: pd.DataFrame, order: np.ndarray, c_o: np.ndarray, t_o: np.ndarray, jump_split: np.ndarray,
    settings: TrackSettings, report: CleanReport,
) -> tuple[np.ndarray, np.ndarray]:
    """Where tracks start (new object, time gap, new-leg flag, unresolved jump), and the new-object mask."""
    m = len(order)
    new_obj = np.ones(m, bool)
    new_obj[1:] = c_o[1:] != c_o[:-1]
    gap = np.zeros(m, bool)
    gap[1:] = (np.diff(t_o) > settings.gap_s * _NS) & ~new_obj[1:]
    leg = np.zeros(m, bool)
    if settings.split_on_new_leg and "new_leg" in frame.columns:
        leg = frame["new_leg"].to_numpy(dtype=bool, na_value=False)[order] & ~new_obj & ~gap
    jump_split &= ~new_obj & ~gap & ~leg
    report.count("splits", "time gap", int(gap.sum()))
    report.count("splits", "new leg", int(leg.sum()))
    report.count("splits", "impossible jump", int(jump_split.sum()))
    return np.flatnonzero(new_obj | gap | leg | jump_split), new_obj


def _drop_short_tracks(
    frame: pd.DataFrame, screen: bool, order: np.ndarray, c_o: np.ndarray, starts: np.ndarray, new_obj: np.ndarray,
    uniques: Any, columns: tuple[np.ndarray, ...], settings: TrackSettings, report: CleanReport, workers: int,
) -> _Prepared:
    """The tracks long enough to keep, as :class:`_Prepared` (*columns*: t, a, b, speed, alt
    and step length per point in track order)."""
    m = len(order)
    offsets = np.append(starts, m)
    t_o = columns[0]
    counts = np.diff(offsets)
    dur = (t_o[offsets[1:] - 1] - t_o[offsets[:-1]]) / _NS
    ok = (counts >= settings.min_points) & (dur >= settings.min_duration_s)
    report.tracks_dropped += int((~ok).sum())
    report.count("removed", "track too short", int(counts[~ok].sum()))
    keep_pt = np.repeat(ok, counts)
    # track number within object counts every track (dropped ones too) so ids are stable.
    obj_first = np.flatnonzero(new_obj)
    track_idx = np.arange(len(starts))
    first_track_of_obj = np.searchsorted(starts, obj_first)
    obj_of_track = np.searchsorted(obj_first, starts, side="right") - 1
    track_no = (track_idx - first_track_of_obj[obj_of_track])[ok]
    track_object = np.asarray(uniques, dtype=object)[c_o[starts]][ok]
    all_kept = bool(ok.all())
    if not all_kept:
        order = order[keep_pt]
    counts = counts[ok]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    report.points_kept += int(len(order))
    report.tracks += int(len(counts))
    return _Prepared(
        frame=frame, order=order, offsets=offsets, track_object=track_object, track_no=track_no,
        screen=screen, **dict(zip(("t", "a", "b", "speed", "alt", "dist"), _map(
            lambda v: v if all_kept else v[keep_pt], columns, workers))),
    )


def _empty_prepared(frame: pd.DataFrame, screen: bool) -> _Prepared:
    e = np.empty(0)
    return _Prepared(frame, np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0, object),
                     np.empty(0, np.int64), screen, np.empty(0, np.int64), e, e, e, e)


def _click_mask(frame: pd.DataFrame) -> np.ndarray:
    if "state" not in frame.columns:
        return np.zeros(len(frame), bool)
    return (frame["state"].astype("string").str.lower() == "pressed").to_numpy(dtype=bool, na_value=False)


@dataclass
class _Ordered:
    """Kept points in track order: row positions and the columns cleaning needs (internal)."""

    order: np.ndarray
    codes: np.ndarray  # object code per point
    t: np.ndarray
    a: np.ndarray
    b: np.ndarray
    speed: np.ndarray  # reported speed (NaN when absent)

    def compress(self, keep: np.ndarray, workers: int = 1) -> _Ordered:
        """The points where *keep* is true (sequential filtering; no gathers from the table)."""
        cols = (self.order, self.codes, self.t, self.a, self.b, self.speed)
        return _Ordered(*_map(lambda v: v[keep], cols, workers))


def _too_fast(
    pts: _Ordered, screen: bool, settings: TrackSettings, workers: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point of *pts*: is the step into it impossible, is it an object's first point, and
    the step's length."""
    m = len(pts.order)
    aa, bb, tt, c_o = pts.a, pts.b, pts.t, pts.codes
    dist = _step_lengths(aa, bb, screen, workers)
    same = np.zeros(m, bool)
    same[1:] = c_o[1:] == c_o[:-1]
    # time since the previous *distinct* position: receivers often repeat a stale position
    repeat = np.zeros(m, bool)
    repeat[1:] = same[1:] & (aa[1:] == aa[:-1]) & (bb[1:] == bb[:-1])
    run_start = _prev_true(~repeat)
    dt = np.zeros(m)
    dt[1:] = (tt[1:] - tt[run_start[:-1]]) / _NS
    bad = np.empty(m, bool)

    def one(part: tuple[int, int]) -> None:  # elementwise, block by block
        lo, hi = part
        if screen:
            allowed = settings.max_speed_px_s * np.maximum(dt[lo:hi], 0.01) + 50.0
        else:
            sp = np.nan_to_num(pts.speed[max(lo - 1, 0):hi])
            prev = np.concatenate([[0.0], sp[:-1]]) if lo == 0 else sp[:-1]
            sp = sp if lo == 0 else sp[1:]
            rep = np.maximum(sp, prev)
            lim_kt = np.maximum(settings.max_speed_kt, settings.jump_factor * rep)
            allowed = lim_kt / KT_PER_MPS * np.maximum(dt[lo:hi], 1.0) + settings.jump_tolerance_m
        with np.errstate(invalid="ignore"):
            bad[lo:hi] = same[lo:hi] & (dist[lo:hi] > allowed)

    _map(one, _parts(m), workers)
    return bad, ~same, dist


def _remove_spikes(
    pts: _Ordered, screen: bool, settings: TrackSettings, report: CleanReport, workers: int = 1,
) -> tuple[_Ordered, np.ndarray, np.ndarray]:
    """Remove single-point spikes (an impossible step in and out); return the kept points, per
    kept point whether an impossible step that no single point explains leads into it, and the
    length of the step into each point."""
    for _ in range(4):
        if len(pts.order) < 2:
            return pts, np.zeros(len(pts.order), bool), _step_lengths(pts.a, pts.b, screen)
        bad_in, first, dist = _too_fast(pts, screen, settings, workers)
        if not bad_in.any():
            return pts, bad_in, dist
        bad_out = np.append(bad_in[1:], False)
        next_out = np.append(bad_out[1:], False)
        last = np.append(first[1:], True)
        prev_in = np.concatenate([[False], bad_in[:-1]])
        spike = (bad_in & bad_out) | (first & bad_out & ~next_out) | (last & bad_in & ~prev_in & ~first)
        if not spike.any():
            return pts, bad_in, dist
        report.count("removed", "impossible jump", int(spike.sum()))
        pts = pts.compress(~spike, workers)
    if len(pts.order) < 2:
        return pts, np.zeros(len(pts.order), bool), _step_lengths(pts.a, pts.b, screen)
    bad_in, _first, dist = _too_fast(pts, screen, settings, workers)
    return pts, bad_in, dist


def split_tracks(points: pd.DataFrame, settings: TrackSettings | None = None) -> tuple[pd.DataFrame, CleanReport]:
    """Clean *points* and cut them into tracks.

    Returns the kept rows sorted by object and time with two new columns, ``track_id``
    (``"{object_id}_{track_no}"``) and ``track_no``, and a :class:`CleanReport` counting every
    removal by reason. Bad rows are counted and dropped, never raised on; an empty table gives
    an empty result.
    """
    settings = settings or TrackSettings()
    report = CleanReport()
    prep = _prepare(points, settings, report)
    return _frame_of(prep), report


def _frame_of(prep: _Prepared) -> pd.DataFrame:
    out = prep.frame.iloc[prep.order].reset_index(drop=True)
    counts = np.diff(prep.offsets)
    names = [f"{o}_{k}" for o, k in zip(prep.track_object, prep.track_no)]
    codes = np.repeat(np.arange(len(names)), counts)
    out["track_id"] = pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object)) if names else pd.Categorical([])
    out["track_no"] = np.repeat(prep.track_no, counts).astype(np.int64)
    if len(out):
        out["speed_kt"] = prep.speed
        out["altitude_ft"] = prep.alt
    return out


def _prepare_tracked(points: pd.DataFrame, report: CleanReport) -> _Prepared:
    """Arrays for a table that already went through :func:`split_tracks`."""
    frame = points
    n = len(frame)
    report.points_in += n
    report.points_kept += n
    screen = _is_screen(frame)
    if n == 0:
        return _empty_prepared(frame, screen)
    t = _time_ns(frame["time"])
    tcodes, tnames = pd.factorize(frame["track_id"].astype("string"), sort=False)
    order = np.lexsort((t, tcodes))
    tc = tcodes[order]
    starts = np.flatnonzero(np.append(True, tc[1:] != tc[:-1]))
    offsets = np.append(starts, n).astype(np.int64)
    first_rows = order[starts]
    objects = frame["object_id"].astype("string").to_numpy(dtype=object)[first_rows]
    if "track_no" in frame.columns:
        track_no = frame["track_no"].to_numpy(dtype=np.int64)[first_rows]
    else:  # "{object_id}_{n}" from split_tracks; other ids get their rank within the object
        tails = [str(tnames[c]).rsplit("_", 1)[-1] for c in tc[starts]]
        ranks = pd.Series(objects).groupby(objects).cumcount().to_numpy()
        track_no = np.array([int(x) if x.isdigit() else int(r) for x, r in zip(tails, ranks)], dtype=np.int64)
    report.tracks += len(starts)
    a = _float(frame, "x" if screen else "lat")[order]
    b = _float(frame, "y" if screen else "lon")[order]
    return _Prepared(frame, order, offsets, objects, track_no, screen, t[order], a, b,
                     _float(frame, "speed_kt")[order], _float(frame, "altitude_ft")[order])
