"""Any CSV of positions, with a column mapping (``--columns``) or recognised column names.

Mapping syntax (the CLI's ``--columns``): comma-separated ``FIELD=COLUMN`` pairs, with an
optional ``:UNIT`` after the column, e.g.
``id=adshex,time=timestamp,lat=latitude,lon=longitude,altitude=alt_m:m,speed=vel:mps``.

Fields: ``id time lat lon x y altitude speed track vrate callsign squawk on_ground
registration type desc operator year category button state``. Units: altitude ``ft`` (default) or ``m``; speed
``kt`` (default), ``mps``, ``kmh``, ``mph``; vrate ``fpm`` (default) or ``mps``; time ``auto``
(default: epoch s or ms by magnitude, or date-time text), ``s``, ``ms``, ``iso``. Text times
without a zone are read in ``--tz``. Column names match case-insensitively.

Without a mapping, a CSV whose header names an id (``icao24``, ``adshex``, ``hex``, ``icao``),
a time (``timestamp``, ``time``), ``latitude``/``lat`` and ``longitude``/``lon`` is read
with those columns (the BuzzFeed convention files are, for example: ``reg`` is the registration,
``type`` the type code and ``name2`` (else ``name``) the operator).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

import pandas as pd

from ..errors import InputError
from ..schema import FPM_PER_MPS, FT_PER_M, KT_PER_MPS
from .formats import register_format
from .ledger import Ledger
from .settings import IngestSettings
from .sources import Head, Source, csv_header
from .tabular import Col, build_points, iter_csv

__all__ = ["ALIASES", "FIELDS", "mapping_spec", "parse_columns"]

#: field -> (point column, kind, {unit: scale}) ; the first unit is the default
FIELDS: Final[dict[str, tuple[str, str, dict[str, float]]]] = {
    "id": ("object_id", "id", {}),
    "time": ("time", "time", {"auto": 1, "s": 1, "ms": 1, "iso": 1}),
    "lat": ("lat", "float", {"deg": 1.0}),
    "lon": ("lon", "float", {"deg": 1.0}),
    "x": ("x", "float", {"px": 1.0}),
    "y": ("y", "float", {"px": 1.0}),
    "altitude": ("altitude_ft", "float", {"ft": 1.0, "m": FT_PER_M}),
    "speed": ("speed_kt", "float", {"kt": 1.0, "mps": KT_PER_MPS, "kmh": 0.539956803, "mph": 0.868976242}),
    "track": ("track_deg", "float", {"deg": 1.0}),
    "vrate": ("vrate_fpm", "float", {"fpm": 1.0, "mps": FPM_PER_MPS}),
    "callsign": ("callsign", "text", {}),
    "squawk": ("squawk", "text", {}),
    "on_ground": ("on_ground", "bool", {}),
    "registration": ("registration", "text", {}),
    "type": ("aircraft_type", "text", {}),
    "desc": ("type_desc", "text", {}),
    "operator": ("operator", "text", {}),
    "year": ("year", "text", {}),
    "category": ("category", "text", {}),
    "button": ("button", "text", {}),
    "state": ("state", "text", {}),
}

#: field -> column names recognised without a mapping (first match wins)
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "id": ("icao24", "adshex", "hex", "icao", "icao_address", "hex_ident"),
    "time": ("timestamp", "time", "datetime", "date_time"),
    "lat": ("latitude", "lat"),
    "lon": ("longitude", "lon", "lng", "long"),
    "altitude": ("altitude", "alt", "alt_baro", "altitude_ft"),
    "speed": ("groundspeed", "ground_speed", "speed", "gs"),
    "track": ("track", "heading", "direction"),
    "vrate": ("vertical_rate", "vrate", "baro_rate"),
    "callsign": ("callsign", "flight"),
    "squawk": ("squawk",),
    "registration": ("registration", "reg"),
    "type": ("typecode", "aircraft_type", "type"),
    "desc": ("type_desc", "desc", "description"),
    "operator": ("operator", "ownop", "owner", "name2", "name"),
    "year": ("year", "year_built", "built"),
}


def _check_pair(key: str, value: str) -> None:
    """Raise :class:`InputError` unless *key* is a known field and *value* a column with a known unit."""
    if key not in FIELDS:
        raise InputError(f"unknown field {key!r}; choose from {', '.join(FIELDS)}", column="columns")
    column, _, unit = value.partition(":")
    if not column.strip():
        raise InputError(f"field {key!r} names no column", column="columns")
    units = FIELDS[key][2]
    if unit and unit not in units:
        allowed = ", ".join(units) or "none"
        raise InputError(f"unknown unit {unit!r} for {key!r}; choose from {allowed}", column="columns")


def parse_columns(text: str | Mapping[str, str] | None) -> dict[str, str] | None:
    """Parse ``id=adshex,time=timestamp:ms,...`` into ``{"id": "adshex", "time": "timestamp:ms"}``.

    Unknown fields, unknown units and malformed pairs raise :class:`InputError` naming them.

    >>> parse_columns("id=adshex, time=timestamp, altitude=alt:m")
    {'id': 'adshex', 'time': 'timestamp', 'altitude': 'alt:m'}
    """
    if text is None:
        return None
    pairs = dict(text) if isinstance(text, Mapping) else {}
    if isinstance(text, str):
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "=" not in part:
                raise InputError(f"{part!r} is not FIELD=COLUMN (e.g. id=adshex)", column="columns")
            key, _, value = part.partition("=")
            pairs[key.strip().lower()] = value.strip()
    for key, value in pairs.items():
        _check_pair(key, str(value))
    return pairs


def mapping_spec(columns: Mapping[str, str]) -> dict[str, Col]:
    """The :class:`Col` spec of a parsed mapping (source names lowercased)."""
    spec: dict[str, Col] = {}
    for key, value in columns.items():
        point, kind, units = FIELDS[key]
        column, _, unit = str(value).partition(":")
        column = column.strip().lower()
        if kind == "time":
            spec[point] = Col(column, "time", unit=unit or "auto")
        elif kind == "float":
            spec[point] = Col(column, "float", scale=units.get(unit, 1.0) if unit else 1.0)
        else:
            spec[point] = Col(column, kind)
    return spec


def auto_mapping(header: list[str]) -> dict[str, str]:
    """The fields recognised in *header* (lowercased names) through :data:`ALIASES`."""
    found: dict[str, str] = {}
    for key, names in ALIASES.items():
        for name in names:
            if name in header:
                found[key] = name
                break
    return found


def _sniff(head: Head) -> bool:
    header = csv_header(head)
    return len(header) >= 3 and {"id", "time", "lat", "lon"} <= set(auto_mapping(header))


@register_format("csv", description="any CSV with a --columns mapping or recognised column names", sniff=_sniff, priority=90)
def read_generic_csv(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """A CSV read through ``settings.columns`` (or recognised names), in chunks."""
    for frame, lines in iter_csv(source, settings, ledger):
        frame.columns = [str(c).lower() for c in frame.columns]
        header = list(frame.columns)
        mapping = parse_columns(settings.columns) or auto_mapping(header)
        missing = [f"{k}={str(v).split(':')[0]}" for k, v in mapping.items() if str(v).split(":")[0].strip().lower() not in header]
        if missing:
            raise InputError(f"mapped column(s) not in the header: {', '.join(missing)}; the header has {', '.join(header)}",
                             path=source.name, line=1)
        if "id" not in mapping or "time" not in mapping:
            raise InputError("the column mapping needs at least id= and time= (and lat=/lon= or x=/y=)", path=source.name)
        yield build_points(frame, mapping_spec(mapping), lines=lines, source=source, ledger=ledger, settings=settings)
