"""Per-window figures and per-point arrays, vectorized with numpy: where numba is missing, for
the exact pyproj projection, and the reference the compiled kernel (:mod:`._kernel`) is tested
against."""

from __future__ import annotations

from typing import Any

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
) -> tuple[Any, ...]:
    """The per-point arrays and per-window figures of :func:`_windows_one`, vectorized with numpy
    (where numba is not installed, and for the exact pyproj projection): the reference the
    compiled kernel (:mod:`._kernel`) is tested against."""
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
