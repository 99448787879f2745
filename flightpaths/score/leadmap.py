"""What the tip sheet's map shows for one episode: its track in time order (lat/lon), the
aircraft's path before and after, the place, nearby place labels and offline map context.

Tracks come from the windows' point arrays (see :func:`~flightpaths.score.tipsheet.episode_tracks`).
Scoring keeps point arrays only for windows that may join an episode, so the path before and
after is drawn from the centres of the aircraft's shortest windows around the episode (every
window keeps its centre), using a window's own points where it has them: an approximate path,
and the legend says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .basemap import BasemapClip, basemap_clip

__all__ = [
    "CONTEXT_MINUTES",
    "EpisodeMap",
    "PlaceLike",
    "PlacesNear",
    "TRACK_POINTS_MAX",
    "episode_lines",
    "episode_maps",
    "episode_tracks",
    "to_lonlat",
]

#: Minutes of the aircraft's path shown before and after an episode.
CONTEXT_MINUTES = 30.0
#: at most this many points of an episode's track go to its map, thumbnail and lines (evenly
#: spaced, first and last kept): a days-long episode must not take memory with its length
TRACK_POINTS_MAX = 4000
_M_PER_DEG = 111_195.0


class PlaceLike(Protocol):
    """A named place (``flightpaths.context.places.Place`` or anything with these fields)."""

    name: str
    lat: float
    lon: float


PlacesNear = Callable[..., Sequence[PlaceLike]]


@dataclass(frozen=True)
class EpisodeMap:
    """Map content of one episode, coordinates as (lat, lon); *t* in seconds since the epoch."""

    episode_id: str
    centre: tuple[float, float]
    radius_m: float
    track: list[tuple[float, float]]
    t: list[float]
    before: list[tuple[float, float]]
    after: list[tuple[float, float]]
    bounds: tuple[float, float, float, float]  # west, south, east, north of what is drawn
    context: BasemapClip
    places: list[tuple[str, float, float]] = field(default_factory=list)
    label: str = ""  # the episode's place line, or its coordinates

    def to_json(self) -> dict[str, Any]:
        """The JSON the tip sheet's script reads (lat/lon rounded to ~1 m)."""

        def ll(points: Sequence[tuple[float, float]]) -> list[list[float]]:
            return [[round(a, 5), round(b, 5)] for a, b in points]

        def swap(lines: Sequence[Sequence[tuple[float, float]]]) -> list[list[list[float]]]:
            return [[[lat, lon] for lon, lat in line] for line in lines]

        return {
            "centre": [round(self.centre[0], 5), round(self.centre[1], 5)],
            "radius_m": None if not math.isfinite(self.radius_m) else round(self.radius_m, 1),
            "track": ll(self.track),
            "before": ll(self.before),
            "after": ll(self.after),
            "bounds": [round(v, 5) for v in self.bounds],
            "land": [swap(poly) for poly in self.context.land],
            "coast": swap(self.context.coast),
            "borders": swap(self.context.borders),
            "places": [{"name": n, "lat": round(a, 5), "lon": round(b, 5)} for n, a, b in self.places],
            "label": self.label,
        }


def to_lonlat(x: np.ndarray, y: np.ndarray, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Local metres around (*lat0*, *lon0*) back to lon/lat degrees (equirectangular, as tracks use).

    >>> lon, lat = to_lonlat(np.array([0.0]), np.array([111_195.0]), 40.0, -74.0)
    >>> round(float(lat[0]), 6), round(float(lon[0]), 6)
    (41.0, -74.0)
    """
    lat = lat0 + np.asarray(y, float) / _M_PER_DEG
    lon = lon0 + np.asarray(x, float) / (_M_PER_DEG * max(math.cos(math.radians(lat0)), 1e-6))
    return (lon + 180.0) % 360.0 - 180.0, lat


def _finite(v: object) -> bool:
    return isinstance(v, (int, float, np.floating)) and math.isfinite(float(v))  # type: ignore[arg-type]


def _window_xyt(row: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """x, y and absolute time (s since the epoch; NaN when unknown) of one window's points."""
    for xs, ys, ts in (("thumb_x", "thumb_y", "thumb_t"), ("px", "py", "pt")):
        x, y, t = row.get(xs), row.get(ys), row.get(ts)
        if isinstance(x, (np.ndarray, list, tuple)) and isinstance(y, (np.ndarray, list, tuple)) and len(x):
            x, y = np.asarray(x, float), np.asarray(y, float)
            start = row.get("start")
            if isinstance(t, (np.ndarray, list, tuple)) and len(t) == len(x) and isinstance(start, pd.Timestamp):
                t = np.asarray(t, float) + start.timestamp()
            else:
                t = np.full(len(x), np.nan)
            return x, y, t
    return None


def episode_tracks(
    episodes: pd.DataFrame, windows: pd.DataFrame, *, with_time: bool = False
) -> dict[str, tuple[np.ndarray, ...]]:
    """The track of every episode, stitched from its windows' point arrays.

    Windows carry points in local metres around their own centroid (``px``/``py``/``pt``, or
    the decimated ``thumb_x``/``thumb_y``/``thumb_t`` that scoring keeps); each is shifted by
    its centroid's offset from the episode centre, and points that overlapping windows share
    are drawn once, in time order. Screen windows (pixels, no lat/lon) are used as they are.
    Episodes whose windows carry no points are left out; a track of more than
    :data:`TRACK_POINTS_MAX` points keeps that many, evenly spaced. Values are ``(x, y)``, or
    ``(x, y, t)`` with *with_time* (t in seconds since the epoch, NaN when unknown).
    """
    if windows.empty or not ({"px", "thumb_x"} & set(windows.columns)):
        return {}
    wanted = {w for ids in episodes["window_ids"].astype(str) for w in ids.split(";")}
    subset = windows[windows["window_id"].isin(wanted)].drop_duplicates("window_id")
    rows = {str(r["window_id"]): r for r in subset.to_dict(orient="records")}  # once, not per episode
    out: dict[str, tuple[np.ndarray, ...]] = {}
    for ep in episodes.itertuples(index=False):
        ids = [w for w in str(ep.window_ids).split(";") if w in rows]
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        ts: list[np.ndarray] = []
        for wid in sorted(ids, key=lambda w: rows[w]["start"]):
            row = rows[wid]
            xyt = _window_xyt(row)
            if xyt is None:
                continue
            dx = dy = 0.0
            lat, lon = row.get("lat"), row.get("lon")
            if lat is not None and np.isfinite(lat) and np.isfinite(ep.lat):
                dy = (float(lat) - ep.lat) * _M_PER_DEG
                dlon = (float(lon) - ep.lon + 540.0) % 360.0 - 180.0
                dx = dlon * _M_PER_DEG * math.cos(math.radians(ep.lat))
            xs.append(xyt[0] + dx)
            ys.append(xyt[1] + dy)
            ts.append(xyt[2])
        if xs:
            x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
            if np.isfinite(t).all():  # overlapping windows: each point once, in time order
                t, first = np.unique(np.round(t, 3), return_index=True)
                x, y = x[first], y[first]
            if len(x) > TRACK_POINTS_MAX:
                keep = np.unique(np.linspace(0, len(x) - 1, TRACK_POINTS_MAX).round().astype(np.int64))
                x, y, t = x[keep], y[keep], t[keep]
            out[str(ep.episode_id)] = (x, y, t) if with_time else (x, y)
    return out



def _window_points(row: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """lon, lat, t (epoch s) of a window's kept points, or None."""
    xyt = _window_xyt(row)
    if xyt is None or not np.isfinite(xyt[2]).all() or not (_finite(row.get("lat")) and _finite(row.get("lon"))):
        return None
    lon, lat = to_lonlat(xyt[0], xyt[1], float(row["lat"]), float(row["lon"]))
    return lon, lat, xyt[2]


@dataclass(frozen=True)
class _ObjectPath:
    """Everything known of one aircraft's path, as time-sorted arrays: kept points and the
    centres of its shortest windows that kept none."""

    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    @classmethod
    def of(cls, windows: pd.DataFrame) -> _ObjectPath:
        shortest = windows[windows["window_s"] == windows["window_s"].min()] if "window_s" in windows else windows
        ts: list[np.ndarray] = []
        lats: list[np.ndarray] = []
        lons: list[np.ndarray] = []
        for row in shortest.to_dict(orient="records"):
            own = _window_points(row)
            if own is not None:
                lons.append(own[0]), lats.append(own[1]), ts.append(own[2])
            elif _finite(row.get("lat")) and _finite(row.get("lon")):
                mid = (row["start"].timestamp() + row["end"].timestamp()) / 2
                ts.append(np.array([mid])), lats.append(np.array([float(row["lat"])])), lons.append(np.array([float(row["lon"])]))
        if not ts:
            return cls(np.empty(0), np.empty(0), np.empty(0))
        t, lat, lon = np.concatenate(ts), np.concatenate(lats), np.concatenate(lons)
        ok = np.isfinite(t) & np.isfinite(lat) & np.isfinite(lon)
        order = np.argsort(t[ok], kind="stable")
        return cls(t[ok][order], lat[ok][order], lon[ok][order])

    def between(self, lo: float, hi: float) -> list[tuple[float, float]]:
        keep = (self.t >= lo) & (self.t <= hi)
        return list(zip(self.lat[keep].tolist(), self.lon[keep].tolist()))


def _bounds(points: Sequence[tuple[float, float]], centre: tuple[float, float], radius_m: float) -> tuple[float, float, float, float]:
    lats = [p[0] for p in points] + [centre[0]]
    lons = [p[1] for p in points] + [centre[1]]
    extent = max(max(lats) - min(lats), (max(lons) - min(lons)) * math.cos(math.radians(centre[0])))
    # wide enough that the map, fitted to the track, shows context to its edges and a zoom out or two
    pad_lat = max(0.15, extent * 1.5, (radius_m if math.isfinite(radius_m) else 0) * 3 / _M_PER_DEG)
    pad_lon = pad_lat / max(math.cos(math.radians(centre[0])), 0.05)
    return (
        max(-180.0, min(lons) - pad_lon),
        max(-85.0, min(lats) - pad_lat),
        min(180.0, max(lons) + pad_lon),
        min(85.0, max(lats) + pad_lat),
    )


def episode_maps(
    episodes: pd.DataFrame,
    windows: pd.DataFrame,
    tracks: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    places_near: PlacesNear | None = None,
) -> dict[str, EpisodeMap]:
    """Map content for every episode with a position and a track (*tracks*: local x, y in metres
    around the episode centre and t in epoch seconds, from ``episode_tracks(..., with_time=True)``)."""
    out: dict[str, EpisodeMap] = {}
    geo = episodes[[_finite(a) and _finite(b) for a, b in zip(episodes.get("lat", []), episodes.get("lon", []))]]
    objects = set(geo["object_id"]) if len(geo) else set()
    mine = windows[windows["object_id"].isin(objects)] if "object_id" in windows else windows.iloc[:0]
    paths = {obj: _ObjectPath.of(w) for obj, w in mine.groupby("object_id", sort=False)}  # once per aircraft
    for ep in episodes.to_dict(orient="records"):
        eid = str(ep["episode_id"])
        lat0, lon0 = ep.get("lat"), ep.get("lon")
        if eid not in tracks or not (_finite(lat0) and _finite(lon0)):
            continue
        x, y, t = tracks[eid]
        lon, lat = to_lonlat(x, y, float(lat0), float(lon0))
        ok = np.isfinite(lon) & np.isfinite(lat)  # a gap in the data is no point on the map
        track = list(zip(lat[ok].tolist(), lon[ok].tolist()))
        if not track:
            continue
        start, end = pd.Timestamp(ep["start"]).timestamp(), pd.Timestamp(ep["end"]).timestamp()
        path = paths.get(ep["object_id"])
        span = CONTEXT_MINUTES * 60
        before = path.between(start - span, start - 1e-3) if path else []
        after = path.between(end + 1e-3, end + span) if path else []
        if track:
            before, after = before + track[:1], track[-1:] + after  # joined to the track
        radius = float(ep["radius_m"]) if _finite(ep.get("radius_m")) else float("nan")
        centre = (float(lat0), float(lon0))
        bounds = _bounds(track + before + after, centre, radius)
        places = []
        if places_near is not None:
            try:
                near = places_near(centre[0], centre[1])
            except Exception:  # noqa: BLE001 - labels are optional context, never a reason to fail
                near = []
            places = [(str(p.name), float(p.lat), float(p.lon)) for p in near if _finite(p.lat) and _finite(p.lon)]
            kx = math.cos(math.radians(centre[0]))
            places.sort(key=lambda q: (q[1] - centre[0]) ** 2 + ((q[2] - centre[1]) * kx) ** 2)  # nearest first
        place = ep.get("place")
        label = str(place) if isinstance(place, str) and place.strip() else f"{centre[0]:.4f}, {centre[1]:.4f}"
        out[eid] = EpisodeMap(
            eid, centre, radius, track, t[ok].tolist(), before, after, bounds, basemap_clip(*bounds), places, label
        )
    return out


def episode_lines(episodes: pd.DataFrame, windows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each geographic episode's track as an ``(n, 2)`` array of lon, lat in time order (for the
    GeoJSON, KML and GeoPackage writers); screen episodes and episodes without points are left out."""
    out: dict[str, np.ndarray] = {}
    centres = {str(r["episode_id"]): (r.get("lat"), r.get("lon")) for r in episodes.to_dict(orient="records")}
    for eid, (x, y, *_) in episode_tracks(episodes, windows).items():
        lat0, lon0 = centres.get(eid, (None, None))
        if not (_finite(lat0) and _finite(lon0)) or len(x) < 2:
            continue
        lon, lat = to_lonlat(x, y, float(lat0), float(lon0))  # type: ignore[arg-type]
        ok = np.isfinite(lon) & np.isfinite(lat)
        if ok.sum() >= 2:
            out[eid] = np.column_stack([lon[ok], lat[ok]])
    return out
