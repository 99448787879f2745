"""Geometry shared by the stages that write maps: LineStrings from flat coordinate arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["linestrings"]


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
