"""The compiled loops behind :func:`flightpaths.tracks.windows_with_report` (numba).

:func:`track_order` sorts the kept rows by object and time with a counting sort (stable, so
ties keep file order), :func:`step_lengths` measures each step on the ellipsoid, and
:func:`window_figures` walks each window's points once: its centroid, the local azimuthal
equidistant projection about it, extent, fitted circle, path length, headings and turns, and
the medians of speed, altitude and sampling interval, writing the per-point arrays of every
window into one flat buffer. It computes what the vectorized numpy path in :mod:`.figures` computes
(same formulas, same order of operations per point), which stays as the fallback where numba
is not installed and as the reference the tests compare against; the two agree to rounding
(sums run per window here rather than as differences of running sums). The compiled code is
cached on disk (numba's cache); the first use on a machine compiles it (seconds).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from ..kernels import COMPILED, group_rows, njit  # without numba, the numpy path in figures runs instead

__all__ = ["COMPILED", "FIGURES", "PER_POINT", "point_arrays", "step_lengths", "track_order", "window_figures"]

_A: Final = 6378137.0  # WGS84 semi-major axis (m); the same constants as tracks
_E2: Final = 6.69437999014e-3
_DEG: Final = 180.0 / math.pi
_RADIUS_CAP_M: Final = 1.0e6


def _select(v: np.ndarray, lo: int, hi: int, k: int) -> float:
    """The k-th smallest of ``v[lo:hi]`` (Hoare's quickselect, in place; median-of-three pivot)."""
    while hi - lo > 1:
        mid = (lo + hi - 1) // 2
        a, b, c = v[lo], v[mid], v[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))
        i, j = lo, hi - 1
        while i <= j:
            while v[i] < pivot:
                i += 1
            while v[j] > pivot:
                j -= 1
            if i <= j:
                v[i], v[j] = v[j], v[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            return v[k]
    return v[lo]


def _median_of(values: np.ndarray, i0: int, i1: int, scratch: np.ndarray) -> float:
    """Median of the finite values of ``values[i0:i1]`` (NaN when none)."""
    c = 0
    for i in range(i0, i1):
        v = values[i]
        if v == v and abs(v) != math.inf:
            scratch[c] = v
            c += 1
    if c == 0:
        return math.nan
    low = _select(scratch, 0, c, (c - 1) // 2)
    if c % 2:
        return low
    high = scratch[c // 2]  # everything from c // 2 on is >= low: the smallest of them
    for i in range(c // 2 + 1, c):
        high = min(high, scratch[i])
    return 0.5 * (low + high)


def _window_figures(
    lo: np.ndarray, hi: np.ndarray, goff: np.ndarray, t: np.ndarray,
    sp: np.ndarray, cp: np.ndarray, sl: np.ndarray, cl: np.ndarray, a: np.ndarray, b: np.ndarray,
    pspeed: np.ndarray, alt: np.ndarray, dt: np.ndarray, line: np.ndarray, screen: bool, min_seg: float,
    px: np.ndarray, py: np.ndarray, pt: np.ndarray, pturn: np.ndarray, pcum: np.ndarray, fig: np.ndarray,
) -> None:
    """Fill the per-point buffers (``goff`` offsets) and ``fig`` (one row per figure, one column per window: lat, lon,
    net displacement, extent, radius, path, net turn (deg), total turn, median speed, median
    altitude, median interval, first line, last line)."""
    nw = len(lo)
    most = 1
    for w in range(nw):
        most = max(most, hi[w] - lo[w])
    scratch = np.empty(most)
    for w in range(nw):
        i0, i1, g0 = lo[w], hi[w], goff[w]
        n = i1 - i0
        if screen:
            for k in range(n):
                px[g0 + k] = a[i0 + k]
                py[g0 + k] = b[i0 + k]
            fig[0, w] = math.nan
            fig[1, w] = math.nan
        else:
            # centroid via the mean unit vector (safe across the antimeridian)
            sx = 0.0
            sy = 0.0
            sz = 0.0
            for i in range(i0, i1):
                sx += cp[i] * cl[i]
                sy += cp[i] * sl[i]
                sz += sp[i]
            h = math.hypot(sx, sy)
            r = math.hypot(h, sz)
            sl0 = sy / h if h > 0 else 0.0
            cl0 = sx / h if h > 0 else 1.0
            sp0 = sz / r
            cp0 = h / r
            fig[0, w] = math.atan2(sz, h) * _DEG
            fig[1, w] = math.atan2(sy, sx) * _DEG
            for k in range(n):
                i = i0 + k
                sdl = sl[i] * cl0 - cl[i] * sl0  # sin(lon - lon0)
                cdl = cl[i] * cl0 + sl[i] * sl0  # cos(lon - lon0)
                xs = cp[i] * sdl
                ys = cp0 * sp[i] - sp0 * cp[i] * cdl
                s2 = xs * xs + ys * ys
                if s2 > 0.0025:
                    s = math.sqrt(s2)
                    kk = math.asin(min(s, 1.0)) / s
                else:  # arcsin(s)/s, s < 0.05
                    kk = 1.0 + s2 * (1.0 / 6.0 + s2 * (3.0 / 40.0 + s2 * (5.0 / 112.0)))
                rad_n = _A / math.sqrt(1.0 - _E2 * sp[i] * sp[i])  # prime vertical at the point
                wm = 1.0 - _E2 * (0.5 * (1.0 - (cp[i] * cp0 - sp[i] * sp0)))  # meridional halfway
                rad_m = _A * (1.0 - _E2) / (wm * math.sqrt(wm))
                px[g0 + k] = rad_n * kk * xs
                py[g0 + k] = rad_m * kk * ys
        # extent and the least-squares (Kasa) circle
        xmin = xmax = px[g0]
        ymin = ymax = py[g0]
        mx = 0.0
        my = 0.0
        for g in range(g0, g0 + n):
            x, y = px[g], py[g]
            xmin, xmax = min(xmin, x), max(xmax, x)
            ymin, ymax = min(ymin, y), max(ymax, y)
            mx += x
            my += y
        fig[3, w] = max(xmax - xmin, ymax - ymin)
        mx /= n
        my /= n
        sxx = syy = sxy = sxz = syz = szz = 0.0
        for g in range(g0, g0 + n):
            x, y = px[g] - mx, py[g] - my
            z = x * x + y * y
            sxx += x * x
            syy += y * y
            sxy += x * y
            sxz += x * z
            syz += y * z
            szz += z
        det = sxx * syy - sxy * sxy
        if n < 3:
            radius = math.nan
        elif det > 1e-9 * max(sxx * syy, 1e-300):
            d = (-sxz * syy + syz * sxy) / det
            e = (-syz * sxx + sxz * sxy) / det
            radius = min(math.sqrt(max((d * d + e * e) / 4 + szz / n, 0.0)), _RADIUS_CAP_M)
            if not radius == radius:
                radius = _RADIUS_CAP_M
        else:
            radius = _RADIUS_CAP_M
        fig[4, w] = radius
        ex, ey = px[g0 + n - 1] - px[g0], py[g0 + n - 1] - py[g0]
        fig[2, w] = math.sqrt(ex * ex + ey * ey)
        # steps, headings and turns in the window's own plane
        path = 0.0
        net_turn = 0.0
        tot_turn = 0.0
        cum = 0.0
        prev_head = 0.0
        has_prev = False
        t0 = t[i0]
        lmin = math.inf
        lmax = -math.inf
        for k in range(n):
            i, g = i0 + k, g0 + k
            pt[g] = (t[i] - t0) / 1e9
            ln = line[i]
            if ln == ln and abs(ln) != math.inf:
                lmin, lmax = min(lmin, ln), max(lmax, ln)
            turn = 0.0
            if k > 0:
                dx = px[g] - px[g - 1]
                dy = py[g] - py[g - 1]
                if screen:
                    dy = -dy  # screen y points down
                seg = math.sqrt(dx * dx + dy * dy)
                if seg == seg:
                    path += seg
                if seg > min_seg:
                    head = math.atan2(dx, dy) * _DEG
                    if has_prev:
                        x = head - prev_head + 180.0  # wrapped to [-180, 180)
                        if x < 0.0:
                            x += 360.0
                        elif x >= 360.0:
                            x -= 360.0
                        turn = x - 180.0
                    prev_head = head
                    has_prev = True
                gdt = dt[i]
                rate = turn / gdt if gdt > 0 else 0.0
                pturn[g] = rate if abs(rate) != math.inf else 0.0
            else:
                pturn[g] = 0.0
            cum += turn
            pcum[g] = cum
            net_turn += turn
            tot_turn += abs(turn)
        fig[5, w] = path
        fig[6, w] = net_turn
        fig[7, w] = tot_turn
        fig[8, w] = _median_of(pspeed, i0, i1, scratch)
        fig[9, w] = _median_of(alt, i0, i1, scratch)
        fig[10, w] = _median_of(dt, i0 + 1, i1, scratch)  # the first point's interval lies outside
        fig[11, w] = lmin if lmin != math.inf else -1.0
        fig[12, w] = lmax if lmax != -math.inf else -1.0


def _point_pass(
    t: np.ndarray, a: np.ndarray, b: np.ndarray, speed: np.ndarray, dist: np.ndarray, track_start: np.ndarray,
    screen: bool, kt_per_mps: float, trig: np.ndarray, dt: np.ndarray, pspeed: np.ndarray,
) -> None:
    """Per point of a run of tracks: sines and cosines of latitude and longitude (rows of
    *trig*; geographic tracks), seconds since the previous point (NaN at a track's start) and
    the speed to show: the reported one (kt), else derived from the step into the point (the
    step out of it at a track's start); px/s for screen tracks."""
    m = len(t)
    rad = math.pi / 180.0
    for i in range(m):
        if not screen:
            phi, lam = a[i] * rad, b[i] * rad
            trig[0, i] = math.sin(phi)
            trig[1, i] = math.cos(phi)
            trig[2, i] = math.sin(lam)
            trig[3, i] = math.cos(lam)
        dt[i] = math.nan if i == 0 or track_start[i] else (t[i] - t[i - 1]) / 1e9
    for i in range(m):
        j = i + 1 if track_start[i] else i  # a track's first point: the step out of it
        d = math.nan
        if j < m and not track_start[j]:
            d = dist[j] / dt[j]
            if abs(d) == math.inf:
                d = math.nan
        if screen:
            pspeed[i] = d
        else:
            s = speed[i]
            pspeed[i] = s if s == s and abs(s) != math.inf else d * kt_per_mps

def _step_lengths(a: np.ndarray, b: np.ndarray, screen: bool, dist: np.ndarray) -> None:
    """Length of each step i-1 -> i into *dist* (element 0: NaN); see ``clean._step_lengths_one``."""
    n = len(a)
    if n:
        dist[0] = math.nan
    rad = math.pi / 180.0
    cp_prev = math.cos(a[0] * rad) if n and not screen else 0.0
    for i in range(1, n):
        if screen:
            dx, dy = a[i] - a[i - 1], b[i] - b[i - 1]
            dist[i] = math.sqrt(dx * dx + dy * dy)
            continue
        cp = math.cos(a[i] * rad)
        c_mid = 0.5 * (cp + cp_prev)
        cp_prev = cp
        w = 1.0 - _E2 * (1.0 - c_mid * c_mid)
        n_mid = _A / math.sqrt(w)
        m_mid = n_mid * (1.0 - _E2) / w
        x = b[i] - b[i - 1] + 180.0  # longitude step wrapped to [-180, 180)
        if x < 0.0:
            x += 360.0
        elif x >= 360.0:
            x -= 360.0
        dx = (x - 180.0) * rad * c_mid * n_mid
        dy = (a[i] - a[i - 1]) * rad * m_mid
        dist[i] = math.sqrt(dx * dx + dy * dy)


if COMPILED:
    _step_lengths = njit(cache=True, nogil=True, error_model="numpy")(_step_lengths)
    _point_pass = njit(cache=True, nogil=True, error_model="numpy")(_point_pass)
    _select = njit(cache=True, nogil=True, error_model="numpy")(_select)
    _median_of = njit(cache=True, nogil=True, error_model="numpy")(_median_of)
    _window_figures = njit(cache=True, nogil=True, error_model="numpy")(_window_figures)

#: the per-point arrays :func:`window_figures` writes, in the order of its *out* rows
PER_POINT: Final = ("px", "py", "pt", "pturn", "pcumturn")
#: columns of the per-window figure matrix that :func:`window_figures` returns
FIGURES: Final = ("lat", "lon", "net", "extent", "radius", "path", "net_turn_deg", "total_turn_deg",
                  "median_speed", "median_alt", "median_dt", "line_first", "line_last")


def window_figures(
    lo: np.ndarray, hi: np.ndarray, t: np.ndarray, trig: tuple[np.ndarray, ...] | None,
    a: np.ndarray, b: np.ndarray, pspeed: np.ndarray, alt: np.ndarray, dt: np.ndarray, line: np.ndarray,
    *, screen: bool, min_segment_m: float, out: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Offsets of each window's points in the flat per-point arrays, those arrays
    (:data:`PER_POINT`) and the per-window figures (:data:`FIGURES`). A window's speeds and
    altitudes are ``pspeed[lo:hi]`` and ``alt[lo:hi]`` as they are: not copied.

    *lo*, *hi*: each window's point range in track order (at least one point); *trig*: sines and
    cosines of latitude and longitude per point (None for screen tracks); *dt*: seconds since
    the previous point of the track (NaN at track starts); *out*: where to write the per-point
    arrays (shape ``(len(PER_POINT), total points)``; new when None).
    """
    n = hi - lo
    goff = np.zeros(len(lo) + 1, dtype=np.int64)
    np.cumsum(n, out=goff[1:])
    total = int(goff[-1])
    if out is None:
        out = np.empty((len(PER_POINT), total))
    if out.shape != (len(PER_POINT), total):
        raise ValueError(f"out has shape {out.shape}; expected {(len(PER_POINT), total)}")
    per_point = dict(zip(PER_POINT, out))
    fig = np.empty((len(FIGURES), len(lo)))
    empty = np.empty(0)
    sp, cp, sl, cl = trig if trig is not None else (empty, empty, empty, empty)
    _window_figures(
        lo.astype(np.int64), hi.astype(np.int64), goff, t, sp, cp, sl, cl, a, b, pspeed, alt, dt, line,
        bool(screen), float(min_segment_m), per_point["px"], per_point["py"], per_point["pt"],
        per_point["pturn"], per_point["pcumturn"], fig,
    )
    return goff, per_point, dict(zip(FIGURES, fig))


def track_order(pre: np.ndarray, codes: np.ndarray, t: np.ndarray, ncodes: int) -> np.ndarray:
    """Rows *pre* sorted by object code (``0 .. ncodes-1``), then time (int64), stably: rows
    that tie keep their order in *pre*.

    >>> track_order(np.array([0, 1, 2, 3]), np.array([1, 0, 1, 0]), np.array([5, 9, 3, 9]), 2).tolist()
    [1, 3, 2, 0]
    """
    return group_rows(np.ascontiguousarray(pre, dtype=np.int64), codes, t, int(ncodes))[0]


def step_lengths(a: np.ndarray, b: np.ndarray, screen: bool) -> np.ndarray:
    """Length (m, or px for screen tracks) of each step i-1 -> i; element 0 is NaN."""
    dist = np.empty(len(a))
    _step_lengths(a, b, bool(screen), dist)
    return dist


def point_arrays(
    t: np.ndarray, a: np.ndarray, b: np.ndarray, speed: np.ndarray, dist: np.ndarray, offsets: np.ndarray,
    *, screen: bool, kt_per_mps: float,
) -> tuple[tuple[np.ndarray, ...] | None, np.ndarray, np.ndarray]:
    """(sin lat, cos lat, sin lon, cos lon) per point (None for screen tracks), seconds since
    the previous point of the track (NaN at track starts) and the speed per point (reported
    kt, else derived from positions; px/s for screen tracks), for the tracks cut at *offsets*.
    *dist*: the length of the step into each point (any value at track starts)."""
    m = len(t)
    track_start = np.zeros(m, np.bool_)
    track_start[offsets[:-1][offsets[:-1] < m]] = True
    trig = np.empty((0 if screen else 4, m))
    dt = np.empty(m)
    pspeed = np.empty(m)
    _point_pass(t, a, b, speed, dist, track_start, bool(screen), float(kt_per_mps), trig, dt, pspeed)
    return (None if screen else tuple(trig)), dt, pspeed
