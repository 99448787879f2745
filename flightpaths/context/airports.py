"""The nearest airport and the nearest heliport to a point, offline.

Airports: the ``airportsdata`` package (MIT, about 28,000 airports and strips with ICAO, IATA
and US FAA codes, 3 MB; only 18 heliports). Heliports: OurAirports' 18,632 heliports (public
domain; hospitals, police stations, rooftops), shipped in ``context/data/heliports.csv.gz``
(see VENDORED.md there). Each is indexed once per process like the places.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import FlightpathsError
from ._cache import cached_table
from ._geo import PointIndex

__all__ = ["Airports", "airports", "heliports", "nearest_airports", "nearest_heliports", "packaged_airports",
           "packaged_heliports"]


@dataclass(frozen=True)
class Airports:
    """Airports as columns, with their KD-tree."""

    code: np.ndarray
    name: np.ndarray
    index: PointIndex

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Airports:
        """From columns ``code``, ``name``, ``lat``, ``lon``."""
        return cls(frame["code"].fillna("").astype(str).to_numpy(dtype=object),
                   frame["name"].fillna("").astype(str).to_numpy(dtype=object),
                   PointIndex(frame["lat"].to_numpy(float), frame["lon"].to_numpy(float)))


def packaged_airports() -> pd.DataFrame:
    try:
        import airportsdata
    except ImportError as exc:
        raise FlightpathsError("the airport names need the airportsdata package: pip install airportsdata") from exc
    rows = list(airportsdata.load("ICAO").values())
    return pd.DataFrame({
        "code": [str(r.get("icao") or r.get("iata") or r.get("lid") or "") for r in rows],
        "name": [str(r.get("name") or "") for r in rows],
        "lat": [float(r["lat"]) for r in rows],
        "lon": [float(r["lon"]) for r in rows],
    })


@lru_cache(maxsize=1)
def airports() -> Airports:
    """The packaged airport list (loaded once per process; converted once to a parquet cache)."""
    return Airports.from_frame(cached_table("airports", "airportsdata", packaged_airports))


def nearest_airports(lat: np.ndarray, lon: np.ndarray, *, near_km: float, table: Airports | None = None) -> pd.DataFrame:
    """For each point: ``airport_code``, ``airport_name``, ``airport_km`` and ``near_airport``
    (within *near_km* of it)."""
    table = table or airports()
    near = table.index.nearest(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
    ok = near.index >= 0
    idx = np.where(ok, near.index, 0)
    km = np.round(near.km, 1)
    return pd.DataFrame({
        "airport_code": np.where(ok, table.code[idx], ""),
        "airport_name": np.where(ok, table.name[idx], ""),
        "airport_km": km,
        "near_airport": ok & (near.km <= near_km),
    })


def packaged_heliports() -> pd.DataFrame:
    """The shipped heliport table: ``code``, ``name``, ``lat``, ``lon``, ``country``, ``municipality``."""
    path = resources.files("flightpaths.context").joinpath("data").joinpath("heliports.csv.gz")
    with resources.as_file(path) as local:
        return pd.read_csv(local, dtype={"code": str, "name": str, "country": str, "municipality": str},
                           keep_default_na=False)


@lru_cache(maxsize=1)
def heliports() -> Airports:
    """The shipped heliports (loaded once per process, about 0.1 s)."""
    return Airports.from_frame(packaged_heliports())


def nearest_heliports(lat: np.ndarray, lon: np.ndarray, *, table: Airports | None = None) -> pd.DataFrame:
    """For each point: ``heliport_code``, ``heliport_name`` and ``heliport_km`` (the nearest heliport:
    police helicopters land at hospitals and police stations, and circle near them)."""
    table = table or heliports()
    near = table.index.nearest(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
    ok = near.index >= 0
    idx = np.where(ok, near.index, 0)
    return pd.DataFrame({
        "heliport_code": np.where(ok, table.code[idx], ""),
        "heliport_name": np.where(ok, table.name[idx], ""),
        "heliport_km": np.round(near.km, 1),
    })
