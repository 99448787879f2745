"""How regular a path is on its raw samples: conic fits over long arcs.

A hand never draws a perfect curve: over an arc a quarter of a screen's width long, people's
raw positions stray from the best-fitting conic (an ellipse, parabola, hyperbola or a line)
by about half a percent of the arc's length. A script that moves the cursor along a formula,
or pins it to the screen's edge, stays on a conic to within pixel rounding. So per arc:

- moves only (presses and releases left out: a DELBOT file ends on a jump to its button),
  cut into strokes at silences over ``stroke_gap_s`` like the motion windows, repeated
  positions dropped;
- coordinates in screen widths on both axes (:func:`width_units`), so the resolution and the
  units (pixels or 0-1 fractions) cannot enter, and circles stay circles;
- arcs of each length in ``arc_lengths`` (screen widths: a quarter, and an eighth for paths
  too short for that) along the path every half of that length, with at least
  ``arc_min_points`` samples; at most ``max_arcs`` per file and length, evenly spread;
- ``arc_residual``: the root-mean-square distance of the raw samples from the best conic
  through them (algebraic fit, Sampson distance), divided by the arc's length.

No time enters (neither the logger's interval nor its jitter) and nothing is resampled: the
figure is the shape of the path as logged.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from .motion import MotionSettings, _seconds, _strokes, screen_fractions

__all__ = ["ARC_COLUMNS", "arc_residuals", "conic_residual", "path_arcs", "width_units"]

ARC_COLUMNS: Final = ("object_id", "arc_length", "arc_start", "arc_points", "arc_residual")
_CLICKS: Final = ("pressed", "released")


def _stated(points: pd.DataFrame, col: str) -> float:
    if col not in points.columns:
        return float("nan")
    values = pd.to_numeric(points[col], errors="coerce").to_numpy(float)
    values = values[np.isfinite(values) & (values > 0)]
    return float(values[0]) if len(values) else float("nan")


def width_units(points: pd.DataFrame, settings: MotionSettings = MotionSettings()) -> tuple[np.ndarray, np.ndarray]:
    """x and y of one file's *points* in screen widths (y scaled by the same factor as x).

    >>> p = pd.DataFrame({"x": [768.0], "y": [432.0], "screen_w": 1536.0, "screen_h": 864.0})
    >>> [float(v[0]) for v in width_units(p)]
    [0.5, 0.28125]
    >>> [float(v[0]) for v in width_units(pd.DataFrame({"x": [0.5], "y": [0.5], "screen_w": 1536.0, "screen_h": 864.0}))]
    [0.5, 0.28125]
    """
    fx, fy, how = screen_fractions(points, settings)
    w, h = _stated(points, "screen_w"), _stated(points, "screen_h")
    if how == "extent":  # x and y were divided by the file's own largest x and y
        x = pd.to_numeric(points["x"], errors="coerce").to_numpy(float)
        y = pd.to_numeric(points["y"], errors="coerce").to_numpy(float)
        w, h = max(float(np.nanmax(x)), 1.0), max(float(np.nanmax(y)), 1.0)
    aspect = h / w if np.isfinite(w) and np.isfinite(h) else 1.0
    return fx, fy * aspect


def conic_residual(x: np.ndarray, y: np.ndarray) -> float:
    """Root-mean-square distance (Sampson's first-order estimate) of the points from the best
    conic through them, with the conic's five degrees of freedom taken off; NaN under 6 points.

    >>> a = np.linspace(0, 3, 12)
    >>> bool(conic_residual(3 * np.cos(a), 2 * np.sin(a)) < 1e-9)
    True
    >>> bool(conic_residual(a, 0.3 * np.sin(5 * a)) > 0.1)  # a wave is no conic
    True
    """
    n = len(x)
    if n < 6:
        return float("nan")
    xm, ym = float(np.mean(x)), float(np.mean(y))
    scale = float(np.sqrt(np.mean((x - xm) ** 2 + (y - ym) ** 2)))
    if scale == 0.0:
        return 0.0
    u, v = (x - xm) / scale, (y - ym) / scale
    design = np.stack([u * u, u * v, v * v, u, v, np.ones(n)], axis=1)
    a = np.linalg.svd(design, full_matrices=False)[2][-1]  # the conic with the least algebraic error
    gx, gy = 2 * a[0] * u + a[1] * v + a[3], a[1] * u + 2 * a[2] * v + a[4]
    d = (design @ a) / np.maximum(np.hypot(gx, gy), 1e-12)
    return float(np.sqrt(np.sum(d * d) / (n - 5)) * scale)


def arc_residuals(x: np.ndarray, y: np.ndarray, length: float, min_points: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arcs *length* long (every half of that) of one stroke, positions in screen widths with
    repeats dropped: each arc's first sample index, its samples, and :func:`conic_residual`
    over *length*; arcs with fewer than *min_points* samples are left out."""
    along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    if len(x) < min_points or along[-1] < length:
        return np.empty(0, int), np.empty(0, int), np.empty(0)
    lo = np.unique(np.searchsorted(along, np.arange(0.0, along[-1] - length + 1e-12, length / 2)))
    hi = np.searchsorted(along, along[lo] + length, side="right")
    keep = (hi - lo >= min_points) & (along[np.minimum(hi, len(x)) - 1] - along[lo] >= 0.9 * length)
    lo, hi = lo[keep], hi[keep]
    res = np.array([conic_residual(x[a:b], y[a:b]) for a, b in zip(lo.tolist(), hi.tolist())]) / length
    return lo, hi - lo, res


def _moves(one: pd.DataFrame) -> pd.DataFrame:
    if "state" not in one.columns:
        return one
    state = one["state"].astype("string").str.lower().fillna("")
    return one[~state.isin(_CLICKS).to_numpy()]


def _file_arcs(one: pd.DataFrame, settings: MotionSettings) -> pd.DataFrame:
    """The arcs of one file (its points in time order) at every length, as :data:`ARC_COLUMNS` less ``object_id``."""
    one = _moves(one)
    t = _seconds(one)
    x, y = width_units(one, settings)
    ok = np.isfinite(t) & np.isfinite(x) & np.isfinite(y)
    t, x, y = t[ok], x[ok], y[ok]
    strokes = []
    for lo, hi in _strokes(t, settings.stroke_gap_s):
        sx, sy = x[lo:hi], y[lo:hi]
        moved = np.concatenate([[True], (np.diff(sx) != 0) | (np.diff(sy) != 0)])
        strokes.append((sx[moved], sy[moved], t[lo:hi][moved] - t[0]))
    frames = []
    for length in settings.arc_lengths:
        found = [(st[first], n, r) for sx, sy, st in strokes
                 for first, n, r in [arc_residuals(sx, sy, length, settings.arc_min_points)] if len(r)]
        if not found:
            continue
        start, count, resid = (np.concatenate(parts) for parts in zip(*found))
        if len(resid) > settings.max_arcs:  # evenly spread over the file, deterministic
            pick = np.unique(np.linspace(0, len(resid) - 1, settings.max_arcs).round().astype(int))
            start, count, resid = start[pick], count[pick], resid[pick]
        frames.append(pd.DataFrame({"arc_length": length, "arc_start": start, "arc_points": count, "arc_residual": resid}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def path_arcs(points: pd.DataFrame, settings: MotionSettings = MotionSettings()) -> pd.DataFrame:
    """One row per arc of every object (file) in *points*: :data:`ARC_COLUMNS` (``arc_length``:
    screen widths; ``arc_start``: seconds into the file; ``arc_points``: raw samples on the arc).
    Files too short give none."""
    frames = []
    for object_id, one in points.groupby("object_id", sort=True, observed=True):
        arcs = _file_arcs(one.sort_values("time", kind="stable"), settings)
        if len(arcs):
            frames.append(arcs.assign(object_id=str(object_id)))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float if c != "object_id" else object) for c in ARC_COLUMNS})
    return pd.concat(frames, ignore_index=True)[list(ARC_COLUMNS)]
