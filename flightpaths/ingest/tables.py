"""Tabular exports: OpenSky state vectors, Flightradar24 CSV/JSON, and traffic record files.

Units are converted on the way in:

- OpenSky state vectors (CSV or parquet; ``time, icao24, lat, lon, velocity, heading,
  vertrate, callsign, onground, squawk, baroaltitude, geoaltitude, lastposupdate``): metres ->
  feet, m/s -> knots and ft/min. The time is ``lastposupdate`` (when the position was
  measured) when present, else ``time``. Barometric altitude is used, geometric when that is all
  the file has.
- Flightradar24 CSV (``Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction``; Position is
  ``"lat,lon"``): feet and knots already. The file holds no ICAO address, so the object id is
  the callsign (lowercased), else the file name.
- Flightradar24 "granular" CSV (``network_time, receiver_time, hex, ...``; ``0x`` hex,
  ``07:41:03Z.515`` times, 0,0 positions dropped as "no fix").
- Flightradar24 JSON (the flight API's ``result.response.data.flight.track`` list, or a
  ``trail`` list): the ICAO address from ``aircraft.identification.modes`` / ``hex``.
- The traffic library's record files (JSON array, CSV or parquet; ``timestamp, icao24,
  callsign, latitude, longitude, altitude, groundspeed, track, vertical_rate``; feet, knots,
  ft/min already; epoch milliseconds or ISO times).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import FPM_PER_MPS, FT_PER_M, KT_PER_MPS
from .formats import register_format
from .ledger import Ledger
from .settings import IngestSettings
from .sources import Head, Source, csv_header
from .tabular import Col, build_points, iter_csv

__all__ = ["FR24_COLUMNS", "OPENSKY_COLUMNS", "TRAFFIC_COLUMNS"]

OPENSKY_COLUMNS: Final = {
    "object_id": Col("icao24", "hex"),
    "lat": Col("lat"),
    "lon": Col("lon"),
    "speed_kt": Col("velocity", scale=KT_PER_MPS),
    "track_deg": Col("heading"),
    "vrate_fpm": Col("vertrate", scale=FPM_PER_MPS),
    "callsign": Col("callsign", "text"),
    "on_ground": Col("onground", "bool"),
    "squawk": Col("squawk", "text"),
}

TRAFFIC_COLUMNS: Final = {
    "object_id": Col("icao24", "hex"),
    "time": Col("timestamp", "time"),
    "lat": Col("latitude"),
    "lon": Col("longitude"),
    "altitude_ft": Col("altitude"),
    "speed_kt": Col("groundspeed"),
    "track_deg": Col("track"),
    "vrate_fpm": Col("vertical_rate"),
    "callsign": Col("callsign", "text"),
    "squawk": Col("squawk", "text"),
    "on_ground": Col("onground", "bool"),
    "registration": Col("registration", "text"),
    "aircraft_type": Col("typecode", "text"),
    "operator": Col("operator", "text"),
}

FR24_COLUMNS: Final = {
    "time": Col("Timestamp", "time", unit="s"),
    "callsign": Col("Callsign", "text"),
    "altitude_ft": Col("Altitude"),
    "speed_kt": Col("Speed"),
    "track_deg": Col("Direction"),
}

FR24_GRANULAR_COLUMNS: Final = {
    "object_id": Col("hex", "hex"),
    "time": Col("network_time", "time"),
    "callsign": Col("callsign", "text"),
    "lat": Col("latitude"),
    "lon": Col("longitude"),
    "altitude_ft": Col("altitude"),
    "squawk": Col("squawk", "text"),
    "speed_kt": Col("speed"),
    "track_deg": Col("track"),
    "vrate_fpm": Col("vspeed"),
    "on_ground": Col("on_ground", "bool"),
}


def _opensky_spec(columns: list[str]) -> dict[str, Col]:
    spec = dict(OPENSKY_COLUMNS)
    spec["time"] = Col("lastposupdate" if "lastposupdate" in columns else "time", "time", unit="s")
    if "baroaltitude" in columns:
        spec["altitude_ft"] = Col("baroaltitude", scale=FT_PER_M)
    elif "geoaltitude" in columns:
        spec["altitude_ft"] = Col("geoaltitude", scale=FT_PER_M)
    return spec


def _is_opensky(cols: list[str]) -> bool:
    return {"icao24", "lat", "lon"} <= set(cols) and bool({"time", "lastposupdate"} & set(cols))


def _is_traffic(cols: list[str]) -> bool:
    return {"icao24", "latitude", "longitude", "timestamp"} <= set(cols)


def _sniff_opensky(head: Head) -> bool:
    cols = [c.lower() for c in head.parquet_columns()] if head.is_parquet else csv_header(head)
    return _is_opensky(cols)


#: pandas' "columns" JSON layout (``DataFrame.to_json()``): ``{"column": {"0": value, ...}, ...}``
_COLUMNS_LAYOUT: Final = re.compile(r'^\s*\{\s*"[^"]{1,64}"\s*:\s*\{\s*"\d+"\s*:')


def _sniff_traffic(head: Head) -> bool:
    if head.is_parquet:
        return _is_traffic([c.lower() for c in head.parquet_columns()])
    if head.first_char == "[":
        text = head.text[:4096]
        return '"icao24"' in text and '"latitude"' in text and '"timestamp"' in text
    if head.first_char == "{":
        return bool(_COLUMNS_LAYOUT.match(head.text)) or bool(re.match(r'^\s*\{\s*"columns"\s*:\s*\[', head.text))
    return _is_traffic(csv_header(head))


def _json_table(source: Source) -> pd.DataFrame:
    """A traffic JSON file in any of pandas' layouts: records (a list of objects), "columns"
    (``{column: {row: value}}``, what ``DataFrame.to_json()`` writes) or "split"."""
    data = source.read_json()
    if isinstance(data, list):
        if not all(isinstance(r, dict) for r in data):
            raise InputError("expected a JSON array of records (objects)", path=source.name)
        return pd.DataFrame.from_records(data)
    if isinstance(data, dict) and isinstance(data.get("columns"), list) and isinstance(data.get("data"), list):
        rows = [r for r in data["data"] if isinstance(r, list)]
        width = len(data["columns"])
        return pd.DataFrame([(r + [None] * width)[:width] for r in rows], columns=[str(c) for c in data["columns"]])
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        rows = sorted({k for v in data.values() for k in v}, key=lambda k: (not str(k).isdigit(), int(k) if str(k).isdigit() else 0, str(k)))
        return pd.DataFrame({str(c): [v.get(r) for r in rows] for c, v in data.items()})
    raise InputError("expected traffic records: a JSON array of objects, or pandas' 'columns' or 'split' layout",
                     path=source.name)


def _iter_table(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Chunks of a CSV or parquet table as ``(frame, row numbers)`` (CSV lines, parquet rows)."""
    with source.open() as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(source.path)
            start = 1
            for batch in pf.iter_batches(batch_size=settings.chunk_rows):
                frame = batch.to_pandas()
                frame.columns = [str(c).lower() for c in frame.columns]
                yield frame, np.arange(start, start + len(frame), dtype=np.int64)
                start += len(frame)
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable parquet file ({exc})", path=source.name) from exc
        return
    for frame, lines in iter_csv(source, settings, ledger):
        frame.columns = [c.lower() for c in frame.columns]
        yield frame, lines


@register_format("opensky", description="OpenSky Network state vectors, CSV or parquet", sniff=_sniff_opensky, priority=30)
def read_opensky(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """OpenSky state vectors (metres and m/s converted to feet, knots and ft/min)."""
    for frame, lines in _iter_table(source, settings, ledger):
        yield build_points(frame, _opensky_spec(list(frame.columns)), lines=lines, source=source, ledger=ledger, settings=settings)


@register_format("traffic", description="traffic library record files: JSON array, CSV or parquet", sniff=_sniff_traffic, priority=35)
def read_traffic(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """traffic record files (timestamps in epoch ms or ISO text; feet, knots, ft/min)."""
    with source.open() as fh:
        start = fh.read(64).lstrip()
    if start[:1] in (b"[", b"{"):
        table = _json_table(source)
        missing = [c for c in ("icao24", "timestamp") if c not in {str(k).lower() for k in table.columns}]
        if missing:
            raise InputError(f"traffic records without {' or '.join(missing)}; the columns are "
                             f"{', '.join(map(str, table.columns[:20]))}", path=source.name)
        for i in range(0, len(table), settings.chunk_rows):
            part = table.iloc[i:i + settings.chunk_rows].reset_index(drop=True)
            part.columns = [str(c).lower() for c in part.columns]
            spec = dict(TRAFFIC_COLUMNS)
            if pd.api.types.is_numeric_dtype(part.get("timestamp", pd.Series(dtype=float)).dtype):
                spec["time"] = Col("timestamp", "time", unit="ms")
            yield build_points(part, spec, lines=np.arange(i + 1, i + 1 + len(part)), source=source, ledger=ledger, settings=settings)
        return
    for frame, lines in _iter_table(source, settings, ledger):
        yield build_points(frame, TRAFFIC_COLUMNS, lines=lines, source=source, ledger=ledger, settings=settings)


def _sniff_fr24_csv(head: Head) -> bool:
    cols = csv_header(head)
    return cols[:4] == ["timestamp", "utc", "callsign", "position"]


def _sniff_fr24_granular(head: Head) -> bool:
    cols = csv_header(head)
    return {"network_time", "hex", "latitude", "longitude"} <= set(cols)


def _sniff_fr24_json(head: Head) -> bool:
    text = head.text
    return head.first_char == "{" and (('"result"' in text and '"flight"' in text) or '"trail"' in text)


@register_format("fr24", description='Flightradar24 CSV export (Timestamp,UTC,Callsign,Position "lat,lon",...)', sniff=_sniff_fr24_csv, priority=20)
def read_fr24_csv(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """Flightradar24 CSV; the id is the callsign (the file has no ICAO address)."""
    for frame, lines in iter_csv(source, settings, ledger):
        pos = frame["Position"].astype("string").str.split(",", n=1, expand=True) if len(frame) else pd.DataFrame(columns=[0, 1])
        if pos.shape[1] < 2:
            pos[1] = pd.NA
        frame = frame.assign(_lat=pos[0].to_numpy(), _lon=pos[1].to_numpy())
        spec = {**FR24_COLUMNS, "lat": Col("_lat"), "lon": Col("_lon")}
        points = build_points(frame, spec, lines=lines, source=source, ledger=ledger, settings=settings)
        fallback = source.path.name.split(".")[0].lower()
        points["object_id"] = points["callsign"].str.lower().fillna(fallback) if "callsign" in points else fallback
        yield points


@register_format("fr24-granular", description="Flightradar24 granular ADS-B CSV (network_time, hex, ...)", sniff=_sniff_fr24_granular, priority=20)
def read_fr24_granular(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """Flightradar24 granular CSV (``0x`` hex, ``Z.515`` times, ragged trailing columns)."""
    for frame, lines in iter_csv(source, settings, ledger, exact_width=False):
        yield build_points(frame, FR24_GRANULAR_COLUMNS, lines=lines, source=source, ledger=ledger, settings=settings)


def _fr24_track(data: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None, str | None, dict[str, Any]]:
    flight = data.get("result", {}).get("response", {}).get("data", {}).get("flight", {}) if "result" in data else data
    track = flight.get("track") or flight.get("trail") or []
    ident = flight.get("identification") or {}
    aircraft = flight.get("aircraft") or {}
    aid = aircraft.get("identification") or {}
    hexid = aid.get("modes") or aircraft.get("hex") or aid.get("hex")
    callsign = ident.get("callsign")
    model = aircraft.get("model") or {}
    operator = next((o.get("name") for o in (flight.get("airline"), flight.get("owner")) if isinstance(o, dict) and o.get("name")), None)
    built = str(((aid.get("age") or {}) if isinstance(aid.get("age"), dict) else {}).get("date") or "")[-4:]
    extra = {"registration": aid.get("registration"), "aircraft_type": model.get("code"), "type_desc": model.get("text"),
             "operator": operator, "year": built if built.isdigit() else None}
    return track, hexid, callsign, extra


def _pick(point: dict[str, Any], *keys: str) -> Any:
    """The first of *keys* (dotted paths into nested dicts: ``altitude.feet``) that *point* has a value for."""
    for key in keys:
        value: Any = point
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            return value
    return None


@register_format("fr24-json", description="Flightradar24 flight JSON (track or trail list)", sniff=_sniff_fr24_json, priority=25)
def read_fr24_json(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """Flightradar24 JSON: one flight's track (feet, knots, ft/min, epoch seconds)."""
    data = source.read_json()
    track, hexid, callsign, extra = _fr24_track(data if isinstance(data, dict) else {})
    if not isinstance(track, list) or not track:
        raise InputError("no track or trail list in this Flightradar24 JSON", path=source.name)

    rows = [{
        "time": _pick(p, "timestamp", "ts"), "lat": _pick(p, "latitude", "lat"), "lon": _pick(p, "longitude", "lng", "lon"),
        "alt": _pick(p, "altitude.feet", "alt"), "gs": _pick(p, "speed.kts", "spd"), "trk": _pick(p, "heading", "hd"),
        "vr": _pick(p, "verticalSpeed.fpm"), "squawk": _pick(p, "squawk"),
    } for p in track if isinstance(p, dict)]
    frame = pd.DataFrame(rows)
    spec = {"time": Col("time", "time", unit="s"), "lat": Col("lat"), "lon": Col("lon"), "altitude_ft": Col("alt"),
            "speed_kt": Col("gs"), "track_deg": Col("trk"), "vrate_fpm": Col("vr"), "squawk": Col("squawk", "text")}
    points = build_points(frame, spec, lines=np.arange(1, len(frame) + 1), source=source, ledger=ledger, settings=settings)
    points["object_id"] = (str(hexid).lower() if hexid else (callsign or source.path.stem).lower())
    points["callsign"] = callsign
    for key, value in extra.items():
        if value:
            points[key] = value
    yield points
