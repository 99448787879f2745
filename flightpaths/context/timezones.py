"""Local time where an episode happened: the IANA zone from coordinates (``tzfpy``, offline,
MIT, about 5 MB; a few microseconds a point) and ISO 8601 times with that zone's offset."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import FlightpathsError

__all__ = ["local_iso", "zones_at"]


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
