"""Figures measured on a map made for people: how many loops its red track closes, how long and wide it is.

A reporter's folder of map snapshots has no window figures (no log behind the images), but the
red track on each map can be measured. :func:`map_figures` reads the track's pixels at full
resolution, before any resize: ``map_loops`` counts the areas the track closes around (holes of
at least :data:`MIN_LOOP_PX` pixels at a 600-pixel side, scaled with the side), ``map_track_length``
is the number of track pixels per image side (a length in sides), ``map_track_extent`` the
mean of the track's width and height as shares of the side, and ``map_solid_px`` the track
pixels that survive an erosion by a 5-pixel square (at a 600-pixel side): solid red, where tight
orbits drawn over each other close no hole (and the start and end markers). The transforms in
:data:`TRANSFORM_FIGURES` carry these figures: ``flightpaths train --transform red-track-loops
--figures-only`` trains on them alone, ``--figures`` beside the CNN's pooled features (the hybrid
head); the bundle records them, and ``Bundle.predict_images`` measures them on new maps.

>>> img = np.full((60, 60, 3), 250, np.uint8)
>>> img[10, 10:50] = img[50, 10:51] = img[10:50, 10] = img[10:50, 50] = (230, 20, 20)
>>> figs = map_figures(img)
>>> figs["map_loops"], round(figs["map_track_extent"], 2), figs["map_solid_px"]
(1.0, 0.67, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["MAP_FIGURES", "MIN_LOOP_PX", "TRANSFORM_FIGURES", "as_rgb", "map_figure_table", "map_figures", "red_track_mask"]

#: The figures :func:`map_figures` returns, in order.
MAP_FIGURES = ("map_loops", "map_track_length", "map_track_extent", "map_solid_px")
#: Smallest hole counted as a loop, in pixels of a 600-pixel side (scaled with the side's square).
MIN_LOOP_PX = 4.0


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An ``H x W`` or ``H x W x {1,3,4}`` uint8 array as ``H x W x 3`` RGB (alpha composited on black)."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InputError(f"expected an H x W x C uint8 image, got {image.dtype} with shape {image.shape}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    channels = image.shape[2]
    if channels == 4:
        alpha = image[:, :, 3:4].astype(np.uint16)
        return (image[:, :, :3].astype(np.uint16) * alpha // 255).astype(np.uint8)
    if channels == 1:
        return np.repeat(image, 3, axis=2)
    if channels != 3:
        raise InputError(f"expected 1, 3 or 4 channels, got {channels}")
    return image


def red_track_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean ``H x W``: the red and orange pixels of a track drawn on a light basemap."""
    v = rgb.astype(np.int16)
    r, g, b = v[:, :, 0], v[:, :, 1], v[:, :, 2]
    return (r > 150) & (r - b > 90) & (r - g > 40)


def map_figures(image: np.ndarray) -> dict[str, float]:
    """The :data:`MAP_FIGURES` of one map (any size, RGB or RGBA uint8), measured at full resolution."""
    from scipy import ndimage

    track = red_track_mask(as_rgb(image))
    side = float(max(track.shape))
    holes = ndimage.binary_fill_holes(track) & ~track
    labels, n = ndimage.label(holes)
    sizes = np.bincount(labels.ravel())[1:] if n else np.zeros(0, np.int64)
    loops = int((sizes >= MIN_LOOP_PX * (side / 600.0) ** 2).sum())
    ys, xs = np.nonzero(track)
    extent = (float(np.ptp(xs)) + float(np.ptp(ys))) / (2.0 * side) if len(xs) else 0.0
    width = max(3, int(round(side / 120.0)) | 1)
    solid = float(ndimage.binary_erosion(track, np.ones((width, width), bool)).sum()) * (600.0 / side) ** 2
    return {"map_loops": float(loops), "map_track_length": float(len(xs)) / side, "map_track_extent": extent,
            "map_solid_px": solid}


def map_figure_table(images: np.ndarray | Sequence[np.ndarray]) -> pd.DataFrame:
    """:func:`map_figures` of each image, one row each, columns :data:`MAP_FIGURES`."""
    rows = [map_figures(np.asarray(im)) for im in images]
    return pd.DataFrame(rows, columns=list(MAP_FIGURES)).astype(np.float64)


#: Image transforms whose maps carry figures of their own (the figures the hybrid head reads).
TRANSFORM_FIGURES: dict[str, tuple[tuple[str, ...], Callable[[np.ndarray], dict[str, float]]]] = {
    "red-track": (MAP_FIGURES, map_figures),
    "red-track-loops": (MAP_FIGURES, map_figures),
}
