"""rasterize: a fast, reproducible track-to-image renderer made for machines.

Pure numpy (plus the standard library); knows nothing about aircraft, mice, click or torch.
It turns arrays of x, y (with optional per-point values, breaks and events) into
H x W x C uint8 images, deterministic PNG bytes, or one ``.npy`` batch file.

- :class:`RenderConfig` (frozen, versioned, JSON round-trip) describes everything that
  affects pixels; its defaults are the ones recommended for circling detection (the reasons
  are in :mod:`rasterize.config`).
- :class:`Track` (one) and :class:`TrackBatch` (many, packed flat with offsets) are the input.
- :func:`draw` / :func:`draw_with_info` draw one track; :func:`draw_batch` draws thousands in
  a few numpy calls and says per track how it was framed (:class:`DrawInfo`) or why it was
  skipped.
- :func:`encode_png`, :func:`save_batch` / :func:`load_batch` write the results;
  :func:`draw_reference` draws the same track with matplotlib, for people and for checking.

>>> import rasterize
>>> img = rasterize.draw(rasterize.Track([0, 500, 1000], [0, 400, 0]))
>>> img.shape, img.dtype, img.max() > 0
((128, 128, 3), dtype('uint8'), np.True_)
"""

from __future__ import annotations

import numpy as np

from .batch import load_batch, save_batch
from .config import CONFIG_VERSION, FRAMES, GAP_STYLES, VARIABLES, Channel, RenderConfig, default_channel
from .png import encode_png
from .raster import DrawInfo, draw, draw_batch, draw_with_info, pixel_coords
from .track import UNITS, Track, TrackBatch

__all__ = [
    "CONFIG_VERSION",
    "Channel",
    "DrawInfo",
    "FRAMES",
    "GAP_STYLES",
    "RenderConfig",
    "Track",
    "TrackBatch",
    "UNITS",
    "VARIABLES",
    "default_channel",
    "draw",
    "draw_batch",
    "draw_reference",
    "draw_with_info",
    "encode_png",
    "load_batch",
    "pixel_coords",
    "save_batch",
]


def __dir__() -> list[str]:
    return sorted(__all__)


def draw_reference(track: Track, config: RenderConfig | None = None, *, dpi: int = 100) -> np.ndarray:
    """The matplotlib reference drawing; see :func:`rasterize.reference.draw_reference`.

    Imported on first use so ``import rasterize`` never imports matplotlib.
    """
    from .reference import draw_reference as _impl

    return _impl(track, config, dpi=dpi)
