"""A matplotlib (Agg) drawing of a track, for people and for checking the fast renderer.

It shares the fast renderer's framing (:func:`rasterize.raster.pixel_coords`) and config:
same size, line width, dot and event radii, channel colours (a segment takes the mean colour
of its two end points; matplotlib cannot shade along a segment), gap style and background.
So the two drawings should cover the same pixels; the tests measure that overlap.
Only this module of rasterize imports matplotlib, and only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .config import RenderConfig
from .raster import _dot_mask, _frames, _intensities, pixel_coords
from .track import Track, TrackBatch

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg

__all__ = ["draw_reference"]


def _rgb(colours: np.ndarray) -> np.ndarray:
    """(n, C) intensities -> (n, 3) RGB for matplotlib (grey for C=1, first 3 channels else)."""
    if colours.shape[1] == 1:
        return np.repeat(colours, 3, axis=1)
    if colours.shape[1] == 2:
        return np.column_stack([colours, np.zeros(len(colours))])
    return colours[:, :3]


def draw_reference(track: Track, config: RenderConfig | None = None, *, dpi: int = 100) -> np.ndarray:
    """Draw *track* with matplotlib: an H x W x min(C, 3) uint8 image (RGB, or grey for C=1).

    >>> img = draw_reference(Track([0, 500, 1000], [0, 400, 0]))
    >>> img.shape, img.dtype
    ((128, 128, 3), dtype('uint8'))
    """
    from matplotlib.patches import Circle

    cfg = config or RenderConfig()
    X, Y, info = pixel_coords(track, cfg)
    batch = TrackBatch.from_tracks([track])
    canvas, ax = _blank_axes(cfg, dpi)
    if info.ok:
        col = _rgb(_intensities(batch, cfg, np.zeros(len(X), np.int64), _frames(batch, cfg)).astype(float))
        fin = np.isfinite(X) & np.isfinite(Y)
        _lines(ax, batch, cfg, X, Y, fin, col, 72.0 / dpi)
        _dots(ax, batch, cfg, X, Y, col)
        _events(ax, Circle, track, cfg, info, X, Y, fin)
    canvas.draw()  # type: ignore[no-untyped-call]  # matplotlib's Agg canvas has no annotations
    rgba: np.ndarray = np.asarray(canvas.buffer_rgba())[..., :3].copy()  # type: ignore[no-untyped-call]
    return rgba[..., :1] if cfg.n_channels == 1 else rgba


def _blank_axes(cfg: RenderConfig, dpi: int) -> tuple[FigureCanvasAgg, Axes]:
    """An Agg canvas of the config's size and background, and its axes in pixel coordinates (y down)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = cfg.size
    fig = Figure(figsize=(size / dpi, size / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_axis_off()
    bg = _rgb(np.array([cfg.colour(cfg.background)], float))[0]
    fig.patch.set_facecolor(bg)
    ax.set_facecolor(bg)
    return canvas, ax


def _dots(ax: Axes, batch: TrackBatch, cfg: RenderConfig, X: np.ndarray, Y: np.ndarray, col: np.ndarray) -> None:
    """Discs of ``dot_radius`` at the points the fast renderer dots (``dot_spacing``), above the lines."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Circle

    k = np.flatnonzero(_dot_mask(X, Y, np.zeros(len(X), np.int64), np.asarray(batch.new_piece), cfg.dot_spacing))
    if cfg.dot_radius > 0 and len(k):
        dots = [Circle((X[i], Y[i]), cfg.dot_radius) for i in k]
        ax.add_collection(PatchCollection(dots, facecolors=col[k], edgecolors="none", antialiased=True, zorder=2.5))


def _lines(ax: Axes, batch: TrackBatch, cfg: RenderConfig, X: np.ndarray, Y: np.ndarray, fin: np.ndarray,
           col: np.ndarray, px_to_pt: float) -> None:
    """The track's segments, one colour each (the mean of its ends), styled across time gaps."""
    from matplotlib.collections import LineCollection

    piece = np.asarray(batch.new_piece)
    idx = np.flatnonzero(fin[:-1] & fin[1:] & ~piece[1:])
    idx, alphas, styles = _gap_styles(batch, cfg, idx)
    segs = np.stack([np.column_stack([X[idx], Y[idx]]), np.column_stack([X[idx + 1], Y[idx + 1]])], axis=1)
    colours = np.column_stack([(col[idx] + col[idx + 1]) / 2, alphas])
    lc = LineCollection(list(segs), colors=colours, linewidths=cfg.line_width * px_to_pt, linestyles=styles,
                        capstyle="round", joinstyle="round", antialiased=True)
    ax.add_collection(lc)


def _gap_styles(batch: TrackBatch, cfg: RenderConfig,
                idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str | tuple[float, tuple[float, float]]]]:
    """The segments *idx* to draw, their alpha and line style, by the config's gap style."""
    alphas = np.ones(len(idx))
    styles: list[str | tuple[float, tuple[float, float]]] = ["solid"] * len(idx)
    if batch.t is not None and cfg.gap_style != "solid":
        with np.errstate(invalid="ignore"):
            gap = (batch.t[idx + 1] - batch.t[idx]) > cfg.gap_s
        if cfg.gap_style == "omit":
            idx, alphas, styles = idx[~gap], alphas[~gap], [s for s, g in zip(styles, gap) if not g]
        elif cfg.gap_style == "dim":
            alphas[gap] = cfg.gap_alpha
        else:
            w = cfg.line_width
            styles = [(0.0, (cfg.dash_on / w, cfg.dash_off / w)) if g else "solid" for g in gap]
    return idx, alphas, styles


def _events(ax, Circle, track: Track, cfg: RenderConfig, info, X: np.ndarray, Y: np.ndarray, fin: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """Event discs and start/end markers, in the fast renderer's frame."""
    lookup = dict(cfg.event_colors)
    if track.events_x is not None and cfg.event_radius > 0:
        ex = np.asarray(track.events_x, float)
        ey = np.asarray(track.events_y, float)
        kinds = list(track.events_kind) if track.events_kind is not None else [""] * len(ex)
        sign = 1.0 if track.y_down else -1.0
        for x, y, k in zip(ex, ey, kinds):
            cx = cfg.size / 2 + (x - info.centre_x) / info.units_per_pixel
            cy = cfg.size / 2 + sign * (y - info.centre_y) / info.units_per_pixel
            if np.isfinite(cx) and np.isfinite(cy):
                c = _rgb(np.array([cfg.colour(lookup.get(str(k), cfg.default_event_color))], float))[0]
                ax.add_patch(Circle((cx, cy), cfg.event_radius, facecolor=c, edgecolor="none", zorder=3))
    if cfg.markers and cfg.marker_radius > 0 and fin.any():
        ends = np.flatnonzero(fin)[[0, -1]]
        for k, colour in zip(ends, (cfg.start_color, cfg.end_color)):
            c = _rgb(np.array([cfg.colour(colour)], float))[0]
            ax.add_patch(Circle((X[k], Y[k]), cfg.marker_radius, facecolor=c, edgecolor="none", zorder=3))
