"""What the tip sheet's map shows for one episode: its track in time order (lat/lon), the
aircraft's path before and after, start and end times, the place, nearby place labels and
offline map context.

Scoring keeps each aircraft's own points around its possible episodes (see
:mod:`flightpaths.score.paths`): the map draws the episode from them, and the path for
``margin_s`` before and after. Without kept points (runs scored before they were kept, or a
table of windows alone), the track comes from the windows' point arrays (see
:func:`episode_tracks`) and the path before and after from the centres of the aircraft's
shortest windows: an approximate path, which the map draws dashed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from .basemap import BasemapClip, basemap_clip
from .paths import PATH_MARGIN_S, path_between, paths_by_object

__all__ = [
    "CONTEXT_MINUTES",
    "EpisodeMap",
    "MARGIN_POINTS_MAX",
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
#: at most this many of the aircraft's points before, and as many after, an episode on its map
MARGIN_POINTS_MAX = TRACK_POINTS_MAX // 4
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
    times: dict[str, str] = field(default_factory=dict)  # local clock times: start, end, before, after
    approximate: bool = False  # before/after drawn from window centres, not the aircraft's points

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
            "times": dict(self.times),
            "approx": self.approximate,
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
                lon, lat, t = own
            elif _finite(row.get("lat")) and _finite(row.get("lon")):
                t = np.array([(row["start"].timestamp() + row["end"].timestamp()) / 2])
                lat, lon = np.array([float(row["lat"])]), np.array([float(row["lon"])])
            else:
                continue
            ts.append(t)
            lats.append(lat)
            lons.append(lon)
        if not ts:
            return cls(np.empty(0), np.empty(0), np.empty(0))
        t, lat, lon = np.concatenate(ts), np.concatenate(lats), np.concatenate(lons)
        ok = np.isfinite(t) & np.isfinite(lat) & np.isfinite(lon)
        order = np.argsort(t[ok], kind="stable")
        return cls(t[ok][order], lat[ok][order], lon[ok][order])

    def between(self, lo: float, hi: float) -> tuple[list[float], list[tuple[float, float]]]:
        keep = (self.t >= lo) & (self.t <= hi)
        return _pairs(self.t[keep], self.lat[keep], self.lon[keep])


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


def _zone(name: object, default: ZoneInfo) -> ZoneInfo:
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


def _clock(t: float, tz: ZoneInfo) -> str:
    """A time label for the map: local clock time and zone, e.g. ``14:02 EDT``."""
    return str(pd.Timestamp(t, unit="s", tz="UTC").tz_convert(tz).strftime("%H:%M %Z"))


def _pairs(t: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[list[float], list[tuple[float, float]]]:
    return t.tolist(), list(zip(lat.tolist(), lon.tolist()))


@dataclass(frozen=True)
class _Drawn:
    """One episode's track and the path around it, as (lat, lon) with times."""

    track: list[tuple[float, float]]
    t: list[float]
    before: list[tuple[float, float]]
    after: list[tuple[float, float]]
    t_before: float | None
    t_after: float | None
    approximate: bool


def _from_points(own: tuple[np.ndarray, np.ndarray, np.ndarray], start: float, end: float, margin_s: float) -> _Drawn | None:
    """The episode and its margins from the aircraft's kept points (None: too few in the span)."""
    t, track = _pairs(*path_between(own, start, end, TRACK_POINTS_MAX))
    if len(track) < 2:
        return None
    tb, before = _pairs(*path_between(own, start - margin_s, start - 1e-3, MARGIN_POINTS_MAX))
    ta, after = _pairs(*path_between(own, end + 1e-3, end + margin_s, MARGIN_POINTS_MAX))
    return _Drawn(track, t, before, after, tb[0] if tb else None, ta[-1] if ta else None, False)


def _from_windows(xyt: tuple[np.ndarray, ...], lat0: float, lon0: float, path: _ObjectPath | None,
                  start: float, end: float) -> _Drawn | None:
    """The episode from its windows' point arrays, the path around it from window centres."""
    x, y, t = xyt
    lon, lat = to_lonlat(x, y, lat0, lon0)
    ok = np.isfinite(lon) & np.isfinite(lat)  # a gap in the data is no point on the map
    track = list(zip(lat[ok].tolist(), lon[ok].tolist()))
    if not track:
        return None
    span = CONTEXT_MINUTES * 60
    tb, before = path.between(start - span, start - 1e-3) if path else ([], [])
    ta, after = path.between(end + 1e-3, end + span) if path else ([], [])
    return _Drawn(track, t[ok].tolist(), before, after, tb[0] if tb else None, ta[-1] if ta else None, True)


def _nearby(places_near: PlacesNear | None, centre: tuple[float, float]) -> list[tuple[str, float, float]]:
    """Place labels around *centre*, nearest first (none when the look-up fails: optional context)."""
    if places_near is None:
        return []
    try:
        near = places_near(centre[0], centre[1])
    except Exception:  # noqa: BLE001 - labels are optional context, never a reason to fail
        near = []
    places = [(str(p.name), float(p.lat), float(p.lon)) for p in near if _finite(p.lat) and _finite(p.lon)]
    kx = math.cos(math.radians(centre[0]))
    places.sort(key=lambda q: (q[1] - centre[0]) ** 2 + ((q[2] - centre[1]) * kx) ** 2)
    return places


def _times(drawn: _Drawn, tz: ZoneInfo) -> dict[str, str]:
    finite = [v for v in drawn.t if math.isfinite(v)]
    out = {"start": _clock(finite[0], tz), "end": _clock(finite[-1], tz)} if finite else {}
    if drawn.t_before is not None and drawn.before:
        out["before"] = _clock(drawn.t_before, tz)
    if drawn.t_after is not None and drawn.after:
        out["after"] = _clock(drawn.t_after, tz)
    return out


def episode_maps(
    episodes: pd.DataFrame,
    windows: pd.DataFrame,
    tracks: Mapping[str, tuple[np.ndarray, ...]],
    *,
    places_near: PlacesNear | None = None,
    paths: pd.DataFrame | None = None,
    margin_s: float = PATH_MARGIN_S,
    local_tz: str = "UTC",
) -> dict[str, EpisodeMap]:
    """Map content for every episode with a position and a track.

    *paths* (the kept points of :class:`~flightpaths.score.paths.PathKeeper`) give the episode's
    own points and the path *margin_s* before and after; episodes whose aircraft has none use
    *tracks* (local x, y in metres around the episode centre and t in epoch seconds, from
    ``episode_tracks(..., with_time=True)``) and window centres around them. Time labels are in
    the episode's own zone (its ``tz``), else *local_tz*."""
    out: dict[str, EpisodeMap] = {}
    geo = episodes[[_finite(a) and _finite(b) for a, b in zip(episodes.get("lat", []), episodes.get("lon", []))]]
    objects = set(geo["object_id"].astype(str)) if len(geo) else set()
    mine = windows[windows["object_id"].astype(str).isin(objects)] if "object_id" in windows else windows.iloc[:0]
    centres = {str(obj): _ObjectPath.of(w) for obj, w in mine.groupby("object_id", sort=False)}  # once per aircraft
    kept = paths_by_object(paths[paths["object_id"].astype(str).isin(objects)]) if paths is not None and len(paths) else {}
    default_tz = _zone(local_tz, ZoneInfo("UTC"))
    for ep in geo.to_dict(orient="records"):
        eid, obj = str(ep["episode_id"]), str(ep["object_id"])
        centre = (float(ep["lat"]), float(ep["lon"]))
        start, end = pd.Timestamp(ep["start"]).timestamp(), pd.Timestamp(ep["end"]).timestamp()
        drawn = _from_points(kept[obj], start, end, margin_s) if obj in kept else None
        if drawn is None and eid in tracks:
            drawn = _from_windows(tracks[eid], centre[0], centre[1], centres.get(obj), start, end)
        if drawn is None:
            continue
        before, after = drawn.before + drawn.track[:1], drawn.track[-1:] + drawn.after  # joined to the track
        radius = float(ep["radius_m"]) if _finite(ep.get("radius_m")) else float("nan")
        bounds = _bounds(drawn.track + before + after, centre, radius)
        place = ep.get("place")
        label = str(place) if isinstance(place, str) and place.strip() else f"{centre[0]:.4f}, {centre[1]:.4f}"
        out[eid] = EpisodeMap(
            eid, centre, radius, drawn.track, drawn.t, before, after, bounds, basemap_clip(*bounds),
            _nearby(places_near, centre), label, _times(drawn, _zone(ep.get("tz"), default_tz)), drawn.approximate,
        )
    return out


def episode_lines(episodes: pd.DataFrame, windows: pd.DataFrame, paths: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Each geographic episode's track as an ``(n, 2)`` array of lon, lat in time order (for the
    GeoJSON, KML and GeoPackage writers): the aircraft's kept points in the episode's span when
    *paths* has them, else stitched from the windows' point arrays; screen episodes and episodes
    without points are left out."""
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
    kept = paths_by_object(paths)
    for ep in episodes.to_dict(orient="records") if kept else []:
        own = kept.get(str(ep["object_id"]))
        if own is None or not (_finite(ep.get("lat")) and _finite(ep.get("lon"))):
            continue
        _, lat, lon = path_between(own, pd.Timestamp(ep["start"]).timestamp(), pd.Timestamp(ep["end"]).timestamp(),
                                   TRACK_POINTS_MAX)
        if len(lat) >= 2:
            out[str(ep["episode_id"])] = np.column_stack([lon, lat])
    return out
