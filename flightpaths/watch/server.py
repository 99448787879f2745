"""The live page: aircraft in view, open alerts with a map of their track, recent closed
episodes; pushed to the browser as server-sent events. Starlette on uvicorn, 127.0.0.1 only,
with a per-run token in the URL and a Host check: the server is :mod:`flightpaths.localserver`,
shared with the labeler. The page (``web/``) sets every data field with ``textContent``."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..errors import FlightpathsError
from ..localserver import LocalServer, ServerSettings, error_handlers, error_response

__all__ = ["LIVE_CSP", "TILES", "LivePage", "alert_view", "closed_view", "episode_paths", "headline", "live_app", "snapshot", "to_json"]

log = logging.getLogger(__name__)

_TRACK_POINTS = 200
#: How much of the aircraft's path before an episode the map shows (as the tip sheet does).
_BEFORE_S = 30 * 60
_NO_CONTEXT: dict[str, Any] = {"land": [], "coast": [], "borders": []}


def _thin(p: np.ndarray, most: int = _TRACK_POINTS) -> list[list[float]]:
    if len(p) > most:
        p = p[np.linspace(0, len(p) - 1, most).astype(int)]
    line: list[list[float]] = np.round(p, 5).tolist()
    return line


def _track(points: pd.DataFrame) -> list[list[float]]:
    """*points*' lat, lon as [lat, lon] pairs, at most :data:`_TRACK_POINTS` of them."""
    if points is None or points.empty:
        return []
    return _thin(points[["lat", "lon"]].dropna().to_numpy(float))


def _utc_ns(value: Any) -> int | None:
    """Epoch nanoseconds of a time (naive times are UTC); None when missing or unreadable."""
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if t is pd.NaT or pd.isna(t):
        return None
    return int((t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).value)


def _ms(value: Any) -> int | None:
    ns = _utc_ns(value)
    return None if ns is None else ns // 1_000_000


def episode_paths(points: pd.DataFrame, start: Any, end: Any) -> dict[str, list[list[float]]]:
    """The aircraft's path split at an episode: ``track`` from *start* to *end*, ``before`` (the
    half hour before) and ``after`` (since the end, to its last point), each as [lat, lon] pairs."""
    empty: dict[str, list[list[float]]] = {"track": [], "before": [], "after": []}
    if points is None or points.empty or "time" not in points:
        return empty
    ll = np.column_stack([points["lat"].to_numpy(float, na_value=np.nan), points["lon"].to_numpy(float, na_value=np.nan)])
    ok = np.isfinite(ll).all(axis=1)
    t0, t1 = _utc_ns(start), _utc_ns(end)
    if t0 is None or t1 is None:
        return {**empty, "track": _thin(ll[ok])}
    t = np.asarray(points["time"].to_numpy("datetime64[ns]", na_value=np.datetime64("NaT")), "datetime64[ns]").view("int64")
    ll, t = ll[ok], t[ok]
    inside = (t >= t0) & (t <= t1)
    track = _thin(ll[inside])
    before = _thin(ll[(t >= t0 - _BEFORE_S * 1_000_000_000) & (t < t0)], 100)
    after = _thin(ll[t > t1], 100)
    if track:  # joined to the track, as on the tip sheet
        before, after = (before + track[:1] if before else []), (track[-1:] + after if after else [])
    return {"track": track, "before": before, "after": after}


def _swap(line: list[tuple[float, float]]) -> list[list[float]]:
    return [[lat, lon] for lon, lat in line]


@lru_cache(maxsize=64)
def _context(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    """Offline map context in a box (Natural Earth land, coast, borders), as [lat, lon] lines."""
    from ..score.basemap import basemap_clip

    try:
        clip = basemap_clip(west, south, east, north)
    except (OSError, ValueError) as exc:  # a damaged install: the page still draws the track
        log.warning("no offline map context: %s", exc)
        return dict(_NO_CONTEXT)
    return {"land": [[_swap(ring) for ring in poly[:1]] for poly in clip.land],
            "coast": [_swap(line) for line in clip.coast], "borders": [_swap(line) for line in clip.borders]}  # fmt: skip


@lru_cache(maxsize=256)
def _places(lat: float, lon: float) -> list[list[Any]]:
    """Names of the larger places around a centre, as [name, lat, lon] (map labels), nearest first."""
    from ..context import places_near

    try:
        near = places_near(lat, lon, limit=8)
    except (FlightpathsError, OSError, ValueError) as exc:  # labels are optional context
        log.debug("no place labels: %s", exc)
        return []
    kx = math.cos(math.radians(lat))
    rows = [[str(p.name), round(float(p.lat), 5), round(float(p.lon), 5)] for p in near]
    return sorted(rows, key=lambda r: (r[1] - lat) ** 2 + ((r[2] - lon) * kx) ** 2)


def _box(track: list[list[float]], centre: tuple[float, float] | None, radius_m: float = 0.0) -> tuple[float, float, float, float] | None:
    """west, south, east, north around the track and the centre's circle (rounded, so that a
    growing track reuses a clip); None when there is neither."""
    pts = track + ([list(centre)] if centre else [])
    if not pts:
        return None
    lat, lon = [p[0] for p in pts], [p[1] for p in pts]
    extent = max(max(lat) - min(lat), max(lon) - min(lon), 2 * radius_m / 111_195.0)
    dlat, dlon = max(0.2, 2 * extent), max(0.5, 5 * extent)  # the map is wide: more room east and west
    return (round(max(min(lon) - dlon, -180.0), 1), round(max(min(lat) - dlat, -90.0), 1),
            round(min(max(lon) + dlon, 180.0), 1), round(min(max(lat) + dlat, 90.0), 1))  # fmt: skip


def _when(episode: dict[str, Any]) -> tuple[str, str]:
    """The episode's span in local time (its own zone, looked up from its position when missing)
    and in UTC, as text."""
    try:
        start, end = pd.Timestamp(episode["start"]), pd.Timestamp(episode["end"])
    except (KeyError, ValueError, TypeError):
        return "", ""
    if start is pd.NaT or end is pd.NaT:
        return "", ""
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    utc = f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    zone = str(episode.get("tz") or "")
    centre = _centre(episode)
    if not zone and centre is not None:
        from ..context.timezones import zones_at

        try:
            zone = str(zones_at(np.array([centre[0]], float), np.array([centre[1]], float))[0])
        except FlightpathsError:
            zone = ""
    if not zone:
        return "", utc
    try:
        ls, le = start.tz_convert(zone), end.tz_convert(zone)
    except Exception:  # noqa: BLE001 - an unknown zone name from data: UTC only
        return "", utc
    return f"{ls:%a %d %b %Y, %H:%M}–{le:%H:%M} {ls.tzname()} ({zone})", utc


def _number(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _centre(episode: dict[str, Any]) -> tuple[float, float] | None:
    lat, lon = _number(episode.get("lat")), _number(episode.get("lon"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _links(episode: dict[str, Any], centre: tuple[float, float] | None) -> list[list[str]]:
    """[label, url] pairs a reporter checks an alert with: replays at that time, the FAA
    registry (US aircraft), OpenStreetMap at the centre."""
    from ..score import faa_registry_url, replay_urls
    from ..score.tipsheet import osm_url

    links = [[name, url] for name, url in replay_urls(str(episode.get("object_id", "")), episode.get("start"), episode.get("end")).items()]
    faa = faa_registry_url(episode.get("registration"), episode.get("country"))
    if faa:
        links.append(["FAA registry", faa])
    if centre is not None:
        links.append(["OpenStreetMap", osm_url(*centre, zoom=13)])
    return links


def headline(episode: dict[str, Any]) -> float | None:
    """The probability an alert is shown and sorted by (``p_segment``, else its peak window's)."""
    for key in ("p_segment", "peak_p"):
        p = _number(episode.get(key))
        if p is not None:
            return p
    return None


def _warm_up() -> None:
    """Load what :func:`alert_view` needs once (about 2 s on a busy machine)."""
    try:
        alert_view({"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:10:00Z", "lat": 40.7, "lon": -74.0}, [[40.7, -74.0]])
    except Exception as exc:  # noqa: BLE001 - the page works without it; the first alert will say what fails
        log.debug("warm-up of the live page failed: %s", exc)


def alert_view(episode: dict[str, Any], track: list[list[float]], *, before: list[list[float]] | None = None,
               after: list[list[float]] | None = None) -> dict[str, Any]:  # fmt: skip
    """One open alert as the page shows it: the episode's fields, its track (and the path before
    and after), the offline map context and place labels around it, its times as text (local
    and UTC) and as epoch milliseconds, its headline probability and links to check it with."""
    centre = _centre(episode)
    radius = _number(episode.get("radius_m")) or 0.0
    before, after = before or [], after or []
    box = _box(track + before[-20:] + after, centre, radius)
    local, utc = _when(episode)
    return {**episode, "track": track, "before": before, "after": after, "centre": list(centre) if centre else None,
            "radius_m": radius or None, "context": _context(*box) if box else dict(_NO_CONTEXT),
            "places": _places(round(centre[0], 2), round(centre[1], 2)) if centre else [],
            "when_local": local, "when_utc": utc, "start_ms": _ms(episode.get("start")), "end_ms": _ms(episode.get("end")),
            "p": headline(episode), "links": _links(episode, centre)}  # fmt: skip


_CLOSED_FIELDS = ("episode_id", "object_id", "callsign", "registration", "type_code", "operator", "place", "duration_s")


def closed_view(episode: dict[str, Any]) -> dict[str, Any]:
    """One closed episode as the page's table shows it."""
    local, utc = _when(episode)
    return {**{k: episode.get(k) for k in _CLOSED_FIELDS}, "when_local": local, "when_utc": utc,
            "start_ms": _ms(episode.get("start")), "end_ms": _ms(episode.get("end")), "p": headline(episode),
            "links": _links(episode, _centre(episode))}  # fmt: skip


def _text(value: Any) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else str(value)


def _aircraft_row(ac: Any, pts: pd.DataFrame) -> dict[str, Any]:
    """The aircraft's last point, as the page's table shows it (cell by cell: no row or column Series)."""

    def last(col: str) -> Any:
        return pts.iat[-1, pts.columns.get_loc(col)] if col in pts.columns else None

    return {"object_id": ac.object_id, "callsign": _text(last("callsign")), "registration": _text(last("registration")),
            "seen_ms": _ms(last("time")), "lat": _number(last("lat")), "lon": _number(last("lon")),
            "altitude_ft": _number(last("altitude_ft")), "speed_kt": _number(last("speed_kt")), "alert": bool(ac.alerts)}  # fmt: skip


def _rank(alert: dict[str, Any]) -> tuple[float, int]:
    return -(alert.get("p") or 0.0), -(alert.get("end_ms") or 0)


def snapshot(engine: Any, *, recent: int = 20) -> dict[str, Any]:
    """What the page shows, as JSON-ready data (every string is escaped by the page, not here):
    the feed time (ISO to the second and epoch ms), aircraft in view, open alerts (highest
    probability first, then the latest) and the latest closed episodes."""
    aircraft = []
    alerts = []
    for ac in engine.aircraft.values():
        pts = ac.points() if ac.pieces else pd.DataFrame()
        if len(pts):
            aircraft.append(_aircraft_row(ac, pts))
        for alert in ac.alerts.values():
            episode = {**alert.episode, "alert_id": alert.alert_id}
            paths = episode_paths(pts, episode.get("start"), episode.get("end"))
            alerts.append(alert_view(episode, paths["track"], before=paths["before"], after=paths["after"]))
    closed = [closed_view(e) for e in engine.closed[-recent:][::-1]]
    feed = pd.Timestamp(engine.now_ns, tz="UTC") if engine.now_ns > 0 else None
    return {"feed_time": f"{feed:%Y-%m-%dT%H:%M:%SZ}" if feed is not None else None,
            "feed_ms": engine.now_ns // 1_000_000 if feed is not None else None,
            "aircraft": sorted(aircraft, key=lambda a: a["object_id"]), "alerts": sorted(alerts, key=_rank), "closed": closed}  # fmt: skip


def _finite(value: Any) -> Any:
    """*value* with NaN and infinities as None (JSON has no NaN; the browser's parser refuses it)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data: Any) -> str:
    """The page's JSON: strict (no NaN: null instead), anything unusual as text."""
    try:
        return json.dumps(data, default=_plain, allow_nan=False)  # the usual case, in one pass
    except ValueError:  # a NaN or an infinity somewhere
        return json.dumps(_finite(json.loads(json.dumps(data, default=_plain))), allow_nan=False)


def _plain(value: Any) -> Any:
    """A numpy number as a Python one; anything else JSON lacks as text."""
    return value.item() if isinstance(value, np.generic) else str(value)


#: Seconds between the event stream's keep-alive comments, when nothing changes.
_HEARTBEAT_S = 10.0
#: Milliseconds the browser waits before reconnecting a dropped event stream.
_RETRY_MS = 2000

_STATIC = {
    "live.js": ("watch", "text/javascript; charset=utf-8"),
    "live.css": ("watch", "text/css; charset=utf-8"),
    "leaflet.js": ("score", "text/javascript; charset=utf-8"),  # vendored, as the tip sheet's
    "leaflet.css": ("score", "text/css; charset=utf-8"),
}
#: Map tiles, as on the tip sheet: they load when online; the offline context is drawn either way.
TILES = "https://tile.openstreetmap.org"
#: The page's own scripts and styles only; images from itself and the tile server.
LIVE_CSP = (
    f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: {TILES}; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _web_file(package: str, name: str) -> bytes:
    return resources.files(f"flightpaths.{package}").joinpath("web").joinpath(name).read_bytes()


def live_app(state: dict[str, Any], token: str, stopping: threading.Event | None = None) -> Starlette:
    """The Starlette app of the page: ``/`` (HTML), ``/static/*``, ``/state`` (JSON), ``/events`` (SSE).

    Host and token are checked in front of it by :class:`~flightpaths.localserver.Guard`;
    *stopping* ends open event streams when the server shuts down.
    """
    stop = stopping or threading.Event()

    async def page(request: Request) -> Response:
        html = _web_file("watch", "index.html").replace(b"{{token}}", token.encode())
        return Response(html, media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return error_response(404, "not found")
        package, ctype = _STATIC[name]
        return Response(_web_file(package, name), headers={"Content-Type": ctype})

    async def current(request: Request) -> Response:
        return Response(to_json(state.get("data", {})), media_type="application/json")

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            seen, quiet = -1, 0.0
            yield f"retry: {_RETRY_MS}\n\n"  # how soon the browser reconnects after a drop
            while not stop.is_set() and not await request.is_disconnected():
                if state.get("version", 0) != seen:
                    seen, quiet = state.get("version", 0), 0.0
                    yield f"data: {to_json(state.get('data', {}))}\n\n"
                elif quiet >= _HEARTBEAT_S:  # the page knows the server is there (and a dead line shows)
                    quiet = 0.0
                    yield "event: alive\ndata: 1\n\n"
                await asyncio.sleep(0.25)
                quiet += 0.25

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    routes = [Route("/", page, methods=["GET"]), Route("/static/{name}", static, methods=["GET"]),
              Route("/state", current, methods=["GET"]), Route("/events", events, methods=["GET"])]  # fmt: skip
    return Starlette(routes=routes, exception_handlers=error_handlers())


class LivePage:
    """The page served by uvicorn in a background thread; :meth:`update` after each engine step."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(16)
        self.state: dict[str, Any] = {"version": 0, "data": {}}
        stopping = threading.Event()
        self.server = LocalServer(live_app(self.state, self.token, stopping), ServerSettings(port=port),
                                  token=self.token, csp=LIVE_CSP, name="flightpaths-watch-page", stopping=stopping)  # fmt: skip
        self.port_ref = [self.server.port]
        self.last = 0.0

    @classmethod
    def start(cls, port: int = 0, token: str | None = None) -> LivePage:
        """Bind 127.0.0.1:*port* (0: a free one) and serve from a background thread; *token*
        (default: a new random one) is the secret the page's address carries."""
        page = cls(port, token)
        page.server.start()
        # load the map context and time zones now, not on the engine's thread at the first alert
        threading.Thread(target=_warm_up, name="flightpaths-watch-warm-up", daemon=True).start()
        return page

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port_ref[0]}/?token={self.token}"

    def update(self, engine: Any, events: list[Any]) -> None:
        if not events and time.monotonic() - self.last < 2.0:
            return
        self.last = time.monotonic()
        self.state["data"] = snapshot(engine)
        self.state["version"] += 1

    def stop(self) -> None:
        self.server.shutdown()
