"""dump1090 / dump1090-fa / readsb / tar1090 ``aircraft.json`` snapshots and ``history_N.json``
series (pass the directory or a glob; each file is one snapshot).

A snapshot is ``{"now": epoch s, "aircraft": [{...}, ...]}``. Each aircraft with a position
gives one point at ``now - seen_pos`` (the age of the position; ``seen`` when absent). Both
field generations are read: dump1090-mutability's ``altitude``, ``speed``, ``vert_rate`` and
readsb's ``alt_baro`` (or ``"ground"``: on ground, altitude unknown), ``gs``, ``baro_rate`` /
``geom_rate``, ``category``, ``r``/``t``/``desc``/``ownOp``/``year`` (registration, type code,
type, operator or owner, year built) and ``type`` (the address type, e.g. ``tisb_icao``). A ``lastPosition`` object is
used when the current position is missing (its own ``seen_pos``). Non-ICAO ids keep their ``~``.
The same position repeated in later snapshots is dropped as a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .formats import register_format
from .ledger import Ledger
from .settings import IngestSettings
from .sources import Head, Source
from .tabular import Col, build_points
from .values import is_json_number

__all__ = ["snapshot_rows"]


def _sniff(head: Head) -> bool:
    text = head.text[:8192]
    return head.first_char == "{" and '"aircraft"' in text and '"now"' in text


def _first(ac: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if ac.get(key) is not None:
            return ac[key]
    return None


def _text(value: Any) -> str | None:
    """A number kept as written (a year ``2008``, not ``2008.0`` once mixed with missing ones)."""
    return None if value is None else str(value)


def _altitude(ac: dict[str, Any]) -> tuple[Any, bool | None]:
    """``(altitude, on ground)``: "ground" is no altitude and on the ground; a barometric altitude
    means airborne; a geometric one alone says nothing about the ground."""
    alt = _first(ac, "alt_baro", "altitude", "alt_geom")
    if isinstance(alt, str) and alt.strip().lower() == "ground":
        return None, True
    if alt is not None:
        return alt, False if "alt_baro" in ac or "altitude" in ac else None
    return alt, None


def _aircraft_row(ac: dict[str, Any], now: Any) -> dict[str, Any]:
    """The flat row of one aircraft of a snapshot taken at *now* (epoch seconds)."""
    lat, lon, seen = ac.get("lat"), ac.get("lon"), _first(ac, "seen_pos", "seen")
    last = ac.get("lastPosition")
    if (lat is None or lon is None) and isinstance(last, dict):
        lat, lon, seen = last.get("lat"), last.get("lon"), last.get("seen_pos")
    alt, ground = _altitude(ac)
    time: float | str | None = None
    if is_json_number(now):
        time = round(float(now) - float(seen), 3) if is_json_number(seen) else round(float(now), 3) if seen is None else \
            f"now - seen_pos, seen_pos {str(seen)[:30]!r} not a number"  # junk for the time column, named
    return {
        "hex": ac.get("hex"), "time": time, "lat": lat, "lon": lon,
        "altitude": alt, "speed": _first(ac, "gs", "speed"), "track": ac.get("track"),
        "vrate": _first(ac, "baro_rate", "geom_rate", "vert_rate"), "flight": ac.get("flight"),
        "squawk": ac.get("squawk"), "on_ground": ground, "category": ac.get("category"),
        "registration": ac.get("r"), "aircraft_type": ac.get("t"), "type_desc": ac.get("desc"),
        "operator": ac.get("ownOp"), "year": _text(ac.get("year")), "address_type": ac.get("type"),
    }


def _check_snapshot(data: Any, source: Source) -> None:
    """An :class:`InputError` naming the top-level field of *data* that has the wrong type."""
    if not isinstance(data, dict):
        raise InputError(f"expected an object with 'now' and an 'aircraft' list, found a JSON {type(data).__name__}", path=source.name)
    for field, ok, want in (("aircraft", isinstance(data.get("aircraft"), list), "a list of aircraft"),
                            ("now", is_json_number(data.get("now")), "a time in epoch seconds")):
        if not ok:
            found = "missing" if field not in data else f"found {json.dumps(data[field])[:40]}"
            raise InputError(f"field {field!r} is not {want} ({found})", path=source.name)


def snapshot_rows(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat dict per aircraft of a snapshot, with ``time`` in epoch seconds (or None).

    >>> rows = snapshot_rows({"now": 100.0, "aircraft": [
    ...     {"hex": "~a1b2c3", "alt_baro": "ground", "lat": 1.0, "lon": 2.0, "seen_pos": 0.5}]})
    >>> rows[0]["time"], rows[0]["altitude"], rows[0]["on_ground"]
    (99.5, None, True)
    """
    now = snapshot.get("now")
    return [_aircraft_row(ac, now) if isinstance(ac, dict) else {"time": f"aircraft entry {json.dumps(ac)[:30]}, not an object"}
            for ac in snapshot.get("aircraft") or []]


SPEC = {
    "object_id": Col("hex", "hex"), "time": Col("time", "time", unit="s"), "lat": Col("lat"), "lon": Col("lon"),
    "altitude_ft": Col("altitude"), "speed_kt": Col("speed"), "track_deg": Col("track"), "vrate_fpm": Col("vrate"),
    "callsign": Col("flight", "text"), "squawk": Col("squawk", "text"), "on_ground": Col("on_ground", "bool"),
    "category": Col("category", "text"), "registration": Col("registration", "text"),
    "aircraft_type": Col("aircraft_type", "text"), "type_desc": Col("type_desc", "text"),
    "operator": Col("operator", "text"), "year": Col("year", "text"), "address_type": Col("address_type", "text"),
}


@register_format("aircraft-json", description="dump1090/readsb aircraft.json snapshots and history_N.json series", sniff=_sniff, priority=20)
def read_aircraft_json(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """One snapshot file: a point per aircraft with a position (record number = line)."""
    data = source.read_json()
    _check_snapshot(data, source)
    rows = snapshot_rows(data)
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=list(snapshot_rows({"now": 0, "aircraft": [{}]})[0]))
    yield build_points(frame, SPEC, lines=np.arange(1, len(frame) + 1), source=source, ledger=ledger, settings=settings)
