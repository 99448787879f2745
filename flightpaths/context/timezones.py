"""Local time where an episode happened: the IANA zone from coordinates (``tzfpy``, offline,
MIT, about 5 MB; a few microseconds a point) and ISO 8601 times with that zone's offset."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import FlightpathsError

__all__ = ["add_local_times", "local_iso", "zones_at"]


def zones_at(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """IANA zone names of points ('' where a point has no position).

    >>> list(zones_at(np.array([41.5, 51.5, np.nan]), np.array([-81.69, -0.12, 0.0])))
    ['America/New_York', 'Europe/London', '']
    """
    try:
        from tzfpy import get_tz
    except ImportError as exc:  # pragma: no cover - a dependency
        raise FlightpathsError("local times need the tzfpy package: pip install tzfpy") from exc
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    out = np.full(len(lat), "", dtype=object)
    for i in np.flatnonzero(np.isfinite(lat) & np.isfinite(lon)):
        out[i] = get_tz(float(lon[i]), float(lat[i])) or ""
    return out


def local_iso(times: pd.Series, zones: np.ndarray | list[str]) -> pd.Series:
    """Each UTC time as ISO 8601 in its zone, with the offset (``2016-07-18T14:02:11-04:00``);
    '' where the zone or the time is missing.

    >>> t = pd.Series(pd.to_datetime(["2016-07-18 18:02:11"], utc=True))
    >>> local_iso(t, ["America/New_York"]).tolist()
    ['2016-07-18T14:02:11-04:00']
    """
    times = pd.to_datetime(pd.Series(times).reset_index(drop=True), utc=True)
    zone_of = np.asarray(list(zones), dtype=object)
    out = pd.Series("", index=times.index, dtype=object)
    for zone in pd.unique(zone_of):
        if not zone:
            continue
        rows = np.flatnonzero(zone_of == zone)
        part = times.iloc[rows]
        ok = part.notna().to_numpy()
        if ok.any():
            text = part[ok].dt.tz_convert(str(zone)).map(lambda t: t.isoformat(timespec="seconds"))
            out.iloc[rows[ok]] = text.to_numpy()
    return out


def add_local_times(frame: pd.DataFrame) -> pd.DataFrame:
    """*frame* (windows: ``lat``, ``lon``, ``start``, ``end``) with ``tz``, ``local_start`` and
    ``local_end``; positions are rounded to 0.01 degree for the zone look-up (one per place)."""
    if frame.empty or not {"lat", "lon", "start", "end"} <= set(frame.columns):
        return frame
    lat = np.round(frame["lat"].to_numpy(dtype=float), 2)
    lon = np.round(frame["lon"].to_numpy(dtype=float), 2)
    cells = pd.DataFrame({"lat": lat, "lon": lon})
    first = cells.drop_duplicates()
    zone_of = dict(zip(map(tuple, first.to_numpy()), zones_at(first["lat"].to_numpy(), first["lon"].to_numpy())))
    zones = np.array([zone_of.get(key, "") for key in zip(lat.tolist(), lon.tolist())], dtype=object)
    out = frame.copy()
    out["tz"] = pd.array(zones.astype(str), dtype="string")
    out["local_start"] = pd.array(local_iso(frame["start"], zones).to_numpy(dtype=str), dtype="string")
    out["local_end"] = pd.array(local_iso(frame["end"], zones).to_numpy(dtype=str), dtype="string")
    return out
