"""Geometry shared by the stages that write maps: LineStrings from flat coordinate arrays, and
the one writer of GeoPackage (and GeoJSON) files through pyogrio."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["linestrings", "quiet_pyogrio", "write_layers"]


def linestrings(xs: np.ndarray, ys: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """One geometry per run of *lengths* consecutive points of *xs*, *ys*: a LineString (a
    Point for a run of one, None for an empty run), built in one shapely call.

    >>> xy = np.array([0.0, 1, 5, 7, 8])
    >>> [g.wkt if g is not None else None for g in linestrings(xy, xy, np.array([1, 2, 0, 2]))]
    ['POINT (0 0)', 'LINESTRING (1 1, 5 5)', None, 'LINESTRING (7 7, 8 8)']
    """
    import shapely

    geoms = np.empty(len(lengths), dtype=object)
    ids = np.repeat(np.arange(len(lengths)), lengths)
    line = lengths >= 2
    sel = line[ids]
    if line.any():  # shapely numbers its lines 0, 1, ... without gaps: renumber the runs kept
        dense = np.cumsum(line)[ids[sel]] - 1
        geoms[line] = shapely.linestrings(np.column_stack([xs[sel], ys[sel]]), indices=dense)
    point_rows = np.flatnonzero(lengths == 1)
    if len(point_rows):
        at = np.concatenate([[0], np.cumsum(lengths)])[point_rows]
        geoms[point_rows] = shapely.points(xs[at], ys[at])
    return geoms


@contextmanager
def quiet_pyogrio() -> Iterator[None]:
    """pyogrio logs "Created N records" at INFO for every layer written: not for the user."""
    logger = logging.getLogger("pyogrio")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def write_layers(path: str | Path, layers: Sequence[tuple[str | None, gpd.GeoDataFrame]], *, driver: str = "GPKG") -> Path:
    """Write the ``(layer name, frame)`` pairs of *layers* to one file (GeoPackage; ``driver="GeoJSON"``
    takes one layer, name None) atomically: into a hidden temporary file beside *path*, renamed
    over it once every layer is written. Checking whether *path* may be replaced is the caller's
    job (:func:`flightpaths.fileio.check_output`). Returns *path*."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.unlink()  # the driver creates the file (none is made for an empty first layer)
        with quiet_pyogrio():
            for layer, frame in layers:
                frame.to_file(tmp, driver=driver, layer=layer, engine="pyogrio", mode="a" if tmp.exists() else "w")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
