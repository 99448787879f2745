"""LineStrings from a points table streamed in order (by object, then time), in bounded memory.

:class:`LegStream` cuts each chunk into legs as :func:`~.output.points_to_lines` cuts a whole
table (a new leg at a new object, a new-leg flag or a gap over ``gap_s``; legs with fewer than
two distinct positions left out) and gives back the legs a chunk closes; the leg still open
at its end is carried as its coordinates and a few figures (16 bytes a point), not as rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Leg", "LegStream", "legs_frame"]

_COLUMNS = ["object_id", "callsign", "start", "end", "n_points", "source_file"]


@dataclass
class Leg:
    """One leg being gathered: its coordinates and the figures of its table row."""

    obj: str
    source_file: str
    start: pd.Timestamp
    end: pd.Timestamp
    last_ns: int
    lon: list[np.ndarray] = field(default_factory=list)
    lat: list[np.ndarray] = field(default_factory=list)
    n: int = 0
    moved: bool = False
    callsigns: Counter[str] = field(default_factory=Counter)

    def row(self) -> dict[str, object]:
        callsign = min(self.callsigns, key=lambda c: (-self.callsigns[c], c)) if self.callsigns else None
        return {"object_id": self.obj, "callsign": callsign, "start": f"{self.start:%Y-%m-%dT%H:%M:%SZ}",
                "end": f"{self.end:%Y-%m-%dT%H:%M:%SZ}", "n_points": self.n, "source_file": self.source_file}


class LegStream:
    """Feed sorted chunks to :meth:`add`; each returns the legs it closed (a GeoDataFrame),
    :meth:`close` the last one."""

    def __init__(self, gap_s: float = 1800.0) -> None:
        self.gap_ns = gap_s * 1e9
        self.open: Leg | None = None

    def _starts(self, pts: pd.DataFrame, obj: np.ndarray, t: np.ndarray) -> np.ndarray:
        new_leg = pts["new_leg"].fillna(False).to_numpy(bool)
        start = np.ones(len(pts), dtype=bool)
        start[1:] = (obj[1:] != obj[:-1]) | (np.diff(t) > self.gap_ns) | new_leg[1:]
        if self.open is not None:
            start[0] = obj[0] != self.open.obj or t[0] - self.open.last_ns > self.gap_ns or bool(new_leg[0])
        return start

    def add(self, pts: pd.DataFrame) -> list[Leg]:
        """Take the next chunk; returns the legs closed by it (with two distinct positions)."""
        if not len(pts):
            return []
        obj = pts["object_id"].astype(str).to_numpy(dtype=object)
        t = pts["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        lon, lat = pts["lon"].to_numpy(float), pts["lat"].to_numpy(float)
        start = self._starts(pts, obj, t)
        moved = np.zeros(len(pts), dtype=bool)
        moved[1:] = ~start[1:] & ((lon[1:] != lon[:-1]) | (lat[1:] != lat[:-1]))
        if not start[0] and self.open is not None:
            moved[0] = bool(lon[0] != self.open.lon[-1][-1] or lat[0] != self.open.lat[-1][-1])
        bounds = [*np.flatnonzero(start).tolist(), len(pts)]
        if bounds[0] != 0:
            bounds.insert(0, 0)
        callsign = pts["callsign"].astype("string")
        times, files = pts["time"], pts["source_file"].astype(str)
        closed: list[Leg] = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            if start[a] or self.open is None:
                if self.open is not None:
                    closed.append(self.open)
                self.open = Leg(str(obj[a]), str(files.iat[a]), times.iat[a], times.iat[b - 1], int(t[b - 1]))
            leg = self.open
            leg.lon.append(lon[a:b])
            leg.lat.append(lat[a:b])
            leg.n += b - a
            leg.moved |= bool(moved[a:b].any())
            leg.end, leg.last_ns = times.iat[b - 1], int(t[b - 1])
            leg.callsigns.update(callsign.iloc[a:b].dropna().tolist())
        return [leg for leg in closed if leg.moved]

    def close(self) -> list[Leg]:
        """The leg still open (if it has two distinct positions)."""
        leg, self.open = self.open, None
        return [leg] if leg is not None and leg.moved else []


def legs_frame(legs: list[Leg]) -> pd.DataFrame:
    """A GeoDataFrame of *legs*: one LineString row each (as :func:`~.output.points_to_lines`)."""
    import geopandas as gpd

    from ..geometry import linestrings

    table = pd.DataFrame([leg.row() for leg in legs], columns=_COLUMNS)
    table["n_points"] = table["n_points"].astype(int)
    if not legs:
        return gpd.GeoDataFrame(table, geometry=[], crs="EPSG:4326")
    lon = np.concatenate([a for leg in legs for a in leg.lon])
    lat = np.concatenate([a for leg in legs for a in leg.lat])
    lines = linestrings(lon, lat, np.array([leg.n for leg in legs]))
    return gpd.GeoDataFrame(table, geometry=list(lines), crs="EPSG:4326")
