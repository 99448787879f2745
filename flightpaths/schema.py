"""The points table: one row per position report, whatever the log format.

Every reader in :mod:`flightpaths.ingest` returns a pandas DataFrame with these columns
(checked once by :func:`validate_points`). Geographic tracks fill ``lat``/``lon``; screen
tracks (mouse telemetry) fill ``x``/``y`` in pixels and leave ``lat``/``lon`` NaN.

=================  ======================  ================================================
column             dtype                   meaning and unit
=================  ======================  ================================================
object_id          string                  ICAO 24-bit hex, lowercase (``"a1b2c3"``), never
                                           a number; ``~`` prefix kept for non-ICAO ids; or a
                                           mouse session id
time               datetime64[ns, UTC]     time of the report, tz-aware UTC
lat, lon           float64                 WGS84 degrees (NaN for screen tracks)
x, y               float64                 screen pixels (NaN for geographic tracks)
altitude_ft        float64                 barometric altitude, feet (NaN on ground/unknown)
speed_kt           float64                 ground speed, knots
track_deg          float64                 track over ground, degrees clockwise from north
vrate_fpm          float64                 vertical rate, feet per minute
callsign           string                  flight id as broadcast, stripped (may be <NA>)
squawk             string                  transponder code, 4 octal digits (may be <NA>)
on_ground          boolean                 on-ground flag (nullable; SBS: -1 or 1 on the
                                           ground, 0 not, other values unknown)
new_leg            boolean                 readsb trace new-leg flag (False when unknown)
source_file        string                  the file the row came from
source_line        int64                   1-based line (text) or record (JSON) number
=================  ======================  ================================================

Optional columns kept when a source has them (strings): ``category``; the identity fields
``registration``, ``aircraft_type`` (ICAO type code, e.g. ``AS50``), ``type_desc`` (type in
words), ``operator`` (operator or owner), ``year`` (year built), ``address_type`` (the
receiver's address type, e.g. ``adsb_icao``, ``tisb_other``); ``button``, ``state`` and
``client_time`` (mouse; the client clock in seconds, a number), ``screen_w``/``screen_h`` (the
screen resolution a mouse file states, pixels).

Unit conversions done on the way in: metres -> feet (x 3.28084), m/s -> knots
(x 1.943844), m/s -> ft/min (x 196.850394), epoch seconds or milliseconds -> UTC.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from .errors import SchemaError

__all__ = [
    "FT_PER_M",
    "FPM_PER_MPS",
    "KT_PER_MPS",
    "OPTIONAL_COLUMNS",
    "POINT_COLUMNS",
    "empty_points",
    "is_screen",
    "validate_points",
]

FT_PER_M: Final = 3.280839895
KT_PER_MPS: Final = 1.943844492
FPM_PER_MPS: Final = 196.8503937

POINT_COLUMNS: Final[dict[str, str]] = {
    "object_id": "string",
    "time": "datetime64[ns, UTC]",
    "lat": "float64",
    "lon": "float64",
    "x": "float64",
    "y": "float64",
    "altitude_ft": "float64",
    "speed_kt": "float64",
    "track_deg": "float64",
    "vrate_fpm": "float64",
    "callsign": "string",
    "squawk": "string",
    "on_ground": "boolean",
    "new_leg": "boolean",
    "source_file": "string",
    "source_line": "int64",
}

OPTIONAL_COLUMNS: Final[dict[str, str]] = {
    "category": "string",
    "registration": "string",
    "aircraft_type": "string",
    "type_desc": "string",
    "operator": "string",
    "year": "string",
    "address_type": "string",
    "button": "string",
    "state": "string",
    "client_time": "float64",
    "screen_w": "float64",
    "screen_h": "float64",
}


def empty_points() -> pd.DataFrame:
    """An empty points table with every required column and its dtype."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in POINT_COLUMNS.items()})


def _as_dtype(col: pd.Series, dtype: str, name: str, source: str) -> pd.Series:
    """*col* as *dtype* (itself when it is already); :class:`SchemaError` when it cannot be converted."""
    if str(col.dtype) == dtype:
        return col
    try:
        if dtype.startswith("datetime64"):
            return pd.to_datetime(col, utc=True).astype(dtype)
        return col.astype(dtype)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"cannot read as {dtype} (found {col.dtype}): {exc}", path=source, column=name) from exc


def validate_points(frame: pd.DataFrame, *, source: str = "points table") -> pd.DataFrame:
    """Check that *frame* is a points table and return it with canonical dtypes and order.

    Missing required columns raise :class:`SchemaError` naming them; columns of the wrong type
    are converted when that is lossless and raise otherwise. Optional columns are kept after
    the required ones; unknown columns are kept last.
    """
    missing = [name for name in POINT_COLUMNS if name not in frame.columns]
    if missing:
        raise SchemaError(
            f"missing required column(s) {', '.join(missing)}; a points table needs "
            f"{', '.join(POINT_COLUMNS)}",
            path=source,
        )
    out = {name: _as_dtype(frame[name], dtype, name, source)
           for name, dtype in {**POINT_COLUMNS, **OPTIONAL_COLUMNS}.items() if name in frame.columns}
    extra = [c for c in frame.columns if c not in out]
    result = pd.DataFrame(out, index=frame.index)
    for name in extra:
        result[name] = frame[name]
    return result.reset_index(drop=True)


def is_screen(frame: pd.DataFrame) -> bool:
    """True when *frame* holds screen tracks (pixels in x/y) rather than lat/lon."""
    return bool(len(frame)) and bool(frame["lat"].isna().all()) and bool(np.isfinite(frame["x"]).any())
