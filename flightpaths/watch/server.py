"""The live page: aircraft in view, open alerts with a map of their track, recent closed
episodes; pushed to the browser as server-sent events. Starlette on uvicorn, 127.0.0.1 only,
with a per-run token in the URL and a Host check: the server is :mod:`flightpaths.localserver`,
shared with the labeler. The page (``web/``) sets every data field with ``textContent``."""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import threading
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..localserver import LocalServer, ServerSettings, error_handlers, error_response

__all__ = ["LIVE_CSP", "LivePage", "live_app", "snapshot", "to_json"]

_TRACK_POINTS = 200


def _track(points: pd.DataFrame) -> list[list[float]]:
    if points is None or points.empty:
        return []
    p = points[["lat", "lon"]].dropna().to_numpy(float)
    if len(p) > _TRACK_POINTS:
        p = p[np.linspace(0, len(p) - 1, _TRACK_POINTS).astype(int)]
    track: list[list[float]] = np.round(p, 5).tolist()
    return track


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
            alerts.append({**alert.episode, "alert_id": alert.alert_id, "track": _track(pts.tail(2000) if len(pts) else pts)})
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
}
#: The page's own script and style only; map tiles when online (the offline context is drawn either way).
LIVE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
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
