"""Offline map context for the tip sheet: land, coastlines and borders around a place.

The shipped ``data/basemap.npz`` (Natural Earth 1:50m via world-atlas; built by
``tools/make_basemap.py``) is read once; :func:`basemap_clip` returns the land polygons and
border lines inside a lon/lat box, clipped with shapely, small enough to inline per lead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import shapely

__all__ = ["BasemapClip", "basemap_clip"]


@dataclass(frozen=True)
class BasemapClip:
    """Map context in one box: *land* polygons as lists of rings and *borders* as lines, each a
    list of ``(lon, lat)`` pairs; *coast* are the land outlines inside the box."""

    land: list[list[list[tuple[float, float]]]]
    coast: list[list[tuple[float, float]]]
    borders: list[list[tuple[float, float]]]

    @property
    def empty(self) -> bool:
        return not (self.land or self.coast or self.borders)


@dataclass(frozen=True)
class _Basemap:
    land: np.ndarray  # shapely Polygons (one per land polygon)
    coast: np.ndarray  # shapely LineStrings (ring outlines)
    borders: np.ndarray  # shapely LineStrings
    land_tree: shapely.STRtree
    coast_tree: shapely.STRtree
    border_tree: shapely.STRtree


def _lines(xy: np.ndarray, offsets: np.ndarray, scale: np.ndarray, translate: np.ndarray) -> list[np.ndarray]:
    absolute = np.cumsum(xy.astype(np.int64), axis=0) * scale + translate
    return [absolute[a:b] for a, b in itertools.pairwise(offsets) if b - a >= 2]


@lru_cache(maxsize=1)
def _basemap() -> _Basemap:
    with resources.files("flightpaths.score").joinpath("data/basemap.npz").open("rb") as fh:
        npz = np.load(fh, allow_pickle=False)
        data = {k: npz[k] for k in npz.files}
    scale, translate = data["scale"], data["translate"]
    rings = _lines(data["land_xy"], data["land_offsets"], scale, translate)
    owner = data["land_polygon"]
    polys = []
    for p in np.unique(owner):
        members = [rings[i] for i in np.flatnonzero(owner == p) if len(rings[i]) >= 4]
        if members:
            polys.append(shapely.make_valid(shapely.Polygon(members[0], members[1:])))
    land = np.asarray(polys, dtype=object)
    coast = np.asarray([shapely.LineString(r) for r in rings], dtype=object)
    borders = np.asarray(
        [shapely.LineString(b) for b in _lines(data["border_xy"], data["border_offsets"], scale, translate)], dtype=object
    )
    return _Basemap(land, coast, borders, shapely.STRtree(land), shapely.STRtree(coast), shapely.STRtree(borders))


def _coords(geom: shapely.Geometry, ndigits: int) -> list[tuple[float, float]]:
    return [(round(float(x), ndigits), round(float(y), ndigits)) for x, y in np.asarray(geom.coords)[:, :2]]


def _parts(geom: shapely.Geometry, kind: str) -> list[shapely.Geometry]:
    if geom.is_empty:
        return []
    if geom.geom_type == kind:
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if g.geom_type == kind and not g.is_empty]


def basemap_clip(west: float, south: float, east: float, north: float, *, ndigits: int = 4) -> BasemapClip:
    """Land, coastlines and borders inside the box (degrees), coordinates rounded to *ndigits*.

    >>> clip = basemap_clip(-74.3, 40.5, -73.7, 41.0)  # New York harbour: land and a coast
    >>> bool(clip.land) and bool(clip.coast)
    True
    >>> basemap_clip(-30.5, 30.0, -30.0, 30.5).empty  # open Atlantic
    True
    """
    bm = _basemap()
    box = shapely.box(west, south, east, north)
    land: list[list[list[tuple[float, float]]]] = []
    for i in bm.land_tree.query(box, predicate="intersects"):
        for poly in _parts(shapely.clip_by_rect(bm.land[i], west, south, east, north), "Polygon"):
            land.append([_coords(poly.exterior, ndigits), *(_coords(r, ndigits) for r in poly.interiors)])
    coast: list[list[tuple[float, float]]] = []
    for i in bm.coast_tree.query(box, predicate="intersects"):
        for line in _parts(shapely.clip_by_rect(bm.coast[i], west, south, east, north), "LineString"):
            coast.append(_coords(line, ndigits))
    borders: list[list[tuple[float, float]]] = []
    for i in bm.border_tree.query(box, predicate="intersects"):
        for line in _parts(shapely.clip_by_rect(bm.borders[i], west, south, east, north), "LineString"):
            borders.append(_coords(line, ndigits))
    return BasemapClip(land, coast, borders)
