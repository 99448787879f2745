"""The fast renderer: tracks to H x W x C uint8 images, vectorised over whole batches.

How it draws. Every line segment, point dot, event disc and marker is a *capsule* (the set of
points within radius R of a segment; a disc is a zero-length capsule). For each capsule the
renderer walks its major axis one pixel column at a time and takes the K pixels across it
that can be inside, computes each pixel centre's exact distance d to the capsule and gives it
coverage ``clip(R - d, 0, 1)`` with ``R = width / 2 + 0.5`` (distance-based anti-aliasing:
the coverage integrates to the line width across the stroke). All capsules of all tracks in a
chunk are expanded together with ``np.repeat``, so there is no Python loop per track or
segment. Segments walk past their end points only as far as the join needs: a full round cap
at piece ends and sharp turns, half a pixel plus the outer wedge at gentle turns, nothing
where a dot covers the point (see ``_vertex_ext``).

Overlaps: each pixel keeps the candidate with the highest coverage (ties: the later capsule,
i.e. later in time, dots over lines), chosen with one ``np.maximum.at`` over packed integer
keys ``coverage << 32 | capsule``; this is exact and independent of evaluation order, so
deterministic. Its colour is interpolated along the segment from the per-point channel
intensities and composited over the background: ``out = bg + (colour - bg) * coverage``.
Events and markers are a second layer composited the same way on top. The arithmetic is
float32; the same input and config give the same bytes on a given platform.

Framing (see :class:`DrawInfo`): ``fit`` centres the bounding box and scales its larger side
(at least ``min_extent_*``) to ``size * (1 - 2 * padding)`` pixels, aspect kept; ``scale`` uses
``scale_m``/``scale_px`` units per pixel centred on the centroid (mean of the points).

Bad input gives a defined result, never an exception or a hang:

- no points, or no finite coordinates: a background-only image, status ``"skipped: ..."``;
- one point, or all points identical: a single dot in the centre (``status "ok"``);
- NaN/inf coordinates: that point is left out and the line breaks there;
- NaN values, or a colour variable the tracks do not carry: drawn at the channel's floor;
- a data extent above ``max_extent`` (e.g. 1e300 coordinates): background, ``"skipped: ..."``;
- in ``scale`` frames, geometry far outside the image is clipped before it is walked, so the
  work per segment is bounded by the image size whatever the coordinates.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import Channel, RenderConfig
from .track import Track, TrackBatch

__all__ = ["DrawInfo", "draw", "draw_batch", "draw_with_info", "pixel_coords"]

_LOW32 = np.int64(0xFFFFFFFF)


@dataclass(frozen=True)
class DrawInfo:
    """How one image was drawn: status, frame, scale (units per pixel), centre, data extent."""

    status: str
    frame: str
    units_per_pixel: float
    centre_x: float
    centre_y: float
    extent: float

    @property
    def ok(self) -> bool:
        """True when something was drawn."""
        return self.status == "ok"


@dataclass
class _Frames:
    cx: np.ndarray
    cy: np.ndarray
    upp: np.ndarray
    extent: np.ndarray
    status: list[str]


def _group_reduce(values: np.ndarray, starts: np.ndarray, ufunc: np.ufunc, pad: float) -> np.ndarray:
    """ufunc.reduceat per group, robust to empty groups (their result is garbage, masked later)."""
    padded = np.append(values, pad)
    return ufunc.reduceat(padded, starts) if len(starts) else np.zeros(0)


def _status(skip: str, count: int, finite: int, extent: float, cx: float, cy: float, max_extent: float) -> str:
    """``"ok"`` for a window that can be drawn, else ``"skipped: <why>"``."""
    if skip:
        return skip if skip.startswith("skipped") else f"skipped: {skip}"
    if count == 0:
        return "skipped: empty window (no points)"
    if finite == 0:
        return "skipped: no finite coordinates"
    if not (math.isfinite(extent) and extent <= max_extent and math.isfinite(cx) and math.isfinite(cy)):
        return f"skipped: extent {extent:.3g} exceeds max_extent {max_extent:.3g}"
    return "ok"


def _frames(b: TrackBatch, cfg: RenderConfig) -> _Frames:
    n, starts, counts = b.n, b.offsets[:-1], np.diff(b.offsets)
    tid = np.repeat(np.arange(n), counts)
    fin = np.isfinite(b.x) & np.isfinite(b.y)
    nfin = np.bincount(tid[fin], minlength=n)
    xmin = _group_reduce(np.where(fin, b.x, np.inf), starts, np.minimum, np.inf)
    xmax = _group_reduce(np.where(fin, b.x, -np.inf), starts, np.maximum, -np.inf)
    ymin = _group_reduce(np.where(fin, b.y, np.inf), starts, np.minimum, np.inf)
    ymax = _group_reduce(np.where(fin, b.y, -np.inf), starts, np.maximum, -np.inf)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        extent = np.maximum(xmax - xmin, ymax - ymin)
        px = b.units == "px"
        if cfg.frame == "fit":
            cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
            span = np.maximum(extent, np.where(px, cfg.min_extent_px, cfg.min_extent_m))
            span = np.where(span > 0, span, 1.0)
            upp = span / (cfg.size * (1 - 2 * cfg.padding))
        else:
            cx = np.bincount(tid[fin], weights=b.x[fin], minlength=n) / np.maximum(nfin, 1)
            cy = np.bincount(tid[fin], weights=b.y[fin], minlength=n) / np.maximum(nfin, 1)
            upp = np.where(px, cfg.scale_px, cfg.scale_m).astype(np.float64)
    status = [_status(b.skip[i], int(counts[i]), int(nfin[i]), extent[i], cx[i], cy[i], cfg.max_extent) for i in range(n)]
    bad = np.array([s != "ok" for s in status], bool)
    extent = np.where(nfin > 0, extent, np.nan)
    return _Frames(np.where(bad, np.nan, cx), np.where(bad, np.nan, cy), np.where(bad, np.nan, upp), extent, status)


def _to_pixels(x: np.ndarray, y: np.ndarray, tid: np.ndarray, fr: _Frames, y_down: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", over="ignore"):
        px = size / 2 + (x - fr.cx[tid]) / fr.upp[tid]
        dy = (y - fr.cy[tid]) / fr.upp[tid]
        py = size / 2 + np.where(y_down[tid], dy, -dy)
    ok = np.isfinite(px) & np.isfinite(py)
    return np.where(ok, px, np.nan), np.where(ok, py, np.nan)


def _intensities(b: TrackBatch, cfg: RenderConfig, tid: np.ndarray, fr: _Frames) -> np.ndarray:
    """(points, C) float32 channel intensities through the config's fixed ranges."""
    out = np.empty((len(b.x), cfg.n_channels), np.float32)
    t = b.t if b.t is not None else np.full(len(b.x), np.nan)
    for c, ch in enumerate(cfg.channels):
        v = _channel_values(ch, b, t, tid, fr)
        with np.errstate(invalid="ignore", divide="ignore"):
            if ch.log:
                lo, hi = math.log10(ch.lo), math.log10(ch.hi)
                v = np.log10(np.maximum(v, ch.lo))
            else:
                lo, hi = ch.lo, ch.hi
            norm = np.clip((v - lo) / (hi - lo), 0.0, 1.0)
        out[:, c] = np.where(np.isfinite(norm), ch.floor + (1 - ch.floor) * norm, ch.floor)
    return out


def _channel_values(ch: Channel, b: TrackBatch, t: np.ndarray, tid: np.ndarray, fr: _Frames) -> np.ndarray:
    """The raw per-point values channel *ch* shows (before its range and floor)."""
    if ch.var == "constant":
        return np.ones(len(b.x))
    if ch.var == "time":
        return t
    if ch.var == "progress":
        span = b.window_s.copy()
        tmax = _group_reduce(np.where(np.isfinite(t), t, -np.inf), b.offsets[:-1], np.maximum, -np.inf)
        span = np.where(np.isfinite(span) & (span > 0), span, tmax)
        with np.errstate(invalid="ignore", divide="ignore"):
            progress: np.ndarray = t / span[tid]
        return progress
    if ch.var == "extent":
        extent: np.ndarray = fr.extent[tid]
        return extent
    # a variable the tracks do not carry is drawn at the floor, like NaN values
    return b.values.get(ch.var, np.full(len(b.x), np.nan))


def _clip_segments(x0, y0, x1, y1, lo: float, hi: float):  # type: ignore[no-untyped-def]
    """Liang-Barsky clip to the square [lo, hi]^2; returns keep mask and parameters t0, t1."""
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = np.zeros_like(x0), np.ones_like(x0)
    keep = np.ones(len(x0), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for p, q in ((-dx, x0 - lo), (dx, hi - x0), (-dy, y0 - lo), (dy, hi - y0)):
            keep &= ~((p == 0) & (q < 0))
            r = q / p
            t0 = np.where(p < 0, np.maximum(t0, r), t0)
            t1 = np.where(p > 0, np.minimum(t1, r), t1)
    keep &= t0 <= t1
    return keep, t0, t1


def _capsules(  # type: ignore[no-untyped-def]
    ax: np.ndarray,
    ay: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    img: np.ndarray,
    radius: float,
    size: int,
    *,
    ext_a: np.ndarray | None = None,
    ext_b: np.ndarray | None = None,
    discs: bool = False,
):
    """Candidate pixels of capsules (segments a-b with radius R, in pixel coordinates).

    Works in (u, v) = (major, minor) axis coordinates: one step per pixel along u, K pixels
    across in v. Returns flat pixel index (img * size^2 + row * size + col), coverage
    (float32), the capsule index and the projection parameter t (0 at a, 1 at b).
    ``ext_a``/``ext_b`` (default R: full round caps) say how far beyond each end point to
    walk: less where a neighbouring segment or a dot already covers the end.
    ``discs=True`` says every capsule has zero length (dots), which needs fewer pixels across.
    """
    R = float(radius)
    xmajor = np.abs(bx - ax) >= np.abs(by - ay)
    u0, u1 = np.where(xmajor, ax, ay), np.where(xmajor, bx, by)
    v0, v1 = np.where(xmajor, ay, ax), np.where(xmajor, by, bx)
    du, dv = u1 - u0, v1 - v0
    slope = np.divide(dv, du, out=np.zeros_like(du), where=du != 0)
    len2 = du * du + dv * dv
    inv_len2 = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0)
    umin, umax = np.minimum(u0, u1), np.maximum(u0, u1)
    ext_lo: float | np.ndarray
    ext_hi: float | np.ndarray
    if ext_a is None or ext_b is None:
        ext_lo = ext_hi = R
    else:
        forward = u0 <= u1
        ext_lo, ext_hi = np.where(forward, ext_a, ext_b), np.where(forward, ext_b, ext_a)
    i_lo = np.maximum(np.floor(umin - ext_lo - 0.5) + 1, 0).astype(np.int64)
    i_hi = np.minimum(np.ceil(umax + ext_hi - 0.5) - 1, size - 1).astype(np.int64)
    count = np.maximum(i_hi - i_lo + 1, 0)
    seg = np.repeat(np.arange(len(ax)), count)
    step = i_lo[seg] + (np.arange(len(seg)) - (np.cumsum(count) - count)[seg])
    v = v0[seg] + (np.clip(step + 0.5, umin[seg], umax[seg]) - u0[seg]) * slope[seg]
    # the pixels across at one step have centres in an open interval of width 2 rm,
    # rm = R sqrt(1 + slope^2): at most ceil(2 rm) of them. Steep segments need up to
    # ceil(2 R sqrt 2), shallow ones (and discs) fewer: two groups, less work.
    rm = R * np.sqrt(1 + slope ** 2)
    j0 = (np.floor(v - rm[seg] - 0.5) + 1).astype(np.int64)
    k_small, k_full = int(math.ceil(2 * R)), int(math.ceil(2 * R * math.sqrt(2)))
    small = (2 * rm <= k_small)[seg]
    geom = (u0, v0, du, dv, inv_len2, xmajor, img, R, size)
    if discs or small.all():
        return _candidates(step, seg, j0, k_small, geom)
    if not small.any():
        return _candidates(step, seg, j0, k_full, geom)
    a, b = _candidates(step[small], seg[small], j0[small], k_small, geom), _candidates(step[~small], seg[~small], j0[~small], k_full, geom)
    return tuple(np.concatenate([x, y]) for x, y in zip(a, b))


def _candidates(step: np.ndarray, seg: np.ndarray, j0: np.ndarray, K: int, geom: tuple):  # type: ignore[no-untyped-def,type-arg]
    """The K pixels across each walk step: flat index, coverage, capsule, t (see _capsules)."""
    u0, v0, du, dv, inv_len2, xmajor, img, R, size = geom
    # the per-candidate work, in float32 on (K, steps) arrays: long inner loops for numpy
    f32 = np.float32
    sdu, sdv, il2 = du[seg].astype(f32), dv[seg].astype(f32), inv_len2[seg].astype(f32)
    pu = (step + 0.5 - u0[seg]).astype(f32)
    pv = (j0 + 0.5 - v0[seg]).astype(f32) + np.arange(K, dtype=f32)[:, None]
    t = (pu * sdu) + pv * sdv
    t *= il2
    np.clip(t, f32(0), f32(1), out=t)
    ex = pu - t * sdu
    ey = pv - t * sdv
    ex *= ex
    ey *= ey
    ex += ey
    cov = f32(R) - np.sqrt(ex, out=ex)
    jj = j0 + np.arange(K)[:, None]
    hit = (cov > 0) & (jj >= 0) & (jj < size)
    k, r = np.nonzero(hit)
    pix = _flat_pixels(xmajor[seg], img[seg], step, j0, size, k, r)
    return pix, np.minimum(cov[hit], f32(1)), seg[r], t[hit]


def _flat_pixels(xm: np.ndarray, img: np.ndarray, step: np.ndarray, j0: np.ndarray, size: int, k: np.ndarray,
                 r: np.ndarray) -> np.ndarray:
    """Flat pixel index of candidate *k* across walk step *r*: x-major steps (*xm*) are columns
    (rows = j), y-major steps are rows."""
    mult = np.where(xm, size, 1)
    base = img * (size * size) + np.where(xm, step, step * size) + j0 * mult
    pix: np.ndarray = base[r] + k * mult[r]
    return pix


class _Keys(threading.local):
    """A reusable per-pixel key buffer, one per thread (after each use only the entries that
    were touched are reset, so no full-canvas clearing)."""

    def __init__(self) -> None:
        self.buf = np.zeros(0, np.int64)

    def get(self, n: int) -> np.ndarray:
        if len(self.buf) < n:
            self.buf = np.zeros(n, np.int64)
        return self.buf


_KEYS = _Keys()


def _composite(canvas: np.ndarray, pix: np.ndarray, cov: np.ndarray, c0: np.ndarray, c1: np.ndarray, prim: np.ndarray, t: np.ndarray) -> None:
    """Composite candidates onto *canvas* (n, H, W, C uint8): per pixel the best one wins."""
    if not len(pix):
        return
    q = np.rint(cov * 255).astype(np.int64)  # a 0 here composites with alpha 0: no change
    if len(c0) >= 2**32:
        raise ValueError("too many shapes in one chunk; lower the chunk size")
    # a capsule touches a pixel at most once, so (coverage, capsule) is unique per pixel;
    # ties in coverage go to the later capsule (later in time; dots after lines)
    key = (q << 32) | prim.astype(np.int64)
    best = _KEYS.get(canvas.shape[0] * canvas.shape[1] * canvas.shape[2])
    np.maximum.at(best, pix, key)
    win = np.flatnonzero(best[pix] == key)  # exactly one winning candidate per touched pixel
    best[pix] = 0
    C = canvas.shape[-1]
    where = pix[win] * C
    alpha = q[win].astype(np.float32) * np.float32(1 / 255)
    p, tw = prim[win], t[win]
    flat = canvas.reshape(-1)
    for c in range(C):  # 1-D takes per channel are much faster than row gathers
        a0 = c0[:, c].take(p)
        colour = a0 + (c1[:, c].take(p) - a0) * tw
        under = flat.take(where + c).astype(np.float32)
        flat[where + c] = np.rint(under + (colour * np.float32(255) - under) * alpha).astype(np.uint8)


def _dot_mask(X: np.ndarray, Y: np.ndarray, tid: np.ndarray, new_piece: np.ndarray, spacing: float) -> np.ndarray:
    """Points that get a dot: drawn points whose neighbours along the track are both at least
    *spacing* pixels away (a missing neighbour is far away), so sparse samples show as
    dots and dense tracks stay plain lines; ``spacing=0``: every drawn point."""
    fin: np.ndarray = np.isfinite(X) & np.isfinite(Y)
    if spacing <= 0 or len(X) < 2:
        return fin
    link = (tid[:-1] == tid[1:]) & ~new_piece[1:] & fin[:-1] & fin[1:]
    with np.errstate(invalid="ignore"):
        step = np.where(link, np.hypot(np.diff(X), np.diff(Y)), np.inf)
    prev = np.concatenate([[np.inf], step])
    nxt = np.concatenate([step, [np.inf]])
    dots: np.ndarray = fin & (np.minimum(prev, nxt) >= spacing)
    return dots


def _vertex_ext(X: np.ndarray, Y: np.ndarray, seg: np.ndarray, dotted: np.ndarray, R: float) -> np.ndarray:
    """Per point: how far (px) the segments ending there must walk past it to draw the join.

    A full round cap (R) at piece ends, at turns over 90 degrees and where the walking axis
    changes (x-major to y-major); nothing where a dot at least as wide covers the point; at
    other joins R * |sin(turn)| (the reach of the outer wedge beyond the neighbouring
    segment's walk, which covers the rest) plus half a pixel, which measured against full
    caps on wiggly dense tracks changes 0.15% of drawn pixels by at most 10 levels.
    """
    ext = np.full(len(X), R)
    if len(seg) >= 2:
        inner = seg[:-1][seg[1:] == seg[:-1] + 1] + 1  # points with a drawn segment on both sides
        ux, uy = X[inner] - X[inner - 1], Y[inner] - Y[inner - 1]
        vx, vy = X[inner + 1] - X[inner], Y[inner + 1] - Y[inner]
        norm = np.hypot(ux, uy) * np.hypot(vx, vy)
        with np.errstate(invalid="ignore", divide="ignore"):
            sin = np.abs(ux * vy - uy * vx) / norm
            cos = (ux * vx + uy * vy) / norm
        same_axis = (np.abs(ux) >= np.abs(uy)) == (np.abs(vx) >= np.abs(vy))
        gentle = (cos > 0) & np.isfinite(sin) & same_axis
        ext[inner] = np.where(gentle, np.minimum(R, R * sin + 0.5), R)
    ext[dotted] = 0.0
    return ext


def _line_layer(b: TrackBatch, cfg: RenderConfig, X: np.ndarray, Y: np.ndarray, tid: np.ndarray, col: np.ndarray, canvas: np.ndarray) -> None:
    """Draw every track's segments (styled across time gaps) and dots into *canvas*."""
    R = cfg.line_width / 2 + 0.5
    dots = _dot_mask(X, Y, tid, b.new_piece, cfg.dot_spacing) if cfg.dot_radius > 0 else np.zeros(len(X), bool)
    pix, cov, prim, t, c0, c1 = _segment_pixels(b, cfg, X, Y, tid, col, dots, R)
    parts = [(pix, cov, prim, t)]
    c0s, c1s = [c0], [c1]
    if dots.any():
        d = np.flatnonzero(dots)
        dpix, dcov, dprim, dt = _capsules(X[d], Y[d], X[d], Y[d], tid[d], cfg.dot_radius + 0.5, cfg.size, discs=True)
        parts.append((dpix, dcov, dprim + len(c0), dt))
        c0s.append(col[d])
        c1s.append(col[d])
    pix, cov, prim, t = (np.concatenate(a) for a in zip(*parts))
    _composite(canvas, pix, cov, np.concatenate(c0s), np.concatenate(c1s), prim, t)


def _segment_pixels(b: TrackBatch, cfg: RenderConfig, X: np.ndarray, Y: np.ndarray, tid: np.ndarray, col: np.ndarray,
                    dots: np.ndarray, R: float) -> tuple[np.ndarray, ...]:
    """Candidate pixels of the segments (clipped to the canvas, dashed or dimmed across gaps;
    see :func:`_capsules`) and the colours at the ends of each drawn part."""
    i, alpha, dashed = _segments(b, cfg, X, Y, tid)
    ext = _vertex_ext(X, Y, i, dots & (cfg.dot_radius + 0.5 >= R), R)
    x0, y0, x1, y1 = X[i], Y[i], X[i + 1], Y[i + 1]
    margin = cfg.line_width / 2 + 2
    keep, t0, t1 = _clip_segments(x0, y0, x1, y1, -margin, cfg.size + margin)
    i, alpha, dashed, t0, t1 = i[keep], alpha[keep], dashed[keep], t0[keep], t1[keep]
    x0, y0, x1, y1 = x0[keep], y0[keep], x1[keep], y1[keep]
    dx, dy = x1 - x0, y1 - y0
    ax, ay, bx, by = x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy
    c0 = col[i] + (col[i + 1] - col[i]) * t0[:, None].astype(np.float32)
    c1 = col[i] + (col[i + 1] - col[i]) * t1[:, None].astype(np.float32)
    pix, cov, prim, t = _capsules(ax, ay, bx, by, tid[i], R, cfg.size, ext_a=ext[i], ext_b=ext[i + 1])
    if dashed.any():
        seglen = np.hypot(bx - ax, by - ay)
        s = t0[prim] * np.hypot(dx[prim], dy[prim]) + t * seglen[prim]
        on = np.mod(s, cfg.dash_on + cfg.dash_off) < cfg.dash_on
        cov = np.where(dashed[prim] & ~on, np.float32(0), cov)
    return pix, cov * alpha[prim], prim, t, c0, c1


def _segments(b: TrackBatch, cfg: RenderConfig, X: np.ndarray, Y: np.ndarray, tid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The segments to draw (from point i to i + 1: consecutive finite points of the same track
    and piece), their alpha and whether dashed, by the config's gap style."""
    fin = np.isfinite(X) & np.isfinite(Y)
    i = np.flatnonzero((tid[:-1] == tid[1:]) & ~b.new_piece[1:] & fin[:-1] & fin[1:])
    alpha = np.ones(len(i), np.float32)
    dashed = np.zeros(len(i), bool)
    if b.t is not None and cfg.gap_style != "solid":
        with np.errstate(invalid="ignore"):
            gap = (b.t[i + 1] - b.t[i]) > cfg.gap_s
        if cfg.gap_style == "omit":
            i, alpha, dashed = i[~gap], alpha[~gap], dashed[~gap]
        elif cfg.gap_style == "dim":
            alpha[gap] = cfg.gap_alpha
        else:
            dashed = gap
    return i, alpha, dashed


def _event_layer(b: TrackBatch, cfg: RenderConfig, fr: _Frames, X: np.ndarray, Y: np.ndarray, tid: np.ndarray, canvas: np.ndarray) -> None:
    """Draw the click events and (with ``markers``) each track's start and end as discs."""
    groups = _event_discs(b, cfg, fr)
    if cfg.markers and cfg.marker_radius > 0:
        groups += _marker_discs(cfg, X, Y, tid)
    parts, cols, offset = [], [], 0
    for gx, gy, gt, gc, r in groups:
        pix, cov, prim, t = _capsules(gx, gy, gx, gy, gt, r + 0.5, cfg.size, discs=True)
        parts.append((pix, cov, prim + offset, t))
        cols.append(gc)
        offset += len(gx)
    if parts:
        pix, cov, prim, t = (np.concatenate(a) for a in zip(*parts))
        colours = np.concatenate(cols)
        _composite(canvas, pix, cov, colours, colours, prim, t)


_Discs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]  # x, y, track, colour, radius


def _event_discs(b: TrackBatch, cfg: RenderConfig, fr: _Frames) -> list[_Discs]:
    """The click events with a position, in pixels, coloured by kind (none when ``event_radius`` is 0)."""
    if not (len(b.ev_x) and cfg.event_radius > 0):
        return []
    etid = np.repeat(np.arange(b.n), np.diff(b.ev_offsets))
    ex, ey = _to_pixels(b.ev_x, b.ev_y, etid, fr, b.y_down, cfg.size)
    lookup = {k: np.array(cfg.colour(v), np.float32) for k, v in cfg.event_colors}
    default = np.array(cfg.colour(cfg.default_event_color), np.float32)
    colours = np.array([lookup.get(str(k), default) for k in b.ev_kind], np.float32).reshape(-1, cfg.n_channels)
    ok = np.isfinite(ex) & np.isfinite(ey)
    return [(ex[ok], ey[ok], etid[ok], colours[ok], cfg.event_radius)]


def _marker_discs(cfg: RenderConfig, X: np.ndarray, Y: np.ndarray, tid: np.ndarray) -> list[_Discs]:
    """Each track's first and last drawn point, in the start and end colours."""
    fin = np.flatnonzero(np.isfinite(X) & np.isfinite(Y))
    if not len(fin):
        return []
    ftid = tid[fin]
    first = fin[np.r_[True, ftid[1:] != ftid[:-1]]]
    last = fin[np.r_[ftid[1:] != ftid[:-1], True]]
    groups = []
    for idx, colour in ((first, cfg.start_color), (last, cfg.end_color)):
        col = np.tile(np.array(cfg.colour(colour), np.float32), (len(idx), 1))
        groups.append((X[idx], Y[idx], tid[idx], col, cfg.marker_radius))
    return groups


def _draw_chunk(b: TrackBatch, cfg: RenderConfig, images: np.ndarray, *, filled: bool = False) -> list[DrawInfo]:
    """Draw the tracks of *b* into *images* (n, H, W, C uint8, overwritten unless *filled*
    says it already holds the background)."""
    n, size = b.n, cfg.size
    fr = _frames(b, cfg)
    tid = np.repeat(np.arange(n), np.diff(b.offsets))
    X, Y = _to_pixels(b.x, b.y, tid, fr, b.y_down, size)
    col = _intensities(b, cfg, tid, fr)
    if not filled:
        _fill_background(images, cfg)
    _line_layer(b, cfg, X, Y, tid, col, images)
    _event_layer(b, cfg, fr, X, Y, tid, images)
    infos = [
        DrawInfo(fr.status[k], cfg.frame, float(fr.upp[k]), float(fr.cx[k]), float(fr.cy[k]), float(fr.extent[k]))
        for k in range(n)
    ]
    return infos


def _background(cfg: RenderConfig) -> list[int]:
    return [int(round(v * 255)) for v in cfg.colour(cfg.background)]


def _fill_background(images: np.ndarray, cfg: RenderConfig) -> None:
    bg = _background(cfg)
    if len(set(bg)) == 1:
        images.fill(bg[0])
    else:
        for c, v in enumerate(bg):
            images[..., c] = v


def draw_batch(
    tracks: TrackBatch | Sequence[Track], config: RenderConfig | None = None, *, chunk: int = 256, out: np.ndarray | None = None
) -> tuple[np.ndarray, list[DrawInfo]]:
    """Draw many tracks: an (N, H, W, C) uint8 array and one :class:`DrawInfo` each.

    Tracks are drawn *chunk* at a time, all of a chunk in the same numpy calls. *out*, an
    (N, H, W, C) uint8 array, is drawn into and returned (its contents are replaced): reuse
    one to avoid allocating fresh memory for every batch.

    >>> imgs, infos = draw_batch([Track([0, 100], [0, 0]), Track([], [])])
    >>> imgs.shape, [i.status for i in infos]
    ((2, 128, 128, 3), ['ok', 'skipped: empty window (no points)'])
    """
    cfg = config or RenderConfig()
    batch = tracks if isinstance(tracks, TrackBatch) else TrackBatch.from_tracks(list(tracks))
    chunk = max(1, int(chunk))
    images, filled = _canvas((batch.n, cfg.size, cfg.size, cfg.n_channels), cfg, out)
    infos: list[DrawInfo] = []
    for s in range(0, batch.n, chunk):
        e = min(s + chunk, batch.n)
        infos.extend(_draw_chunk(batch.slice(s, e), cfg, images[s:e], filled=filled))
    return images, infos


def _canvas(shape: tuple[int, int, int, int], cfg: RenderConfig, out: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """The images to draw into (*out*, checked, when given) and whether they already hold the background."""
    if out is not None:
        if out.shape != shape or out.dtype != np.uint8:
            raise ValueError(f"out must be a uint8 array of shape {shape}, got {out.dtype} {out.shape}")
        return out, False
    if set(_background(cfg)) == {0}:
        return np.zeros(shape, np.uint8), True  # calloc: zero pages come free
    return np.empty(shape, np.uint8), False


def draw_with_info(track: Track, config: RenderConfig | None = None) -> tuple[np.ndarray, DrawInfo]:
    """Draw one track; the image (H, W, C uint8) and how it was drawn."""
    images, infos = draw_batch([track], config)
    return images[0], infos[0]


def draw(track: Track, config: RenderConfig | None = None) -> np.ndarray:
    """Draw one track as an H x W x C uint8 image.

    >>> from rasterize.config import Channel
    >>> cfg = RenderConfig(size=5, channels=(Channel(),), frame="scale", scale_m=1.0, line_width=1.0, dot_radius=0)
    >>> draw(Track([-2, 2], [0, 0]), cfg)[..., 0]
    array([[  0,   0,   0,   0,   0],
           [  0,   0,   0,   0,   0],
           [255, 255, 255, 255, 255],
           [  0,   0,   0,   0,   0],
           [  0,   0,   0,   0,   0]], dtype=uint8)
    """
    return draw_with_info(track, config)[0]


def pixel_coords(track: Track, config: RenderConfig | None = None) -> tuple[np.ndarray, np.ndarray, DrawInfo]:
    """The track's points in the image's pixel coordinates (x right, y down; NaN = not drawn).

    Used by the matplotlib reference so both renderers share one framing.
    """
    cfg = config or RenderConfig()
    b = TrackBatch.from_tracks([track])
    fr = _frames(b, cfg)
    tid = np.zeros(len(b.x), np.int64)
    X, Y = _to_pixels(b.x, b.y, tid, fr, b.y_down, cfg.size)
    info = DrawInfo(fr.status[0], cfg.frame, float(fr.upp[0]), float(fr.cx[0]), float(fr.cy[0]), float(fr.extent[0]))
    return X, Y, info
