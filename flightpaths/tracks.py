"""From points to tracks and overlapping time windows, with the figures later stages need.

A reporter's question is "when and where did it circle?", so a flight is cut into tracks (at
time gaps and readsb new-leg flags) and each track into fixed-length windows that overlap
(default 5 minutes long every 2.5 minutes; several lengths in one call). Every window keeps
where it came from (object, file, line range), its centroid, a set of summary figures
(:data:`FIGURE_COLUMNS`) and per-point arrays in a local frame, ready to be drawn.

No Python loop runs per point: points are sorted by track and time (a counting sort by
object), windows are index ranges ``[lo, hi)`` into that order found with one
``searchsorted``, and each window's figures and per-point arrays come from compiled loops
(:mod:`._window_kernel`, numba: one pass over each window's points, on several threads, all
windows writing into one buffer). Where numba is missing, the same is computed vectorized with
numpy (prefix sums, one fancy-index gather): the same results to rounding, about half as fast.
A window's ``pspeed`` and ``palt`` are read-only views of its points' arrays (windows overlap:
they share them). Only the final wrapping of per-window arrays into object columns loops,
once per window.

Projection: each window is projected to metres with an azimuthal equidistant projection
centred on the window's centroid, so circles stay circles at any latitude. The default
(``projection="local"``) evaluates it on a sphere whose east and north scales are
the WGS84 radii of curvature (agrees with pyproj's ellipsoidal ``aeqd`` to about one part in
10^5 of the distance from the centre); ``projection="pyproj"`` calls pyproj once per window.
Screen tracks stay in pixels, y pointing down.

Conventions: headings are clockwise from north (for screen tracks, clockwise as seen on the
screen); a positive ``net_turn_rev`` is a clockwise (right-hand) turn.

Figures (:data:`FIGURE_COLUMNS`; ``*_m`` are pixels and speeds px/s for screen tracks):
``n_points``; ``duration_s`` (first to last point); ``path_length_m`` (sum of steps);
``net_displacement_m`` (first to last point); ``straightness`` (net / path, 1.0 when nothing
moved); ``total_turn_deg`` (sum of absolute heading changes between steps, in the window's
plane; steps shorter than ``min_segment_m`` set no heading); ``net_turn_rev`` (signed sum /
360); ``radius_m`` (least-squares circle through the points; :data:`RADIUS_CAP_M` for a
straight line); ``extent_m`` (larger side of the bounding box); ``median_speed_kt`` (of
``pspeed``: the reported speed, or the speed from positions where none was reported);
``median_altitude_ft``; ``sample_interval_s`` (median time between points). ``start`` and
``end`` are the first and last point; ``window_id`` uses the window's nominal start, which is
unique per track and length. ``few_points`` flags windows with fewer than
``WindowSettings.few_points`` points (kept: sparse 60-second tracks give 3-5 points).

>>> import pandas as pd
>>> from flightpaths.schema import validate_points
>>> pts = validate_points(pd.DataFrame({
...     "object_id": ["abc123"] * 4, "time": pd.to_datetime([0, 10, 20, 30], unit="s", utc=True),
...     "lat": [60.0, 60.001, 60.002, 60.003], "lon": [10.0] * 4, "x": float("nan"), "y": float("nan"),
...     "altitude_ft": 1000.0, "speed_kt": float("nan"), "track_deg": float("nan"),
...     "vrate_fpm": float("nan"), "callsign": "TEST1", "squawk": pd.NA, "on_ground": False,
...     "new_leg": False, "source_file": "a.sbs", "source_line": [1, 2, 3, 4]}))
>>> w = make_windows(pts)
>>> str(w.window_id[0]), int(w.n_points[0]), float(w.straightness[0])
('abc123_0_19700101T000000_300s', 4, 1.0)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from .errors import InputError, SchemaError
from .fileio import safe_name
from .runtime import gc_paused, tune_allocator
from .schema import KT_PER_MPS, POINT_COLUMNS, empty_points

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = [
    "ARRAY_COLUMNS",
    "CleanReport",
    "FIGURE_COLUMNS",
    "RADIUS_CAP_M",
    "SCALAR_COLUMNS",
    "TrackSettings",
    "WINDOW_OUTPUT_SUFFIXES",
    "WindowSettings",
    "empty_windows",
    "inverse_local_aeqd",
    "load_points",
    "local_aeqd",
    "make_windows",
    "read_windows",
    "save_windows",
    "split_tracks",
    "to_geodataframe",
    "tracks_to_geodataframe",
    "windows_with_report",
    "write_geo",
    "write_windows",
]

#: Figures of a window, in this order (used by rules, baselines and the hybrid head).
FIGURE_COLUMNS: Final[tuple[str, ...]] = (
    "n_points",
    "duration_s",
    "path_length_m",
    "net_displacement_m",
    "straightness",
    "total_turn_deg",
    "net_turn_rev",
    "radius_m",
    "extent_m",
    "median_speed_kt",
    "median_altitude_ft",
    "sample_interval_s",
)

#: Scalar columns of the windows table and their dtypes.
SCALAR_COLUMNS: Final[dict[str, str]] = {
    "window_id": "string",
    "object_id": "string",
    "track_id": "string",
    "callsign": "string",
    "start": "datetime64[ns, UTC]",
    "end": "datetime64[ns, UTC]",
    "window_s": "float64",
    "source_file": "string",
    "line_first": "int64",
    "line_last": "int64",
    "lat": "float64",
    "lon": "float64",
    "units": "string",
    **{name: ("int64" if name == "n_points" else "float64") for name in FIGURE_COLUMNS},
    "few_points": "bool",
}

#: Per-point array columns (float64) and event columns (ev_kind holds strings).
ARRAY_COLUMNS: Final[tuple[str, ...]] = (
    "px", "py", "pt", "pspeed", "palt", "pturn", "pcumturn", "ev_x", "ev_y", "ev_kind",
)

#: Fitted radii larger than this (a straight line) are reported as this value.
RADIUS_CAP_M: Final = 1.0e6

_WGS84_A: Final = 6378137.0
_WGS84_E2: Final = 6.69437999014e-3
_NS: Final = 1_000_000_000
_MS_BITS: Final = 40  # track-relative times in ms fit in 40 bits (35 years)


# --------------------------------------------------------------------------------------------
# Settings and report
# --------------------------------------------------------------------------------------------


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise InputError(f"setting {name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class TrackSettings:
    """How points are cleaned and cut into tracks.

    ``gap_s``: a silence longer than this starts a new track. ``min_points`` and
    ``min_duration_s``: shorter tracks are dropped (counted). A point whose implied speed from
    its neighbours exceeds ``max(max_speed_kt, jump_factor x reported speed)`` (plus
    ``jump_tolerance_m`` for position noise) on both sides is a spike and removed; a jump that
    cannot be blamed on one point splits the track. Altitudes outside ``altitude_range_ft``
    and speeds above ``max_reported_speed_kt`` are blanked (counted), not dropped.
    """

    gap_s: float = 600.0
    min_points: int = 2
    min_duration_s: float = 0.0
    split_on_new_leg: bool = True
    max_speed_kt: float = 1000.0
    jump_factor: float = 3.0
    jump_tolerance_m: float = 500.0
    max_speed_px_s: float = 50_000.0
    screen_limit_px: float = 16_384.0
    altitude_range_ft: tuple[float, float] = (-1500.0, 60_000.0)
    max_reported_speed_kt: float = 1500.0

    def __post_init__(self) -> None:
        _positive("gap_s", self.gap_s)
        _positive("max_speed_kt", self.max_speed_kt)
        _positive("max_speed_px_s", self.max_speed_px_s)
        if int(self.min_points) < 1:
            raise InputError(f"setting min_points must be at least 1, got {self.min_points!r}")
        object.__setattr__(self, "altitude_range_ft", tuple(float(v) for v in self.altitude_range_ft))


def _as_tuple(value: float | Iterable[float] | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return (float(value),)
    return tuple(float(v) for v in value)


@dataclass(frozen=True)
class WindowSettings:
    """How tracks are cut into windows.

    ``window_s``: one length or several (e.g. ``(300, 600, 1200)``), seconds. ``step_s``:
    ``None`` for half of each length, one value for all lengths, or one value per length.
    Windows with fewer than ``min_points`` points are dropped (counted); those with fewer
    than ``few_points`` are kept and flagged in the ``few_points`` column. Steps shorter than
    ``min_segment_m`` (metres, or pixels for screen tracks) do not set a heading, so GPS
    jitter on a near-stationary aircraft adds less false turning. ``projection`` is
    ``"local"`` (vectorized) or ``"pyproj"`` (exact, one transformer per window, slow).
    ``airborne_only``: points the transponder reports on the ground are left out before
    windows are cut (counted as removed "on ground"): a parked or taxiing aircraft is not
    circling, and its GPS jitter and taxiway turns look like orbits when drawn to fit.
    """

    window_s: float | tuple[float, ...] = 300.0
    step_s: float | tuple[float, ...] | None = None
    min_points: int = 3
    few_points: int = 5
    min_segment_m: float = 0.0
    projection: str = "local"
    airborne_only: bool = True

    def __post_init__(self) -> None:
        lengths = _as_tuple(self.window_s) or ()
        if not lengths:
            raise InputError("setting window_s needs at least one window length")
        for value in lengths:
            _positive("window_s", value)
        object.__setattr__(self, "window_s", lengths if len(lengths) > 1 else lengths[0])
        steps = _as_tuple(self.step_s)
        if steps is not None:
            for value in steps:
                _positive("step_s", value)
            if len(steps) not in (1, len(lengths)):
                raise InputError(
                    f"setting step_s has {len(steps)} values for {len(lengths)} window lengths; "
                    "give one step, one per length, or none (half of each length)"
                )
            object.__setattr__(self, "step_s", steps if len(steps) > 1 else steps[0])
        if int(self.min_points) < 1:
            raise InputError(f"setting min_points must be at least 1, got {self.min_points!r}")
        if self.projection not in ("local", "pyproj"):
            raise InputError(f"setting projection must be 'local' or 'pyproj', got {self.projection!r}")

    def lengths(self) -> list[tuple[float, float]]:
        """The (window length, step) pairs in seconds.

        >>> WindowSettings(window_s=(300, 1200)).lengths()
        [(300.0, 150.0), (1200.0, 600.0)]
        """
        lengths = _as_tuple(self.window_s) or ()
        steps = _as_tuple(self.step_s)
        if steps is None:
            steps = tuple(w / 2 for w in lengths)
        elif len(steps) == 1:
            steps = steps * len(lengths)
        return list(zip(lengths, steps))


@dataclass
class CleanReport:
    """What cleaning, track splitting and windowing did, with counts by reason."""

    points_in: int = 0
    points_kept: int = 0
    tracks: int = 0
    tracks_dropped: int = 0
    reordered: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    blanked: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    windows: int = 0
    windows_dropped: dict[str, int] = field(default_factory=dict)
    few_point_windows: int = 0

    def count(self, bucket: str, reason: str, n: int) -> None:
        """Add *n* to ``getattr(self, bucket)[reason]`` (zero counts are not recorded)."""
        if n:
            target: dict[str, int] = getattr(self, bucket)
            target[reason] = target.get(reason, 0) + int(n)

    def merge(self, other: CleanReport) -> None:
        """Add the window counts of *other* (a report on a chunk of the same tracks)."""
        self.windows += other.windows
        self.few_point_windows += other.few_point_windows
        for reason, n in other.windows_dropped.items():
            self.count("windows_dropped", reason, n)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """A few human-readable lines."""

        def fmt(d: dict[str, int]) -> str:
            return ", ".join(f"{k}: {v}" for k, v in sorted(d.items())) or "none"

        lines = [
            f"points: {self.points_in} in, {self.points_kept} kept; removed: {fmt(self.removed)}",
            f"values blanked: {fmt(self.blanked)}; rows out of time order (sorted): {self.reordered}",
            f"tracks: {self.tracks} kept, {self.tracks_dropped} dropped as too short; splits: {fmt(self.splits)}",
            f"windows: {self.windows} ({self.few_point_windows} flagged few_points, kept); dropped: {fmt(self.windows_dropped)}",
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Small vectorized helpers
# --------------------------------------------------------------------------------------------


_KERNEL: Any = False  # the compiled loops once looked up; None where numba is missing


def _kernel() -> Any:
    """The compiled loops (:mod:`._window_kernel`), or None where numba is not installed (then
    the vectorized numpy code here runs: the same results to rounding, slower)."""
    global _KERNEL
    if _KERNEL is False:
        from . import _window_kernel

        _KERNEL = _window_kernel if _window_kernel.COMPILED else None
    return _KERNEL


def _time_ns(series: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch as int64 (NaT becomes the int64 minimum)."""
    idx = pd.DatetimeIndex(series)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.as_unit("ns").asi8.copy()


def _float(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    col = frame[name]
    try:
        return col.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"cannot read as numbers: {exc}", column=name) from exc


def _map(fn: Any, items: Sequence[Any], workers: int) -> list[Any]:
    """``[fn(x) for x in items]``, on *workers* threads when more than one (numpy releases the
    GIL in elementwise work, gathers and filters)."""
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


_BLOCK: Final = 1 << 17  # points per block of elementwise work: temporaries stay in cache


def _parts(n: int, block: int = _BLOCK) -> list[tuple[int, int]]:
    """[start, stop) ranges cutting ``range(n)`` into blocks of about *block* (one when small):
    elementwise work on big tables runs block by block, so its temporaries are reused from
    cache instead of being fresh pages of the table's size."""
    k = max(1, n // block)
    cuts = [n * i // k for i in range(k + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def _wrap180(deg: np.ndarray) -> np.ndarray:
    """``(deg + 180) % 360 - 180``, bit for bit, without the slow float modulo when every value
    lies in [-360, 360] (differences of two headings): there ``x % 360`` of ``x = deg + 180``
    is ``x + 360`` below 0 (numpy's fmod-and-adjust rounds the same way), ``x - 360`` from 360
    on (exact) and ``x`` otherwise.

    >>> d = np.array([-360.0, -350.0, -180.0, -1e-17, 0.0, 179.5, 180.0, 350.0, 360.0])
    >>> bool(np.array_equal(_wrap180(d), (d + 180.0) % 360.0 - 180.0))
    True
    >>> _wrap180(np.array([-350.0, 350.0, 540.0])).tolist()
    [10.0, -10.0, -180.0]
    """
    x = deg + 180.0
    if not (len(x) and np.abs(deg).max() <= 360.0):  # NaN or large values: the general rule
        return x % 360.0 - 180.0
    return np.where(x < 0.0, x + 360.0, np.where(x >= 360.0, x - 360.0, x)) - 180.0


def _next_true(mask: np.ndarray) -> np.ndarray:
    """For each i, the smallest j >= i with mask[j] (len(mask) when none)."""
    n = len(mask)
    idx = np.where(mask, np.arange(n), n)
    return np.minimum.accumulate(idx[::-1])[::-1] if n else idx


def _prev_true(mask: np.ndarray) -> np.ndarray:
    """For each i, the largest j <= i with mask[j] (-1 when none)."""
    idx = np.where(mask, np.arange(len(mask)), -1)
    return np.maximum.accumulate(idx) if len(mask) else idx


def _segment_median(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Median of ``values[offsets[i]:offsets[i+1]]`` for every i, ignoring NaN (NaN if none).

    One float sort of ``segment + scaled value`` instead of a per-segment loop.

    >>> _segment_median(np.array([3.0, 1.0, 2.0, np.nan, 5.0, 4.0]), np.array([0, 3, 4, 6]))
    array([2. , nan, 4.5])
    """
    nseg = len(offsets) - 1
    out = np.full(nseg, np.nan)
    if nseg == 0 or len(values) == 0:
        return out
    counts = np.diff(offsets)
    finite = np.isfinite(values)
    good = values[finite]
    if not len(good):
        return out
    vmin = float(good.min())
    span = float(good.max()) - vmin or 1.0
    del good
    frac = values - vmin
    frac /= span
    frac *= 0.5
    frac[~finite] = 0.75
    keys = np.repeat(np.arange(nseg, dtype=np.float64), counts)
    keys += frac
    del frac
    keys.sort()
    nvalid = np.add.reduceat(finite, offsets[:-1]) if len(values) else np.zeros(nseg, int)
    nvalid = np.where(counts > 0, nvalid, 0)
    ok = nvalid > 0
    base = offsets[:-1][ok]
    lo_i = base + (nvalid[ok] - 1) // 2
    hi_i = base + nvalid[ok] // 2
    seg_ok = np.arange(nseg)[ok]
    lo_v = (keys[lo_i] - seg_ok) / 0.5 * span + vmin
    hi_v = (keys[hi_i] - seg_ok) / 0.5 * span + vmin
    out[ok] = (lo_v + hi_v) / 2
    return out


def _radii_of_curvature(lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Meridional (M) and prime-vertical (N) radii of curvature of WGS84, metres."""
    s2 = np.sin(np.radians(lat_deg)) ** 2
    w = np.sqrt(1.0 - _WGS84_E2 * s2)
    return _WGS84_A * (1 - _WGS84_E2) / w**3, _WGS84_A / w


def local_aeqd(
    lat: np.ndarray, lon: np.ndarray, lat0: np.ndarray | float, lon0: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthal equidistant x (east), y (north) in metres of each point about its centre.

    Centres may differ per point (one per window), so many windows project in one call.
    Spherical formulas scaled by the WGS84 radii of curvature (east: at the point; north:
    halfway to the centre): agrees with pyproj's ellipsoidal ``+proj=aeqd`` to about one part
    in 10^5 of the distance from the centre (5 mm at 500 m, 0.2 m at 20 km).

    >>> x, y = local_aeqd(np.array([60.0, 60.0]), np.array([10.0, 10.01]), 60.0, 10.0)
    >>> [round(float(v), 3) for v in (*x, *y)]
    [0.0, 558.0, 0.0, 0.042]
    """
    phi, lam = np.radians(lat), np.radians(lon)
    phi0, lam0 = np.radians(lat0), np.radians(lon0)
    return _aeqd_trig(np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam),
                      np.sin(phi0), np.cos(phi0), np.sin(lam0), np.cos(lam0))


def _aeqd_trig(
    sp: np.ndarray, cp: np.ndarray, sl: np.ndarray, cl: np.ndarray,
    sp0: Any, cp0: Any, sl0: Any, cl0: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`local_aeqd` from sines and cosines of latitude and longitude (no trig calls, so
    windows can reuse the per-point values: only products, square roots and a series)."""
    sdl = sl * cl0 - cl * sl0  # sin(lon - lon0)
    cdl = cl * cl0 + sl * sl0  # cos(lon - lon0)
    xs = cp * sdl  # orthographic coordinates on the unit sphere: hypot(xs, ys) = sin(c)
    ys = cp0 * sp - sp0 * cp * cdl
    s2 = xs * xs + ys * ys
    k = 1.0 + s2 * (1.0 / 6.0 + s2 * (3.0 / 40.0 + s2 * (5.0 / 112.0)))  # arcsin(s)/s, s < 0.05
    far = s2 > 0.0025
    if np.any(far):
        s = np.sqrt(s2[far])
        k[far] = np.arcsin(np.minimum(s, 1.0)) / s
    # east scale: prime-vertical radius at the point; north scale: meridional radius halfway
    n = _WGS84_A / np.sqrt(1.0 - _WGS84_E2 * sp * sp)
    sin2_mid = 0.5 * (1.0 - (cp * cp0 - sp * sp0))  # sin^2((lat + lat0) / 2)
    w = 1.0 - _WGS84_E2 * sin2_mid
    m = _WGS84_A * (1.0 - _WGS84_E2) / (w * np.sqrt(w))
    return n * k * xs, m * k * ys


def _aeqd_windows(
    trig: tuple[np.ndarray, ...], gidx: np.ndarray, trig0: Sequence[np.ndarray], n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_aeqd_trig` of the points ``gidx`` (sines and cosines *trig* per point) about
    their window's centre (*trig0* per window, *n* points each): the same operations in the
    same order, so the same bits, but in place on a few buffers, with the prime-vertical
    radius (which depends on the point only) computed once per point rather than per window
    it falls in."""
    sp_all, cp_all, sl_all, cl_all = trig
    rad_n = sp_all * _WGS84_E2
    rad_n *= sp_all
    np.subtract(1.0, rad_n, out=rad_n)
    np.sqrt(rad_n, out=rad_n)
    np.divide(_WGS84_A, rad_n, out=rad_n)  # _WGS84_A / sqrt(1 - E2 * sp * sp), per point
    sp0, cp0, sl0, cl0 = (np.repeat(v, n) for v in trig0)
    sp, cp, sl, cl = (v[gidx] for v in trig)
    sdl = sl * cl0
    tmp = cl * sl0
    sdl -= tmp  # sin(lon - lon0)
    cdl = np.multiply(cl, cl0, out=cl)
    np.multiply(sl, sl0, out=tmp)
    cdl += tmp  # cos(lon - lon0)
    xs = np.multiply(cp, sdl, out=sdl)
    ys = np.multiply(cp0, sp, out=sl)
    np.multiply(sp0, cp, out=tmp)
    tmp *= cdl
    ys -= tmp
    s2 = np.multiply(xs, xs, out=tmp)
    s2 += ys * ys
    k = s2 * (5.0 / 112.0)
    k += 3.0 / 40.0
    k *= s2
    k += 1.0 / 6.0
    k *= s2
    k += 1.0  # arcsin(s)/s, s < 0.05
    far = s2 > 0.0025
    if np.any(far):
        s = np.sqrt(s2[far])
        k[far] = np.arcsin(np.minimum(s, 1.0)) / s
    # sin^2((lat + lat0) / 2) = 0.5 * (1 - (cp * cp0 - sp * sp0)), then w = 1 - E2 * that
    w = np.multiply(cp, cp0, out=cp)
    np.multiply(sp, sp0, out=s2)
    w -= s2
    np.subtract(1.0, w, out=w)
    w *= 0.5
    w *= _WGS84_E2
    np.subtract(1.0, w, out=w)
    m = np.sqrt(w, out=s2)
    m *= w
    np.divide(_WGS84_A * (1.0 - _WGS84_E2), m, out=m)
    x = rad_n[gidx]
    x *= k
    x *= xs
    m *= k
    m *= ys
    return x, m


def inverse_local_aeqd(
    x: np.ndarray, y: np.ndarray, lat0: np.ndarray | float, lon0: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (degrees) of local x/y metres; the inverse of :func:`local_aeqd`.

    >>> lat, lon = inverse_local_aeqd(*local_aeqd(np.array([60.01]), np.array([10.02]), 60.0, 10.0), 60.0, 10.0)
    >>> round(float(lat[0]), 9), round(float(lon[0]), 9)
    (60.01, 10.02)
    """
    lat0_a = np.asarray(lat0, dtype=float)
    phi0, lam0 = np.radians(lat0), np.radians(lon0)
    lat = np.broadcast_to(lat0_a, np.shape(x)).astype(float)
    for _ in range(4):  # the scales depend on the latitude sought: a few fixed-point steps
        _, n = _radii_of_curvature(lat)
        m, _ = _radii_of_curvature((lat + lat0_a) / 2)
        u, v = np.asarray(x) / n, np.asarray(y) / m
        rho = np.hypot(u, v)
        sin_c, cos_c = np.sin(rho), np.cos(rho)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(rho > 0, v * sin_c / np.where(rho > 0, rho, 1.0), 0.0)
        phi = np.arcsin(np.clip(cos_c * np.sin(phi0) + ratio * np.cos(phi0), -1, 1))
        lat = np.degrees(phi)
    lam = lam0 + np.arctan2(u * sin_c, rho * np.cos(phi0) * cos_c - v * np.sin(phi0) * sin_c)
    return lat, (np.degrees(lam) + 180.0) % 360.0 - 180.0


def _pyproj_aeqd(lat: np.ndarray, lon: np.ndarray, offsets: np.ndarray, lat0: np.ndarray, lon0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ellipsoidal AEQD, one pyproj transformer per window (slow; for checking)."""
    from pyproj import Transformer

    x = np.empty_like(lat)
    y = np.empty_like(lat)
    for i in range(len(offsets) - 1):
        a, b = offsets[i], offsets[i + 1]
        tr = Transformer.from_crs(
            "EPSG:4326", f"+proj=aeqd +lat_0={float(lat0[i])!r} +lon_0={float(lon0[i])!r} +datum=WGS84 +units=m", always_xy=True
        )
        x[a:b], y[a:b] = tr.transform(lon[a:b], lat[a:b])
    return x, y


# --------------------------------------------------------------------------------------------
# Cleaning and track splitting
# --------------------------------------------------------------------------------------------


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


def _factorize(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray] | None:
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
    factorized: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Factorized column *name* in track order: codes (-1 for missing) and the distinct values.
    *factorized*: :func:`_factorize` of the column, done before (or a future of it)."""
    found = _factorize(frame, name) if factorized is None else (
        factorized.result() if hasattr(factorized, "result") else factorized)
    if found is None:
        return np.full(len(order), -1, dtype=np.int64), np.empty(0, dtype=object)
    codes, values = found
    codes = codes[order]
    if clean and len(values):  # blank strings count as missing
        blank = np.array([str(v).strip() == "" for v in values] + [True])
        codes = np.where(blank[codes], -1, codes)
    return codes, values


def _attach(prep: _Prepared, factorized: dict[str, Any] | None = None) -> _Prepared:
    """Fill the per-point attribute arrays of *prep* once (cheap: factorized strings).
    *factorized*: column name to :func:`_factorize` result (or future), when started early."""
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

    obj = frame["object_id"]
    obj_na = obj.isna().to_numpy()
    codes, uniques = pd.factorize(obj, sort=True)
    t = _time_ns(frame["time"]) if "time" in frame.columns else np.full(n, np.iinfo(np.int64).min)
    t_na = t == np.iinfo(np.int64).min
    if screen:
        a, b = _float(frame, "x"), _float(frame, "y")
        pos_na = ~(np.isfinite(a) & np.isfinite(b))
        lim = settings.screen_limit_px
        out_range = ~pos_na & ((np.abs(a) > lim) | (np.abs(b) > lim))
        null_island = np.zeros(n, bool)
    else:
        a, b = _float(frame, "lat"), _float(frame, "lon")
        pos_na = ~(np.isfinite(a) & np.isfinite(b))
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

    # Sort by object then time (stable: ties keep file order; clicks first for screen tracks).
    idx = np.flatnonzero(keep)
    small = np.int16 if len(uniques) < 32_000 else np.int32  # radix sort for small integers
    if screen and "state" in frame.columns:
        not_click = ~_click_mask(frame)
        pre = idx[np.argsort(not_click[idx], kind="stable")]
    else:
        pre = idx
    kernel = _kernel()
    if kernel is not None:  # a counting sort by object, then time only where a log is out of order
        order = kernel.track_order(pre, codes, t, len(uniques))
    else:
        pre = pre[np.argsort(t[pre], kind="stable")]
        order = pre[np.argsort(codes[pre].astype(small), kind="stable")]
    # object codes in that order: sorted, so counted rather than gathered
    c_o = np.repeat(np.arange(len(uniques), dtype=np.int64), np.bincount(codes[idx], minlength=len(uniques)))
    # rows that came before an earlier report of the same object in the input
    report.reordered += int(np.sum((np.diff(order) < 0) & (c_o[1:] == c_o[:-1])))

    # Duplicate timestamps (keep the first: for screen tracks the click).
    c_o, t_o = c_o.astype(np.int64, copy=False), t[order]
    dup = np.zeros(len(order), bool)
    dup[1:] = (c_o[1:] == c_o[:-1]) & (t_o[1:] == t_o[:-1])
    n_dup = int(dup.sum())
    report.count("removed", "duplicate time", n_dup)
    if n_dup:
        keep_o = ~dup
        order, c_o, t_o = order[keep_o], c_o[keep_o], t_o[keep_o]

    # Every column is gathered into track order once; later steps filter these in order.
    speed = _float(frame, "speed_kt")
    alt = _float(frame, "altitude_ft")
    pts = _Ordered(order, c_o, t_o, *_map(lambda v: v[order], (a, b, speed), workers))
    del codes, t, a, b, speed, idx, pre, keep  # table-sized arrays no longer needed (peak memory)
    pts, jump_split, dist = _remove_spikes(pts, screen, settings, report, workers)
    order, c_o, t_o = pts.order, pts.codes, pts.t

    # Values out of range are blanked, not dropped.
    lo_alt, hi_alt = settings.altitude_range_ft
    sp, al = pts.speed.copy(), alt[order]
    bad_alt = np.isfinite(al) & ((al < lo_alt) | (al > hi_alt))
    bad_sp = np.isfinite(sp) & ((sp < 0) | (sp > settings.max_reported_speed_kt))
    report.count("blanked", "altitude out of range", int(bad_alt.sum()))
    report.count("blanked", "speed out of range", int(bad_sp.sum()))
    al[bad_alt] = np.nan
    sp[bad_sp] = np.nan

    # Track starts: new object, time gap, new-leg flag, unresolved jump.
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
    starts = np.flatnonzero(new_obj | gap | leg | jump_split)
    offsets = np.append(starts, m)

    # Drop short tracks.
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
            lambda v: v if all_kept else v[keep_pt], (t_o, pts.a, pts.b, sp, al, dist), workers))),
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


# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------


def empty_windows() -> pd.DataFrame:
    """An empty windows table with every column and its dtype."""
    cols: dict[str, Any] = {name: pd.Series(dtype=dtype) for name, dtype in SCALAR_COLUMNS.items()}
    for name in ARRAY_COLUMNS:
        cols[name] = pd.Series(dtype=object)
    return pd.DataFrame(cols)


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


def _window_ranges(prep: _Prepared, window_s: float, step_s: float, report: CleanReport) -> tuple[np.ndarray, ...]:
    """Window index ranges [lo, hi) into track order, their track and nominal start (ns)."""
    offsets = prep.offsets
    ntr = len(offsets) - 1
    t0 = prep.t[offsets[:-1]]
    dur = prep.t[offsets[1:] - 1] - t0
    w_ms, s_ms = int(round(window_s * 1000)), max(1, int(round(step_s * 1000)))
    dur_ms = dur // 1_000_000
    k = np.where(dur_ms > w_ms, -(-(dur_ms - w_ms) // s_ms) + 1, 1).astype(np.int64)
    win_track = np.repeat(np.arange(ntr), k)
    first_win = np.concatenate([[0], np.cumsum(k)[:-1]])
    kk = np.arange(len(win_track)) - np.repeat(first_win, k)
    start_ms = kk * s_ms
    counts = np.diff(offsets)
    track_of_pt = np.repeat(np.arange(ntr, dtype=np.int64), counts)
    rel_ms = (prep.t - np.repeat(t0, counts)) // 1_000_000
    key = (track_of_pt << _MS_BITS) + rel_ms
    base = win_track.astype(np.int64) << _MS_BITS
    lo = np.searchsorted(key, base + start_ms, side="left")
    hi = np.searchsorted(key, base + start_ms + w_ms, side="left")
    last = np.append(win_track[1:] != win_track[:-1], True)
    hi[last] = offsets[1:][win_track[last]]
    nominal = t0[win_track] + start_ms * 1_000_000
    n = hi - lo
    dup = np.zeros(len(lo), bool)
    dup[1:] = (lo[1:] == lo[:-1]) & (hi[1:] == hi[:-1]) & (win_track[1:] == win_track[:-1])
    few = (n < 1) & ~dup
    report.count("windows_dropped", "no points", int(few.sum()))
    report.count("windows_dropped", "same points as the previous window", int(dup.sum()))
    keep = ~dup & ~few
    return lo[keep], hi[keep], win_track[keep], nominal[keep]


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
    :func:`._window_kernel.window_figures`)."""
    lo, hi, wtrack, nominal = plan.lo, plan.hi, plan.wtrack, plan.nominal
    n = hi - lo
    nw = len(lo)
    if nw == 0:
        return None
    screen = prep.screen
    t_first, t_last = prep.t[lo], prep.t[hi - 1]
    kernel = _kernel() if ws.projection != "pyproj" else None
    dist = prep.dist if prep.dist is not None else _step_lengths(prep.a, prep.b, screen)
    if kernel is not None:  # compiled: one pass over the points, then one over each window's points
        trig, dt, pspeed_all = kernel.point_arrays(prep.t, prep.a, prep.b, prep.speed, dist, prep.offsets,
                                                   screen=screen, kt_per_mps=KT_PER_MPS)
        goff, pp, fig = kernel.window_figures(lo, hi, prep.t, trig, prep.a, prep.b, pspeed_all, prep.alt, dt,
                                              prep.line, screen=screen, min_segment_m=ws.min_segment_m, out=out)
        px, py, pt, pturn, pcum = (pp[k] for k in kernel.PER_POINT)
        lat_c, lon_c, net, extent, radius, path = (fig[k] for k in ("lat", "lon", "net", "extent", "radius", "path"))
        net_turn, tot_turn = fig["net_turn_deg"], fig["total_turn_deg"]
        med_speed, med_alt, med_dt = fig["median_speed"], fig["median_alt"], fig["median_dt"]
        line_first, line_last = fig["line_first"], fig["line_last"]
        gidx = None
    else:
        dt, pspeed_all = _point_speeds(prep, dist)
        (goff, px, py, pt, pturn, pcum, lat_c, lon_c, net, extent, radius, path, net_turn, tot_turn,
         med_speed, med_alt, med_dt, line_first, line_last, gidx) = _figures_numpy(
            prep, lo, hi, n, ws, dt, pspeed_all, t_first)
    with np.errstate(invalid="ignore", divide="ignore"):
        straight = np.where(path > 0, np.minimum(net / np.where(path > 0, path, 1.0), 1.0), 1.0)

    # Provenance and identity.
    files = np.append(prep.files, None)
    source_file = files[prep.file_code[lo]]
    callsign = _window_callsigns(prep, lo, hi, wtrack)
    track_obj = prep.track_object[wtrack]
    track_ids = np.array([f"{o}_{k}" for o, k in zip(prep.track_object, prep.track_no)], dtype=object)
    safe_tracks = np.array([f"{_safe_id(o)}_{k}" for o, k in zip(prep.track_object, prep.track_no)], dtype=object)
    window_id = _window_ids(safe_tracks[wtrack], nominal, window_s)

    ev_x, ev_y, ev_kind = _events(prep, lo, gidx, goff, px, py)
    slices = _slices(goff)
    own = _slices(lo, hi)  # each window's own points, in track order
    few_points = n < ws.few_points
    report.windows += nw
    report.few_point_windows += int(few_points.sum())
    # Raw columns; windows_with_report builds one table from all chunks (see _assemble).
    return {
        "window_id": window_id,
        "object_id": track_obj,
        "track_id": track_ids[wtrack],
        "callsign": callsign,
        "start": t_first,
        "end": t_last,
        "window_s": np.full(nw, float(window_s)),
        "source_file": source_file,
        "line_first": line_first.astype(np.int64),
        "line_last": line_last.astype(np.int64),
        "lat": lat_c,
        "lon": lon_c,
        "units": "px" if screen else "m",
        "n_points": n.astype(np.int64),
        "duration_s": (t_last - t_first) / _NS,
        "path_length_m": path,
        "net_displacement_m": net,
        "straightness": straight,
        "total_turn_deg": tot_turn,
        "net_turn_rev": net_turn / 360.0,
        "radius_m": radius,
        "extent_m": extent,
        "median_speed_kt": med_speed,
        "median_altitude_ft": med_alt,
        "sample_interval_s": med_dt,
        "few_points": few_points,
        "px": _split(px, slices),
        "py": _split(py, slices),
        "pt": _split(pt, slices),
        "pspeed": _split(_read_only(pspeed_all), own),  # speeds and altitudes: views, not copies
        "palt": _split(_read_only(prep.alt), own),
        "pturn": _split(pturn, slices),
        "pcumturn": _split(pcum, slices),
        "ev_x": ev_x,
        "ev_y": ev_y,
        "ev_kind": ev_kind,
    }


def _point_speeds(prep: _Prepared, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since the previous point of the track (NaN at track starts) and the speed per
    point: reported (kt), else derived from the step into it (the step out of it at a track's
    start); px/s for screen tracks. The numpy twin of :func:`._window_kernel.point_arrays`."""
    m = len(prep.t)
    track_start = np.zeros(m, bool)
    track_start[prep.offsets[:-1]] = True
    dist = dist.copy()
    dist[track_start] = np.nan
    dt = np.full(m, np.nan)
    dt[1:] = np.diff(prep.t) / _NS
    dt[track_start] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        dspeed = dist / dt
    dspeed[~np.isfinite(dspeed)] = np.nan
    nxt = np.append(dspeed[1:], np.nan)
    dspeed = np.where(track_start, nxt, dspeed)
    if prep.screen:
        return dt, dspeed
    return dt, np.where(np.isfinite(prep.speed), prep.speed, dspeed * KT_PER_MPS)


def _figures_numpy(
    prep: _Prepared, lo: np.ndarray, hi: np.ndarray, n: np.ndarray, ws: WindowSettings, dt: np.ndarray,
    pspeed_all: np.ndarray, t_first: np.ndarray,
) -> tuple[Any, ...]:
    """The per-point arrays and per-window figures of :func:`_windows_one`, vectorized with numpy
    (where numba is not installed, and for the exact pyproj projection): the reference the
    compiled kernel (:mod:`._window_kernel`) is tested against."""
    screen = prep.screen
    nw = len(lo)
    # Gather per-point arrays.
    goff = np.concatenate([[0], np.cumsum(n)]).astype(np.int64)
    total = int(goff[-1])
    gidx = np.repeat(lo - goff[:-1], n) + np.arange(total)
    if screen:
        px, py = prep.a[gidx], prep.b[gidx]
        lat_c = lon_c = np.full(nw, np.nan)
        net = np.hypot(prep.a[hi - 1] - prep.a[lo], prep.b[hi - 1] - prep.b[lo])
    else:
        phi, lam = np.radians(prep.a), np.radians(prep.b)
        trig = (np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam))
        lat_c, lon_c, *trig0 = _centroids(trig, lo, hi)
        if ws.projection == "pyproj":
            px, py = _pyproj_aeqd(prep.a[gidx], prep.b[gidx], goff, lat_c, lon_c)
        else:
            px, py = _aeqd_windows(trig, gidx, trig0, n)
        net = np.hypot(px[goff[1:] - 1] - px[goff[:-1]], py[goff[1:] - 1] - py[goff[:-1]])
    extent = np.maximum(
        np.maximum.reduceat(px, goff[:-1]) - np.minimum.reduceat(px, goff[:-1]),
        np.maximum.reduceat(py, goff[:-1]) - np.minimum.reduceat(py, goff[:-1]),
    )
    radius = _fit_radius(px, py, goff, n)
    gdt = dt[gidx]
    gdt[goff[:-1]] = np.nan
    # Steps, headings and turns in the window's own plane (what its picture shows).
    starts = goff[:-1]
    seg = np.full(total, np.nan)
    head = np.full(total, np.nan)
    if total > 1:
        dx = np.diff(px)
        dy = -np.diff(py) if screen else np.diff(py)  # screen y points down
        seg[1:] = np.hypot(dx, dy)
        head[1:] = np.degrees(np.arctan2(dx, dy))
    seg[starts] = np.nan
    path = np.add.reduceat(np.nan_to_num(seg), starts)
    valid = np.isfinite(seg) & (seg > ws.min_segment_m)
    pv = _prev_true(valid)
    prev_valid = np.concatenate([[-1], pv[:-1]])
    has_prev = valid & (prev_valid >= np.repeat(starts, n))
    gturn = np.zeros(total)
    gturn[has_prev] = _wrap180(head[has_prev] - head[prev_valid[has_prev]])
    net_turn = np.add.reduceat(gturn, starts)
    tot_turn = np.add.reduceat(np.abs(gturn), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        pturn = np.where(gdt > 0, gturn / gdt, 0.0)
    pturn[~np.isfinite(pturn)] = 0.0
    cum = np.cumsum(gturn)
    pcum = cum - np.repeat(cum[starts] - gturn[starts], n)
    pt = (prep.t[gidx] - np.repeat(t_first, n)) / _NS
    gspeed = pspeed_all[gidx]
    galt = prep.alt[gidx]
    med_speed = _segment_median(gspeed, goff)
    med_alt = _segment_median(galt, goff)
    med_dt = _segment_median(gdt, goff)
    gline = prep.line[gidx]
    finite_line = np.isfinite(gline)
    line_first = np.minimum.reduceat(np.where(finite_line, gline, np.inf), starts)
    line_last = np.maximum.reduceat(np.where(finite_line, gline, -np.inf), starts)
    line_first = np.where(np.isfinite(line_first), line_first, -1)
    line_last = np.where(np.isfinite(line_last), line_last, -1)
    return (goff, px, py, pt, pturn, pcum, lat_c, lon_c, net, extent, radius, path, net_turn, tot_turn,
            med_speed, med_alt, med_dt, line_first, line_last, gidx)


_STRING_COLUMNS: Final = ("object_id", "track_id", "callsign", "source_file")


def _assemble(parts: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One windows table from the raw columns of every chunk (one copy per column, no
    per-chunk tables to concatenate)."""
    import pyarrow as pa

    if not parts:
        return empty_windows()

    def cat(name: str) -> np.ndarray:
        cols = [p[name] for p in parts]
        return cols[0] if len(cols) == 1 else np.concatenate(cols)

    ids = [p["window_id"] for p in parts]
    counts = [len(p["n_points"]) for p in parts]
    cols: dict[str, Any] = {}
    for name in SCALAR_COLUMNS:
        if name == "window_id":
            cols[name] = pd.array(ids[0] if len(ids) == 1 else pa.concat_arrays(ids), dtype="string")
        elif name in _STRING_COLUMNS:
            cols[name] = pd.array(cat(name), dtype="string")
        elif name in ("start", "end"):
            cols[name] = pd.DatetimeIndex(cat(name).view("datetime64[ns]")).tz_localize("UTC")
        elif name == "units":
            units = np.array([p["units"] for p in parts], dtype=object)
            cols[name] = pd.array(np.repeat(units, counts), dtype="string")
        else:
            cols[name] = cat(name)
    for name in ARRAY_COLUMNS:
        cols[name] = cat(name)
    return pd.DataFrame(cols)


def _window_ids(tracks: np.ndarray, nominal_ns: np.ndarray, window_s: float) -> Any:
    """``{track}_{start:%Y%m%dT%H%M%S}_{window_s}s`` for every window (vectorized with Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    label = f"{int(window_s)}s" if float(window_s).is_integer() else f"{window_s:g}s".replace(".", "p")
    iso = pa.array(np.datetime_as_string(nominal_ns.astype("datetime64[ns]"), unit="s"))  # 2024-06-01T08:00:00
    text = pc.replace_substring(pc.replace_substring(iso, "-", ""), ":", "")  # (Arrow's strftime is slower)
    return pc.binary_join_element_wise(pa.array(tracks, pa.string()), text, pa.scalar(label), "_")


def _safe_id(name: str) -> str:
    try:
        return safe_name(str(name), what="object id")
    except InputError:
        return "object"


def _centroids(trig: tuple[np.ndarray, ...], lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    """Centroid of each window's points via the mean unit vector (safe across the antimeridian):
    its latitude and longitude (degrees) and their sines and cosines."""
    sp, cp, sl, cl = trig
    parts = []
    for v in (cp * cl, cp * sl, sp):
        c = np.concatenate([[0.0], np.cumsum(v)])
        parts.append(c[hi] - c[lo])
    x, y, z = parts
    h = np.hypot(x, y)
    r = np.hypot(h, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        sl0 = np.where(h > 0, y / h, 0.0)
        cl0 = np.where(h > 0, x / h, 1.0)
    return np.degrees(np.arctan2(z, h)), np.degrees(np.arctan2(y, x)), z / r, h / r, sl0, cl0


def _fit_radius(px: np.ndarray, py: np.ndarray, goff: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Radius of the least-squares (Kasa) circle through each window's points, vectorized."""
    starts = goff[:-1]
    cnt = n.astype(float)
    mx = np.add.reduceat(px, starts) / cnt
    my = np.add.reduceat(py, starts) / cnt
    x = px - np.repeat(mx, n)
    y = py - np.repeat(my, n)
    z = x * x + y * y
    sxx, syy, sxy = (np.add.reduceat(v, starts) for v in (x * x, y * y, x * y))
    sxz, syz, sz = (np.add.reduceat(v, starts) for v in (x * z, y * z, z))
    det = sxx * syy - sxy * sxy
    ok = (det > 1e-9 * np.maximum(sxx * syy, 1e-300)) & (n >= 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(ok, (-sxz * syy + syz * sxy) / det, 0.0)
        e = np.where(ok, (-syz * sxx + sxz * sxy) / det, 0.0)
        r2 = (d * d + e * e) / 4 + sz / cnt
        r = np.sqrt(np.maximum(r2, 0))
    r = np.where(ok, np.minimum(r, RADIUS_CAP_M), RADIUS_CAP_M)
    r[~np.isfinite(r)] = RADIUS_CAP_M
    return np.where(n >= 3, r, np.nan)


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
        raise InputError("window settings must be a WindowSettings or a non-empty list of them")
    return out


def windows_with_report(
    points: pd.DataFrame,
    settings: WindowSettings | Sequence[WindowSettings] | None = None,
    *,
    tracks: TrackSettings | None = None,
    workers: int | None = None,
    chunk_points: int = 100_000,
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
    """
    with gc_paused():  # hundreds of thousands of array views: no full collections meanwhile
        return _windows_with_report(points, settings, tracks, workers, chunk_points)


def _windows_with_report(
    points: pd.DataFrame,
    settings: WindowSettings | Sequence[WindowSettings] | None,
    tracks: TrackSettings | None,
    workers: int | None,
    chunk_points: int,
) -> tuple[pd.DataFrame, CleanReport]:
    report = CleanReport()
    _check_columns(points)
    tune_allocator()  # per-chunk temporaries reuse freed memory instead of faulting in fresh pages
    ground = _ground_mask(points, _settings_list(settings))
    n_threads = workers or min(os.cpu_count() or 1, 8)
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
            return empty_windows(), report
        _attach(prep, factorized)
    bounds = _chunk_bounds(prep.offsets, chunk_points)
    jobs = [
        (ws, window_s, step_s, first, last)
        for ws in _settings_list(settings)
        for window_s, step_s in ws.lengths()
        for first, last in zip(bounds[:-1], bounds[1:])
    ]

    def plan(job: tuple[WindowSettings, float, float, int, int]) -> tuple[_Plan, CleanReport]:
        ws, window_s, step_s, first, last = job
        part = CleanReport()
        return _plan_windows(_chunk(prep, first, last), window_s, step_s, ws, part), part

    n_workers = min(len(jobs), n_threads)
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

    results = _map(run, list(range(len(jobs))), n_workers)
    for _, part in results:
        report.merge(part)
    return _assemble([cols for cols, _ in results if cols is not None]), report


def _ground_mask(points: pd.DataFrame, settings: list[WindowSettings]) -> np.ndarray | None:
    """Rows of *points* reported on the ground, when the settings ask for airborne points only
    and there are any (else None)."""
    wanted = {bool(ws.airborne_only) for ws in settings}
    if len(wanted) > 1:
        raise InputError("window settings disagree on airborne_only; use one value for all lengths")
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
) -> pd.DataFrame:
    """The windows table of *points* (see :func:`windows_with_report`, which also gives counts)."""
    return windows_with_report(points, settings, tracks=tracks)[0]


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

_META_KEY = b"flightpaths.windows"

#: File suffixes :func:`save_windows` writes.
WINDOW_OUTPUT_SUFFIXES: Final = (".parquet", ".gpkg", ".geojson")


def load_points(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """A points table from ``.parquet`` files written by ``flightpaths ingest`` or any log the
    ingest stage reads (SBS, aircraft.json, traces, CSV, ...), concatenated."""
    from .ingest import read_logs
    from .schema import validate_points

    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InputError("no input files given")
    if any(not str(p).strip() for p in items):
        raise InputError("an input path is empty (check the shell glob or variable that made it)")
    parquet = [Path(p) for p in items if str(p).lower().endswith(".parquet")]
    others = [p for p in items if not str(p).lower().endswith(".parquet")]
    frames = []
    for path in parquet:
        if not path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(path))
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable parquet file: {exc}", path=path) from exc
        frames.append(validate_points(frame, source=str(path)))
    if others:
        frames.append(read_logs(others).points)
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_points()
    return frames[0] if len(frames) == 1 else validate_points(pd.concat(frames, ignore_index=True))


def save_windows(windows: pd.DataFrame, path: str | Path, *, settings: dict[str, Any] | None = None) -> Path:
    """Write *windows* by suffix: parquet (:func:`write_windows`) or GeoPackage/GeoJSON
    (:func:`to_geodataframe` + :func:`write_geo`, without the per-point arrays)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        clean = {k: (dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v) for k, v in (settings or {}).items()}
        return write_windows(windows, path, settings=clean)
    if suffix in (".gpkg", ".geojson"):
        return write_geo(to_geodataframe(windows), path)
    raise InputError(f"cannot write windows as {suffix or 'a file without suffix'}; choose from "
                     f"{', '.join(WINDOW_OUTPUT_SUFFIXES)}", path=path)


def write_windows(windows: pd.DataFrame, path: str | Path, *, settings: dict[str, Any] | None = None) -> Path:
    """Write a windows table to parquet (per-point arrays as ``list<double>`` columns).

    Writes to a temporary file beside *path* and renames it, so a crash leaves no half file.
    Does not check for an existing file: callers use :func:`flightpaths.fileio.check_output`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    missing = [c for c in (*SCALAR_COLUMNS, *ARRAY_COLUMNS) if c not in windows.columns and c != "few_points"]
    if missing:
        raise SchemaError(f"not a windows table: missing column(s) {', '.join(missing)}", path=path)
    scalar = [c for c in windows.columns if c not in ARRAY_COLUMNS]
    table = pa.Table.from_pandas(windows[scalar], preserve_index=False)
    for name in ARRAY_COLUMNS:
        values = list(windows[name])
        lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        if name == "ev_kind":
            flat = pa.array([str(s) for v in values for s in v], type=pa.string())
        else:
            flat = pa.array(np.concatenate([np.asarray(v, dtype=np.float64) for v in values]) if values else _EMPTY_F, type=pa.float64())
        table = table.append_column(name, pa.ListArray.from_arrays(pa.array(offsets), flat))
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps({"format": 1, "settings": settings or {}}).encode()
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_windows(path: str | Path) -> pd.DataFrame:
    """Read a windows table written by :func:`write_windows` (arrays back as numpy arrays)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InputError(f"not a readable parquet file: {exc}", path=path) from exc
    missing = [c for c in ("window_id", "px", "py") if c not in table.column_names]
    if missing:
        raise SchemaError(f"not a windows table: missing column(s) {', '.join(missing)}", path=path)
    arrays = {}
    for name in ARRAY_COLUMNS:
        if name not in table.column_names:
            arrays[name] = _object_column([_EMPTY_S if name == "ev_kind" else _EMPTY_F] * table.num_rows)
            continue
        col = table.column(name).combine_chunks()
        offsets = col.offsets.to_numpy()
        if name == "ev_kind":
            flat = np.asarray(col.values.to_pylist(), dtype=str) if len(col.values) else np.empty(0, "<U1")
        else:
            flat = col.values.to_numpy(zero_copy_only=False).astype(np.float64)
        arrays[name] = _object_column([flat[offsets[i]:offsets[i + 1]] for i in range(len(col))])
    scalar = table.drop_columns([c for c in ARRAY_COLUMNS if c in table.column_names]).to_pandas()
    for name, dtype in SCALAR_COLUMNS.items():
        if name in scalar.columns and str(scalar[name].dtype) != dtype:
            scalar[name] = scalar[name].astype(dtype)
    for name, col in arrays.items():
        scalar[name] = col
    return scalar


def to_geodataframe(windows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Windows as a GeoDataFrame: one LineString per window (lon/lat, EPSG:4326; pixels and no
    CRS for screen tracks) plus every scalar column."""
    import geopandas as gpd

    n = len(windows)
    scalar = windows[[c for c in windows.columns if c not in ARRAY_COLUMNS]].reset_index(drop=True)
    if n == 0:
        return gpd.GeoDataFrame(scalar, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    lengths = np.array([len(v) for v in windows["px"]])
    px = np.concatenate(list(windows["px"]))
    py = np.concatenate(list(windows["py"]))
    screen = bool((windows["units"] == "px").all())
    if screen:
        xs, ys = px, py
    else:
        lat0 = np.repeat(windows["lat"].to_numpy(float), lengths)
        lon0 = np.repeat(windows["lon"].to_numpy(float), lengths)
        ys, xs = inverse_local_aeqd(px, py, lat0, lon0)
    geoms = _lines(xs, ys, lengths)
    return gpd.GeoDataFrame(scalar, geometry=geoms, crs=None if screen else "EPSG:4326")


def _lines(xs: np.ndarray, ys: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    import shapely

    geoms = np.empty(len(lengths), dtype=object)
    ids = np.repeat(np.arange(len(lengths)), lengths)
    line = lengths >= 2
    sel = line[ids]
    if line.any():
        geoms[line] = shapely.linestrings(np.column_stack([xs[sel], ys[sel]]), indices=ids[sel])
    point_rows = np.flatnonzero(lengths == 1)
    if len(point_rows):
        at = np.concatenate([[0], np.cumsum(lengths)])[point_rows]
        geoms[point_rows] = shapely.points(xs[at], ys[at])
    return geoms


def tracks_to_geodataframe(tracked: pd.DataFrame) -> gpd.GeoDataFrame:
    """One LineString per track of a :func:`split_tracks` result, with a few track figures."""
    import geopandas as gpd

    if "track_id" not in tracked.columns:
        raise SchemaError("expected the output of split_tracks (a points table with track_id)")
    report = CleanReport()
    prep = _prepare_tracked(tracked, report)
    counts = np.diff(prep.offsets)
    lo, hi = prep.offsets[:-1], prep.offsets[1:]
    if prep.screen:
        xs, ys = prep.a, prep.b
    else:
        xs, ys = prep.b, prep.a
    dist = _step_lengths(prep.a, prep.b, prep.screen)
    dist[lo[lo < len(dist)]] = 0.0
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(dist))])
    frame = pd.DataFrame(
        {
            "track_id": [f"{o}_{k}" for o, k in zip(prep.track_object, prep.track_no)],
            "object_id": pd.array(prep.track_object, dtype="string"),
            "start": pd.DatetimeIndex(prep.t[lo].view("datetime64[ns]")).tz_localize("UTC") if len(lo) else pd.DatetimeIndex([], tz="UTC"),
            "end": pd.DatetimeIndex(prep.t[hi - 1].view("datetime64[ns]")).tz_localize("UTC") if len(lo) else pd.DatetimeIndex([], tz="UTC"),
            "n_points": counts,
            "duration_s": (prep.t[hi - 1] - prep.t[lo]) / _NS if len(lo) else np.empty(0),
            "path_length_m": c[hi] - c[lo + 1] if len(lo) else np.empty(0),
        }
    )
    geoms = _lines(xs, ys, counts)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=None if prep.screen else "EPSG:4326")


def write_geo(frame: gpd.GeoDataFrame, path: str | Path, *, layer: str = "windows") -> Path:
    """Write a GeoDataFrame to GeoPackage (``.gpkg``) or GeoJSON (``.geojson``/``.json``).

    Times are written as ISO 8601 UTC strings so every GIS reads them the same way.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    drivers = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}
    if suffix not in drivers:
        raise InputError(f"cannot write {suffix or 'a file without suffix'}; choose from .gpkg, .geojson", path=path)
    out = frame.copy()
    for name in out.columns:
        if name == out.geometry.name:
            continue
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[name] = col.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype(object)
        elif str(col.dtype) in ("string", "str", "category") or col.dtype == object:
            out[name] = col.astype(object).where(col.notna(), None)
        elif col.dtype == bool:
            out[name] = col.astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.unlink(missing_ok=True)
    try:
        out.to_file(tmp, driver=drivers[suffix], layer=layer if suffix == ".gpkg" else None, engine="pyogrio")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
