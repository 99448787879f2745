"""Per-window figures and per-point arrays, vectorized with numpy: where numba is missing, for
the exact pyproj projection, and the reference the compiled kernel (:mod:`._kernel`) is tested
against."""

from __future__ import annotations

import numpy as np

from ..schema import KT_PER_MPS
from ._arrays import _NS, _prev_true, _segment_median, _wrap180
from .clean import _Prepared
from .columns import RADIUS_CAP_M
from .projection import _aeqd_windows, _pyproj_aeqd
from .settings import WindowSettings

__all__: list[str] = []  # internal to the tracks package


def _point_speeds(prep: _Prepared, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since the previous point of the track (NaN at track starts) and the speed per
    point: reported (kt), else derived from the step into it (the step out of it at a track's
    start); px/s for screen tracks. The numpy twin of :func:`._kernel.point_arrays`."""
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
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """The per-point arrays and per-window figures of :func:`_windows_one`, vectorized with numpy
    (where numba is not installed, and for the exact pyproj projection): the reference the
    compiled kernel (:mod:`._kernel`) is tested against. Returns what
    :func:`._kernel.window_figures` does (offsets, per-point arrays, figures), and the
    track-order index of each window point."""
    goff = np.concatenate([[0], np.cumsum(n)]).astype(np.int64)
    gidx = np.repeat(lo - goff[:-1], n) + np.arange(int(goff[-1]))
    px, py, lat_c, lon_c, net = _window_plane(prep, lo, hi, n, ws, gidx, goff)
    gdt = dt[gidx]
    gdt[goff[:-1]] = np.nan
    turns = _turns(px, py, goff, n, gdt, screen=prep.screen, min_segment_m=ws.min_segment_m)
    line_first, line_last = _line_range(prep.line[gidx], goff[:-1])
    per_point = {"px": px, "py": py, "pt": (prep.t[gidx] - np.repeat(t_first, n)) / _NS,
                 "pturn": turns["pturn"], "pcumturn": turns["pcumturn"]}
    fig = {"lat": lat_c, "lon": lon_c, "net": net, "extent": _extent(px, py, goff[:-1]), "radius": _fit_radius(px, py, goff, n),
           "path": turns["path"], "net_turn_deg": turns["net_turn_deg"], "total_turn_deg": turns["total_turn_deg"],
           "median_speed": _segment_median(pspeed_all[gidx], goff), "median_alt": _segment_median(prep.alt[gidx], goff),
           "median_dt": _segment_median(gdt, goff), "line_first": line_first, "line_last": line_last}
    return goff, per_point, fig, gidx


def _extent(px: np.ndarray, py: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each window's extent: the larger side of its points' bounding box."""
    extent: np.ndarray = np.maximum(
        np.maximum.reduceat(px, starts) - np.minimum.reduceat(px, starts),
        np.maximum.reduceat(py, starts) - np.minimum.reduceat(py, starts),
    )
    return extent


def _window_plane(
    prep: _Prepared, lo: np.ndarray, hi: np.ndarray, n: np.ndarray, ws: WindowSettings, gidx: np.ndarray, goff: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Each window point in its window's plane (``px``, ``py``: metres from the window's centroid,
    or screen pixels as they are), each window's centroid (NaN on screens) and net displacement."""
    if prep.screen:
        nan = np.full(len(lo), np.nan)
        net = np.hypot(prep.a[hi - 1] - prep.a[lo], prep.b[hi - 1] - prep.b[lo])
        return prep.a[gidx], prep.b[gidx], nan, nan, net
    phi, lam = np.radians(prep.a), np.radians(prep.b)
    trig = (np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam))
    lat_c, lon_c, *trig0 = _centroids(trig, lo, hi)
    if ws.projection == "pyproj":
        px, py = _pyproj_aeqd(prep.a[gidx], prep.b[gidx], goff, lat_c, lon_c)
    else:
        px, py = _aeqd_windows(trig, gidx, trig0, n)
    net = np.hypot(px[goff[1:] - 1] - px[goff[:-1]], py[goff[1:] - 1] - py[goff[:-1]])
    return px, py, lat_c, lon_c, net


def _turns(px: np.ndarray, py: np.ndarray, goff: np.ndarray, n: np.ndarray, gdt: np.ndarray, *, screen: bool,
           min_segment_m: float) -> dict[str, np.ndarray]:
    """Steps, headings and turns in the window's own plane (what its picture shows): each
    window's path length and net and total turn, each point's turn rate and cumulative turn."""
    total = int(goff[-1])
    starts = goff[:-1]
    seg = np.full(total, np.nan)
    head = np.full(total, np.nan)
    if total > 1:
        dx = np.diff(px)
        dy = -np.diff(py) if screen else np.diff(py)  # screen y points down
        seg[1:] = np.hypot(dx, dy)
        head[1:] = np.degrees(np.arctan2(dx, dy))
    seg[starts] = np.nan
    gturn = _turn_steps(seg, head, starts, n, min_segment_m)
    with np.errstate(invalid="ignore", divide="ignore"):
        pturn = np.where(gdt > 0, gturn / gdt, 0.0)
    pturn[~np.isfinite(pturn)] = 0.0
    cum = np.cumsum(gturn)
    return {"path": np.add.reduceat(np.nan_to_num(seg), starts), "net_turn_deg": np.add.reduceat(gturn, starts),
            "total_turn_deg": np.add.reduceat(np.abs(gturn), starts), "pturn": pturn,
            "pcumturn": cum - np.repeat(cum[starts] - gturn[starts], n)}


def _turn_steps(seg: np.ndarray, head: np.ndarray, starts: np.ndarray, n: np.ndarray, min_segment_m: float) -> np.ndarray:
    """The turn (degrees, -180..180) at each point: from the heading of the window's previous
    step longer than *min_segment_m* to this step's; 0 where either is missing."""
    valid = np.isfinite(seg) & (seg > min_segment_m)
    pv = _prev_true(valid)
    prev_valid = np.concatenate([[-1], pv[:-1]])
    has_prev = valid & (prev_valid >= np.repeat(starts, n))
    gturn = np.zeros(len(seg))
    gturn[has_prev] = _wrap180(head[has_prev] - head[prev_valid[has_prev]])
    return gturn


def _line_range(gline: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and last source line of each window's points (-1 where none is known)."""
    finite_line = np.isfinite(gline)
    line_first = np.minimum.reduceat(np.where(finite_line, gline, np.inf), starts)
    line_last = np.maximum.reduceat(np.where(finite_line, gline, -np.inf), starts)
    return np.where(np.isfinite(line_first), line_first, -1), np.where(np.isfinite(line_last), line_last, -1)


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
