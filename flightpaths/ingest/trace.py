"""readsb / tar1090 / ADS-B Exchange / adsb.lol ``trace_full_<hex>.json`` and
``trace_recent_<hex>.json``.

``{"icao": hex, "r": registration, "t": type, "desc", "ownOp", "year", "timestamp": epoch s, "trace": [[dt, lat, lon,
alt or "ground", gs, track, flags, vrate, details|null, source, geom_alt, geom_rate, ias, roll],
...]}``. Times are ``timestamp + dt``. Flags (a bit field): 1 = stale position, 2 = start of a
new leg (kept as ``new_leg``), 4 = geometric vertical rate, 8 = geometric altitude. The
callsign comes from the details objects (``flight``) and carries forward.
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

__all__ = ["NEW_LEG_FLAG", "trace_rows"]

NEW_LEG_FLAG = 2


def _sniff(head: Head) -> bool:
    text = head.text[:8192]
    return head.first_char == "{" and '"trace"' in text and '"icao"' in text


def _entry_row(entry: list[Any], base: Any, callsign: str | None) -> dict[str, Any]:
    """The row of one trace entry (at least 8 fields) of a trace starting at *base* (epoch
    seconds); *callsign* is the last one seen, carried on until the entry names another."""
    dt, lat, lon, alt, gs, track, flags, vrate = entry[:8]
    details = entry[8] if len(entry) > 8 and isinstance(entry[8], dict) else {}
    ground = isinstance(alt, str) and alt.strip().lower() == "ground"
    time: float | str = float(base) + float(dt) if is_json_number(dt) else \
        f"timestamp + {str(dt)[:30]!r}, not a number of seconds"  # junk for the time column, named
    try:
        bits = int(flags or 0)
    except (TypeError, ValueError):
        bits = 0
    return {
        "time": time, "lat": lat, "lon": lon, "altitude": None if ground else alt, "speed": gs, "track": track,
        "vrate": vrate, "flight": details.get("flight") or callsign, "squawk": details.get("squawk"), "on_ground": ground,
        "new_leg": bool(bits & NEW_LEG_FLAG), "category": details.get("category"),
    }


def trace_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat dicts, one per trace entry (time in epoch seconds).

    >>> r = trace_rows({"icao": "abc123", "timestamp": 100, "trace": [[1.5, 1, 2, "ground", 5, 90, 2, 0, None]]})
    >>> r[0]["time"], r[0]["altitude"], r[0]["on_ground"], r[0]["new_leg"]
    (101.5, None, True, True)
    """
    base = data.get("timestamp")
    out: list[dict[str, Any]] = []
    callsign = None
    for entry in data.get("trace") or []:
        if not isinstance(entry, list) or len(entry) < 6:
            out.append({"time": f"entry {json.dumps(entry)[:30]}, not a list of at least 6 fields"})
            continue
        row = _entry_row(entry + [None] * (8 - len(entry)), base, callsign)
        callsign = row["flight"]
        out.append(row)
    return out


SPEC = {
    "time": Col("time", "time", unit="s"), "lat": Col("lat"), "lon": Col("lon"), "altitude_ft": Col("altitude"),
    "speed_kt": Col("speed"), "track_deg": Col("track"), "vrate_fpm": Col("vrate"), "callsign": Col("flight", "text"),
    "squawk": Col("squawk", "text"), "on_ground": Col("on_ground", "bool"), "new_leg": Col("new_leg", "bool"),
    "category": Col("category", "text"),
}


@register_format("trace", description="readsb/tar1090/ADS-B Exchange trace_full/trace_recent JSON", sniff=_sniff, priority=20)
def read_trace(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """One aircraft's trace; record number (1-based trace index) as the line."""
    data = source.read_json()
    if not isinstance(data, dict) or not isinstance(data.get("trace"), list):
        raise InputError("expected an object with a 'trace' list", path=source.name)
    base = data.get("timestamp")
    if not is_json_number(base) or not 0 <= float(base) < 9.2e9:
        found = "missing" if base is None else f"found {json.dumps(base)[:40]}"
        raise InputError(f"field 'timestamp' is not a start time in epoch seconds ({found})", path=source.name)
    icao = data.get("icao")
    hexid = icao.strip().lower() if isinstance(icao, str) else ""
    if not hexid:
        found = "missing" if icao is None else f"found {json.dumps(icao)[:40]}"
        raise InputError(f"field 'icao' is not an aircraft address ({found})", path=source.name)
    frame = pd.DataFrame(trace_rows(data), columns=["time", "lat", "lon", "altitude", "speed", "track", "vrate",
                                                    "flight", "squawk", "on_ground", "new_leg", "category"])
    points = build_points(frame, SPEC, lines=np.arange(1, len(frame) + 1), source=source, ledger=ledger, settings=settings)
    points["object_id"] = hexid
    points["new_leg"] = points["new_leg"].fillna(False)
    for key, col in (("r", "registration"), ("t", "aircraft_type"), ("desc", "type_desc"), ("ownOp", "operator"), ("year", "year")):
        if data.get(key):
            points[col] = str(data[key]).strip()
    yield points
