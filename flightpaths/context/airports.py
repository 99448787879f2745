"""The nearest airport or heliport to a point, offline.

The list is the ``airportsdata`` package (MIT, about 28,000 airports, strips and some
heliports with ICAO, IATA and US FAA codes, 3 MB), indexed once per process like the places.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ..errors import FlightpathsError
from ._cache import cached_table
from ._geo import PointIndex

__all__ = ["Airports", "airports", "nearest_airports", "packaged_airports"]


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
