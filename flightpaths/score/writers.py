"""Writers for scoring outputs: windows.parquet, episodes.csv, episodes.geojson, episodes.kml,
episodes.gpkg.

Every writer goes through :mod:`flightpaths.fileio` (atomic, never overwrites without
``overwrite=True``). Text from data (callsigns, ids, file names) is escaped for the format
it lands in: KML is built with :mod:`xml.etree.ElementTree`, which escapes ``<``, ``&`` and
quotes, after characters that XML 1.0 cannot hold at all are removed. CSV cells that a
spreadsheet would run as formulas get a leading ``'`` (:func:`flightpaths.fileio.csv_safe_frame`).
The map formats carry each episode's track as a line (when *tracks* are given: lon/lat arrays
from :func:`flightpaths.score.leadmap.episode_lines`) and its centre, with every episode column
(identity, place and local-time columns included when the episodes have them).
"""

from __future__ import annotations

import io
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..fileio import atomic_write_bytes, atomic_write_text, check_output, csv_safe_frame
from ..geometry import write_layers
from .behaviour_model import other_stretches
from .episodes import headline_probability

__all__ = [
    "KML_NS",
    "array_columns",
    "scalar_windows",
    "write_episodes_csv",
    "write_episodes_geojson",
    "write_episodes_gpkg",
    "write_episodes_kml",
    "write_windows_parquet",
    "xml_text",
]

KML_NS = "http://www.opengis.net/kml/2.2"
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: object) -> str:
    """Text for XML: missing values become ``""``; characters XML cannot hold are dropped.

    >>> xml_text("N1\\x00<b>")
    'N1<b>'
    >>> xml_text(float("nan"))
    ''
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return _iso(value)
    return _XML_BAD.sub("", str(value))


def _iso(value: pd.Timestamp) -> str:
    if pd.isna(value):
        return ""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def array_columns(windows: pd.DataFrame) -> list[str]:
    """Columns that hold per-point arrays (numpy arrays or lists) rather than scalars."""
    out = []
    for name in windows.columns:
        if windows[name].dtype != object or windows.empty:
            continue
        first = windows[name].dropna()
        if len(first) and isinstance(first.iloc[0], (np.ndarray, list, tuple)):
            out.append(name)
    return out


def scalar_windows(windows: pd.DataFrame) -> pd.DataFrame:
    """The windows table without its per-point array columns."""
    return windows.drop(columns=array_columns(windows))


def write_windows_parquet(windows: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write every window's scalar columns and ``p_<class>`` columns to a parquet file."""
    target = check_output(path, overwrite=overwrite)
    buf = io.BytesIO()
    scalar_windows(windows).reset_index(drop=True).to_parquet(buf, index=False)
    return atomic_write_bytes(target, buf.getvalue())


def _csv_ready(episodes: pd.DataFrame) -> pd.DataFrame:
    out = episodes.copy()
    for name in ("start", "end"):
        if name in out:
            out[name] = out[name].map(lambda v: _iso(v) if not pd.isna(v) else "")
    return out


def write_episodes_csv(episodes: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the episodes table as CSV (times as ISO 8601 UTC, ``Z`` suffix; text cells that a
    spreadsheet would run as a formula are neutralised with a leading ``'``)."""
    target = check_output(path, overwrite=overwrite)
    return atomic_write_text(target, csv_safe_frame(_csv_ready(episodes)).to_csv(index=False, float_format="%.6g"))


def _behaviour_text(row: Mapping[str, Any]) -> str:
    """'(possible orbit) ' or '(possible orbit, with hover 9 min) ' when the episode names a
    behaviour, else ''."""
    name = row.get("behaviour")
    if name is None or name is pd.NA or (isinstance(name, float) and math.isnan(name)) or name == "":
        return ""
    also = other_stretches(name, row.get("behaviours"))
    return f"(possible {xml_text(name)}{', with ' + xml_text(also) if also else ''}) "


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return _iso(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    return str(value) if not isinstance(value, (int, str)) else value


def _line(tracks: Mapping[str, np.ndarray] | None, row: Mapping[str, Any]) -> np.ndarray | None:
    if not tracks:
        return None
    line = tracks.get(str(row.get("episode_id")))
    return line if line is not None and len(line) >= 2 else None


def _has_position(row: Mapping[str, Any]) -> bool:
    lat, lon = row.get("lat"), row.get("lon")
    return lat is not None and lon is not None and bool(np.isfinite(lat) and np.isfinite(lon))


def write_episodes_geojson(
    episodes: pd.DataFrame, path: str | Path, *, overwrite: bool = False, tracks: Mapping[str, np.ndarray] | None = None
) -> Path:
    """Write episodes as a GeoJSON FeatureCollection (WGS84): each episode's track as a
    LineString when *tracks* has it, else its centre as a Point; the centre is always in the
    ``lat``/``lon`` properties. Screen episodes (no lat/lon) get a ``null`` geometry."""
    target = check_output(path, overwrite=overwrite)
    features = []
    for row in episodes.to_dict(orient="records"):
        lat, lon = row.get("lat"), row.get("lon")
        geometry = None
        line = _line(tracks, row)
        if line is not None:
            geometry = {"type": "LineString", "coordinates": np.round(line, 6).tolist()}
        elif _has_position(row):
            geometry = {"type": "Point", "coordinates": [round(float(lon), 7), round(float(lat), 7)]}
        props = {k: _json_value(v) for k, v in row.items() if k not in ("lat", "lon")}
        props["lat"], props["lon"] = _json_value(lat), _json_value(lon)
        features.append({"type": "Feature", "id": props.get("episode_id"), "geometry": geometry, "properties": props})
    doc = {"type": "FeatureCollection", "features": features}
    return atomic_write_text(target, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")


def write_episodes_gpkg(
    episodes: pd.DataFrame, path: str | Path, *, overwrite: bool = False, tracks: Mapping[str, np.ndarray] | None = None
) -> Path:
    """Write a GeoPackage with two layers: ``centres`` (a Point per geographic episode) and
    ``tracks`` (a LineString per episode with a track), both with every episode column."""
    import geopandas as gpd
    import shapely

    target = check_output(path, overwrite=overwrite)
    geo = episodes[[_has_position(r) for r in episodes.to_dict(orient="records")]] if len(episodes) else episodes
    table = _csv_ready(geo).reset_index(drop=True)
    for name in table.columns:  # GeoPackage columns need one type: text stays text
        if table[name].dtype == object:
            table[name] = table[name].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    points = shapely.points(geo["lon"].to_numpy(float), geo["lat"].to_numpy(float)) if len(geo) else []
    keep = [i for i, r in enumerate(geo.to_dict(orient="records")) if _line(tracks, r) is not None]
    lines = [shapely.LineString(_line(tracks, geo.iloc[i].to_dict())) for i in keep]  # type: ignore[arg-type]
    return write_layers(target, [("centres", gpd.GeoDataFrame(table, geometry=list(points), crs="EPSG:4326")),
                                 ("tracks", gpd.GeoDataFrame(table.iloc[keep].reset_index(drop=True), geometry=lines, crs="EPSG:4326"))])


def _sub(parent: ET.Element, tag: str, text: object | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{KML_NS}}}{tag}", attrib)
    if text is not None:
        el.text = xml_text(text)
    return el


def write_episodes_kml(
    episodes: pd.DataFrame,
    path: str | Path,
    *,
    overwrite: bool = False,
    name: str = "flightpaths episodes",
    tracks: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write episodes as KML 2.2 Placemarks for Google Earth and QGIS: the centre (a Point) and,
    when *tracks* has it, the track (a LineString) in one MultiGeometry, with the time span and
    every field. Styles only, no icon or other file to fetch; every field is XML-escaped."""
    target = check_output(path, overwrite=overwrite)
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = _sub(root, "Document")
    _sub(doc, "name", name)
    style = _sub(doc, "Style", id="episode")
    icon_style = _sub(style, "IconStyle")
    _sub(icon_style, "color", "ff0055ff")
    line_style = _sub(style, "LineStyle")
    _sub(line_style, "color", "ff7847cc")  # aabbggrr: the tip sheet's magenta
    _sub(line_style, "width", "3")
    for row in episodes.to_dict(orient="records"):
        if not _has_position(row):
            continue
        lat, lon = float(row["lat"]), float(row["lon"])
        pm = _sub(doc, "Placemark", id=f"ep{int(row.get('rank', 0) or 0)}")
        label = xml_text(row.get("registration")) or xml_text(row.get("callsign")) or xml_text(row.get("object_id"))
        _sub(pm, "name", f"#{row.get('rank')} {label} p={headline_probability(row)[0]:.2f}")
        place = xml_text(row.get("place"))
        _sub(
            pm,
            "description",
            f"possible {xml_text(row.get('class'))} episode of {xml_text(row.get('object_id'))} "
            f"{_behaviour_text(row)}"
            f"({xml_text(row.get('callsign'))}) from {xml_text(row.get('start'))} to "
            f"{xml_text(row.get('end'))}{'; ' + place if place else ''}; a pattern is not a mission: verify before reporting.",
        )
        span = _sub(pm, "TimeSpan")
        _sub(span, "begin", row.get("start"))
        _sub(span, "end", row.get("end"))
        _sub(pm, "styleUrl", "#episode")
        ext = _sub(pm, "ExtendedData")
        for key, value in row.items():
            data = _sub(ext, "Data", name=xml_text(key))
            _sub(data, "value", _json_value(value) if not isinstance(value, str) else value)
        line = _line(tracks, row)
        geom = _sub(pm, "MultiGeometry") if line is not None else pm
        point = _sub(geom, "Point")
        _sub(point, "coordinates", f"{lon:.7f},{lat:.7f},0")
        if line is not None:
            ls = _sub(geom, "LineString")
            _sub(ls, "tessellate", "1")
            _sub(ls, "coordinates", " ".join(f"{a:.6f},{b:.6f},0" for a, b in line))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return atomic_write_text(target, '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n")
