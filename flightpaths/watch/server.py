"""The live page: aircraft in view, open alerts with a map of their track, recent closed
episodes; pushed to the browser as server-sent events. Starlette on uvicorn, 127.0.0.1 only,
with a per-run token in the URL and a Host check (as the labeler)."""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LivePage", "live_app", "snapshot"]

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


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>flightpaths watch</title>
<style>body{font:14px system-ui,sans-serif;margin:1em}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd}
.alert{border:2px solid #c33;padding:6px;margin:6px 0}svg{background:#f4f4f4}</style></head><body>
<h1>flightpaths watch</h1><p>Possible circling, scored live. Leads are possible, never confirmed: check each one.</p>
<p>Feed time: <span id="feed"></span></p><h2>Open alerts</h2><div id="alerts"></div>
<h2>Aircraft in view</h2><table id="aircraft"></table><h2>Recently closed</h2><table id="closed"></table>
<script>
const token = new URLSearchParams(location.search).get("token");
function cell(tr, text){const td=document.createElement("td");td.textContent=text==null?"":String(text);tr.appendChild(td);}
function table(id, rows, keys){const t=document.getElementById(id);t.replaceChildren();
 const h=document.createElement("tr");keys.forEach(k=>{const th=document.createElement("th");th.textContent=k;h.appendChild(th)});t.appendChild(h);
 rows.forEach(r=>{const tr=document.createElement("tr");keys.forEach(k=>cell(tr,r[k]));t.appendChild(tr)});}
function map(track){const ns="http://www.w3.org/2000/svg";const svg=document.createElementNS(ns,"svg");svg.setAttribute("width","240");
 svg.setAttribute("height","240");
 if(track.length<2)return svg;const la=track.map(p=>p[0]),lo=track.map(p=>p[1]);const c=Math.cos(la[0]*Math.PI/180);
 const x0=Math.min(...lo),x1=Math.max(...lo),y0=Math.min(...la),y1=Math.max(...la);const s=230/Math.max((x1-x0)*c,y1-y0,1e-6);
 const pl=document.createElementNS(ns,"polyline");pl.setAttribute("fill","none");pl.setAttribute("stroke","#c33");
 pl.setAttribute("points",track.map(p=>((p[1]-x0)*c*s+5).toFixed(1)+","+(235-(p[0]-y0)*s).toFixed(1)).join(" "));svg.appendChild(pl);return svg;}
function render(d){document.getElementById("feed").textContent=d.feed_time||"";const box=document.getElementById("alerts");box.replaceChildren();
 d.alerts.forEach(a=>{const div=document.createElement("div");div.className="alert";const p=document.createElement("p");
  p.textContent=[a.callsign,a.registration,a.object_id,a.type_code,a.operator,a.place].filter(x=>x).join(" · ")
   +" — from "+a.start+" to "+a.end+", p="+(a.p_segment??a.peak_p);
  div.appendChild(p);div.appendChild(map(a.track||[]));box.appendChild(div);});
 table("aircraft",d.aircraft,["object_id","callsign","time","lat","lon","alert"]);
 table("closed",d.closed,["object_id","callsign","start","end","p_segment","place"]);}
const es=new EventSource("/events?token="+encodeURIComponent(token));es.onmessage=e=>render(JSON.parse(e.data));
</script></body></html>"""


def live_app(state: dict[str, Any], token: str, port_ref: list[int]) -> Any:
    """The Starlette app of the page: ``/`` (HTML), ``/state`` (JSON), ``/events`` (SSE)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    def allowed(request: Request) -> Response | None:
        host = (request.headers.get("host") or "").lower()
        port = port_ref[0]
        if host not in {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}:
            return PlainTextResponse("wrong Host header", status_code=403)
        given = request.query_params.get("token") or request.headers.get("x-token") or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            return PlainTextResponse("missing or wrong token: open the URL watch printed", status_code=403)
        return None

    async def page(request: Request) -> Response:
        return allowed(request) or HTMLResponse(
            _PAGE, headers={"Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"})

    async def current(request: Request) -> Response:
        return allowed(request) or JSONResponse(state.get("data", {}))

    async def events(request: Request) -> Response:
        denied = allowed(request)
        if denied:
            return denied

        async def stream() -> Any:
            seen = -1
            while not await request.is_disconnected():
                if state.get("version", 0) != seen:
                    seen = state.get("version", 0)
                    yield f"data: {json.dumps(state.get('data', {}), default=str)}\n\n"
                await asyncio.sleep(0.5)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    return Starlette(routes=[Route("/", page), Route("/state", current), Route("/events", events)])


class LivePage:
    """The page served by uvicorn in a background thread; :meth:`update` after each engine step."""

    def __init__(self, port: int) -> None:
        import uvicorn

        self.token = secrets.token_urlsafe(16)
        self.state: dict[str, Any] = {"version": 0, "data": {}}
        self.port_ref = [port]
        config = uvicorn.Config(live_app(self.state, self.token, self.port_ref), host="127.0.0.1", port=port,
                                log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.last = 0.0

    @classmethod
    def start(cls, port: int = 0) -> LivePage:
        page = cls(port)
        page.thread.start()
        for _ in range(100):
            if page.server.started:
                break
            time.sleep(0.05)
        if port == 0 and page.server.servers:
            page.port_ref[0] = page.server.servers[0].sockets[0].getsockname()[1]
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
        self.server.should_exit = True
        self.thread.join(timeout=5)
