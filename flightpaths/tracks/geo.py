"""Windows and tracks as LineStrings (GeoDataFrame) and writing them to GeoPackage/GeoJSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError, SchemaError
from ..geometry import linestrings, write_layers
from ._arrays import _NS
from .clean import _prepare_tracked, _Prepared, _step_lengths
from .columns import ARRAY_COLUMNS
from .projection import inverse_local_aeqd
from .settings import CleanReport

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = ["to_geodataframe", "tracks_to_geodataframe", "write_geo"]


def to_geodataframe(windows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Windows as a GeoDataFrame: one LineString per window (lon/lat, EPSG:4326; pixels and no
    CRS for screen tracks) plus every scalar column."""
    import geopandas as gpd

    n = len(windows)
    scalar = windows[[c for c in windows.columns if c not in ARRAY_COLUMNS]].reset_index(drop=True)
    if n == 0:
        return gpd.GeoDataFrame(scalar, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    lengths = np.array([len(v) for v in windows["px"]])
    px = np.concatenate(list(windows["px"]))
    py = np.concatenate(list(windows["py"]))
    screen = bool((windows["units"] == "px").all())
    if screen:
        xs, ys = px, py
    else:
        lat0 = np.repeat(windows["lat"].to_numpy(float), lengths)
        lon0 = np.repeat(windows["lon"].to_numpy(float), lengths)
        ys, xs = inverse_local_aeqd(px, py, lat0, lon0)
    geoms = linestrings(xs, ys, lengths)
    return gpd.GeoDataFrame(scalar, geometry=geoms, crs=None if screen else "EPSG:4326")


def tracks_to_geodataframe(tracked: pd.DataFrame) -> gpd.GeoDataFrame:
    """One LineString per track of a :func:`split_tracks` result, with a few track figures."""
    import geopandas as gpd

    if "track_id" not in tracked.columns:
        raise SchemaError("expected the output of split_tracks (a points table with track_id)")
    prep = _prepare_tracked(tracked, CleanReport())
    counts = np.diff(prep.offsets)
    if prep.screen:
        xs, ys = prep.a, prep.b
    else:
        xs, ys = prep.b, prep.a
    geoms = linestrings(xs, ys, counts)
    return gpd.GeoDataFrame(_track_table(prep), geometry=geoms, crs=None if prep.screen else "EPSG:4326")


def _track_table(prep: _Prepared) -> pd.DataFrame:
    """Per track: its id, object, start and end, point count, duration and path length."""
    lo, hi = prep.offsets[:-1], prep.offsets[1:]
    dist = _step_lengths(prep.a, prep.b, prep.screen)
    dist[lo[lo < len(dist)]] = 0.0
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(dist))])
    return pd.DataFrame(
        {
            "track_id": [f"{o}_{k}" for o, k in zip(prep.track_object, prep.track_no)],
            "object_id": pd.array(prep.track_object, dtype="string"),
            "start": pd.DatetimeIndex(prep.t[lo].view("datetime64[ns]")).tz_localize("UTC") if len(lo) else pd.DatetimeIndex([], tz="UTC"),
            "end": pd.DatetimeIndex(prep.t[hi - 1].view("datetime64[ns]")).tz_localize("UTC") if len(lo) else pd.DatetimeIndex([], tz="UTC"),
            "n_points": np.diff(prep.offsets),
            "duration_s": (prep.t[hi - 1] - prep.t[lo]) / _NS if len(lo) else np.empty(0),
            "path_length_m": c[hi] - c[lo + 1] if len(lo) else np.empty(0),
        }
    )


def write_geo(frame: gpd.GeoDataFrame, path: str | Path, *, layer: str = "windows") -> Path:
    """Write a GeoDataFrame to GeoPackage (``.gpkg``) or GeoJSON (``.geojson``/``.json``).

    Times are written as ISO 8601 UTC strings so every GIS reads them the same way.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    drivers = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}
    if suffix not in drivers:
        raise InputError(f"cannot write {suffix or 'a file without suffix'}; choose from .gpkg, .geojson", path=path)
    out = frame.copy()
    for name in out.columns:
        if name == out.geometry.name:
            continue
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[name] = col.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype(object)
        elif str(col.dtype) in ("string", "str", "category") or col.dtype == object:
            out[name] = col.astype(object).where(col.notna(), None)
        elif col.dtype == bool:
            out[name] = col.astype(np.int64)
    return write_layers(path, [(layer if suffix == ".gpkg" else None, out)], driver=drivers[suffix])
