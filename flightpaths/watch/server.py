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

__all__ = ["LIVE_CSP", "TILES", "LivePage", "alert_view", "live_app", "snapshot", "to_json"]

log = logging.getLogger(__name__)

_TRACK_POINTS = 200


def _track(points: pd.DataFrame) -> list[list[float]]:
    if points is None or points.empty:
        return []
    p = points[["lat", "lon"]].dropna().to_numpy(float)
    if len(p) > _TRACK_POINTS:
        p = p[np.linspace(0, len(p) - 1, _TRACK_POINTS).astype(int)]
    track: list[list[float]] = np.round(p, 5).tolist()
    return track


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
        return {"land": [], "coast": [], "borders": []}
    return {"land": [[_swap(ring) for ring in poly[:1]] for poly in clip.land],
            "coast": [_swap(line) for line in clip.coast], "borders": [_swap(line) for line in clip.borders]}  # fmt: skip


def _box(track: list[list[float]], centre: tuple[float, float] | None) -> tuple[float, float, float, float] | None:
    """west, south, east, north around the track (rounded, so that a growing track reuses a clip)."""
    pts = track + ([list(centre)] if centre else [])
    if not pts:
        return None
    lat, lon = [p[0] for p in pts], [p[1] for p in pts]
    extent = max(max(lat) - min(lat), max(lon) - min(lon))
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
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    utc = f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    zone = str(episode.get("tz") or "")
    lat, lon = episode.get("lat"), episode.get("lon")
    if not zone and isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        from ..context.timezones import zones_at

        try:
            zone = str(zones_at(np.array([lat], float), np.array([lon], float))[0])
        except FlightpathsError:
            zone = ""
    if not zone:
        return "", utc
    try:
        ls, le = start.tz_convert(zone), end.tz_convert(zone)
    except Exception:  # noqa: BLE001 - an unknown zone name from data: UTC only
        return "", utc
    return f"{ls:%a %d %b %Y, %H:%M}–{le:%H:%M} {ls.tzname()} ({zone})", utc


def _warm_up() -> None:
    """Load what :func:`alert_view` needs once (about 2 s on a busy machine)."""
    try:
        alert_view({"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:10:00Z", "lat": 40.7, "lon": -74.0}, [[40.7, -74.0]])
    except Exception as exc:  # noqa: BLE001 - the page works without it; the first alert will say what fails
        log.debug("warm-up of the live page failed: %s", exc)


def alert_view(episode: dict[str, Any], track: list[list[float]]) -> dict[str, Any]:
    """One open alert as the page shows it: the episode's fields, its track, the offline map
    context around it and its times as text (local and UTC)."""
    lat, lon = episode.get("lat"), episode.get("lon")
    centre = (float(lat), float(lon)) if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) else None
    box = _box(track, centre)
    local, utc = _when(episode)
    return {**episode, "track": track, "centre": list(centre) if centre else None,
            "context": _context(*box) if box else {"land": [], "coast": [], "borders": []},
            "when_local": local, "when_utc": utc}  # fmt: skip


def snapshot(engine: Any, *, recent: int = 20) -> dict[str, Any]:
    """What the page shows, as JSON-ready data (every string is escaped by the page, not here)."""
    aircraft = []
    alerts = []
    for ac in engine.aircraft.values():
        pts = ac.points() if ac.pieces else pd.DataFrame()
        if len(pts):
            last = pts.iloc[-1]
            aircraft.append({"object_id": ac.object_id, "callsign": None if pd.isna(last.get("callsign")) else str(last.get("callsign")),
                             "time": str(last["time"]), "lat": float(last["lat"]), "lon": float(last["lon"]),
                             "alert": bool(ac.alerts)})
        for alert in ac.alerts.values():
            alerts.append(alert_view({**alert.episode, "alert_id": alert.alert_id}, _track(pts.tail(2000) if len(pts) else pts)))
    closed = engine.closed[-recent:][::-1]
    return {"feed_time": str(pd.Timestamp(engine.now_ns, tz="UTC")) if engine.now_ns > 0 else None,
            "aircraft": sorted(aircraft, key=lambda a: a["object_id"]), "alerts": alerts, "closed": closed}


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
    """The page's JSON: strict (no NaN), anything unusual as text."""
    return json.dumps(_finite(json.loads(json.dumps(data, default=str))), allow_nan=False)


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
            seen = -1
            while not stop.is_set() and not await request.is_disconnected():
                if state.get("version", 0) != seen:
                    seen = state.get("version", 0)
                    yield f"data: {to_json(state.get('data', {}))}\n\n"
                await asyncio.sleep(0.25)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    routes = [Route("/", page, methods=["GET"]), Route("/static/{name}", static, methods=["GET"]),
              Route("/state", current, methods=["GET"]), Route("/events", events, methods=["GET"])]  # fmt: skip
    return Starlette(routes=routes, exception_handlers=error_handlers())


class LivePage:
    """The page served by uvicorn in a background thread; :meth:`update` after each engine step."""

    def __init__(self, port: int) -> None:
        self.token = secrets.token_urlsafe(16)
        self.state: dict[str, Any] = {"version": 0, "data": {}}
        stopping = threading.Event()
        self.server = LocalServer(live_app(self.state, self.token, stopping), ServerSettings(port=port),
                                  token=self.token, csp=LIVE_CSP, name="flightpaths-watch-page", stopping=stopping)  # fmt: skip
        self.port_ref = [self.server.port]
        self.last = 0.0

    @classmethod
    def start(cls, port: int = 0) -> LivePage:
        """Bind 127.0.0.1:*port* (0: a free one) and serve from a background thread."""
        page = cls(port)
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
