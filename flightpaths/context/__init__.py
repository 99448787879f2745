"""Context for leads: who the aircraft is, where the episode was, and when in local time.

:func:`add_context` adds the episode context columns (see :data:`CONTEXT_COLUMNS`) to an
episodes table: identity from the log's own columns, a local registry and the ICAO address;
the nearest populated place, airport and heliport; the time zone and local start and end times; and a
watchlist mark. Everything works offline from packaged data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from .airports import nearest_airports, nearest_heliports
from .identity import IDENTITY_COLUMNS, IdentityCollector, identity_by_object, join_identity, resolve_identity
from .places import Place, nearest_places, places_near
from .registry import lookup, registry_path
from .settings import ContextSettings
from .timezones import add_local_times, local_iso, zones_at
from .watchlist import Watchlist, load_watchlist

__all__ = [
    "CONTEXT_COLUMNS",
    "ContextSettings",
    "IdentityCollector",
    "Place",
    "Watchlist",
    "add_context",
    "add_local_times",
    "identity_by_object",
    "join_identity",
    "load_watchlist",
    "places_near",
    "registry_note",
    "registry_store",
]

#: The columns :func:`add_context` adds, in order.
CONTEXT_COLUMNS: Final = (
    *IDENTITY_COLUMNS, "country", "id_kind", "identity_source", "watchlist", "watchlist_note",
    "place", "place_name", "place_region", "place_country", "place_km", "place_bearing",
    "airport_code", "airport_name", "airport_km", "near_airport", "heliport_code", "heliport_name", "heliport_km",
    "tz", "local_start", "local_end",
)
_FLOATS = ("place_km", "airport_km", "heliport_km")
_BOOLS = ("watchlist", "near_airport")


def registry_store(settings: ContextSettings) -> Path | None:
    """The registry table to join, or None (turned off, or none imported yet)."""
    if not settings.use_registry:
        return None
    path = registry_path(settings.registry)
    return path if path.exists() else None


def registry_note(settings: ContextSettings) -> str:
    """One line for a tip sheet: which registry was joined, or that none was."""
    if not settings.use_registry:
        return "not used (--no-registry): identity from the log and the address only"
    path = registry_store(settings)
    if path is None:
        return (f"none available (looked for {registry_path(settings.registry)}): identity from the log and the "
                "address only; see `flightpaths registry import`")
    return str(path)


def _empty_context(episodes: pd.DataFrame) -> pd.DataFrame:
    out = episodes.copy()
    for c in CONTEXT_COLUMNS:
        out[c] = pd.Series(dtype=float if c in _FLOATS else bool if c in _BOOLS else "string")
    return out


def add_context(episodes: pd.DataFrame, identity: pd.DataFrame, settings: ContextSettings | None = None) -> pd.DataFrame:
    """*episodes* with :data:`CONTEXT_COLUMNS` added, watchlisted aircraft ranked first, and
    (with ``exclude_near_airports_km``) episodes near airports left out.

    *identity* is the log's identity table (:func:`identity_by_object` of the points, or of
    windows carrying those columns). Episodes need ``object_id``, ``lat``, ``lon``, ``start``
    and ``end``; ``callsign`` and ``rank`` are used when present.
    """
    settings = settings or ContextSettings()
    if episodes.empty:
        return _empty_context(episodes)
    out = episodes.reset_index(drop=True).copy()
    _add_identity(out, identity, settings)
    lat, lon = out["lat"].to_numpy(dtype=float), out["lon"].to_numpy(dtype=float)
    screen = ~(np.isfinite(lat) & np.isfinite(lon)) & (out["id_kind"] == "other").to_numpy()
    out.loc[screen, "id_kind"] = "mouse"
    listed, notes = (load_watchlist(settings.watchlist).match(out) if settings.watchlist
                     else (np.zeros(len(out), bool), np.full(len(out), "", dtype=object)))
    out["watchlist"], out["watchlist_note"] = listed, pd.array(notes.astype(str), dtype="string")
    _add_places(out, lat, lon, settings)
    for c in CONTEXT_COLUMNS:
        if c not in _FLOATS and c not in _BOOLS:
            out[c] = out[c].astype("string")
    return _rank(out, settings)


def _add_identity(out: pd.DataFrame, identity: pd.DataFrame, settings: ContextSettings) -> None:
    """Add each episode's identity columns: the log's (*identity*), the registry's, the address's."""
    ids = out["object_id"].astype(str)
    unique = list(dict.fromkeys(ids))
    store = registry_store(settings)
    registry = lookup(unique, store) if store is not None else None
    who = resolve_identity(unique, identity, registry).set_index("object_id")
    for c in (*IDENTITY_COLUMNS, "country", "id_kind", "identity_source"):
        out[c] = ids.map(who[c]).astype("string").to_numpy()


def _add_places(out: pd.DataFrame, lat: np.ndarray, lon: np.ndarray, settings: ContextSettings) -> None:
    """Add the nearest place and airport, the time zone and local start and end of each episode."""
    geo = np.isfinite(lat) & np.isfinite(lon)
    for c in CONTEXT_COLUMNS[CONTEXT_COLUMNS.index("place"):]:
        out[c] = np.nan if c in _FLOATS else (False if c in _BOOLS else "")
    zones = np.full(len(out), "", dtype=object)
    if geo.any():  # screen tracks never load the gazetteer
        for frame in (nearest_places(lat, lon), nearest_airports(lat, lon, near_km=settings.near_airport_km),
                      nearest_heliports(lat, lon)):
            for c in frame.columns:
                out[c] = frame[c].to_numpy()
        zones = zones_at(lat, lon)
    out["tz"] = zones
    out["local_start"] = local_iso(out["start"], zones).to_numpy()
    out["local_end"] = local_iso(out["end"], zones).to_numpy()


def _rank(out: pd.DataFrame, settings: ContextSettings) -> pd.DataFrame:
    if settings.exclude_near_airports_km is not None:
        km = out["airport_km"].to_numpy(dtype=float)
        out = out[~(np.isfinite(km) & (km <= settings.exclude_near_airports_km))]
    keys = ["watchlist", "rank"] if "rank" in out.columns else ["watchlist"]
    out = out.sort_values(keys, ascending=[False, True][: len(keys)], kind="stable").reset_index(drop=True)
    if "rank" in out.columns:
        out["rank"] = np.arange(1, len(out) + 1, dtype="int64")
    for c in _FLOATS:
        out[c] = out[c].astype(float)
    for c in _BOOLS:
        out[c] = out[c].fillna(False).astype(bool)
    return out
