"""The shared local server (labeler and watch's live page): guard, errors, event streams, shutdown."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flightpaths.localserver import STRICT_CSP, LocalServer, ServerSettings, error_handlers, json_depth, read_json


def _app() -> Starlette:
    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug in a page")

    async def echo(request: Request) -> Response:
        return JSONResponse(await read_json(request, max_bytes=100, max_depth=3))

    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/boom", boom), Route("/echo", echo, methods=["POST"]), Route("/ok", ok)],
                     exception_handlers=error_handlers())


def _request(port: int, method: str, path: str, *, headers: dict[str, str] | None = None,
             body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def test_guard_token_rules_headers_and_a_failing_page(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    server = LocalServer(_app()).start()
    port, token = server.port, server.token
    try:
        status, headers, _ = _request(port, "GET", f"/ok?token={token}")
        assert status == 200 and headers["content-security-policy"] == STRICT_CSP
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert _request(port, "GET", "/ok", headers={"X-Token": token})[0] == 200
        assert _request(port, "GET", "/ok?token=nope")[0] == 403
        assert _request(port, "GET", f"/ok?token={token}", headers={"Host": "attacker.example"})[0] == 403
        assert _request(port, "GET", f"/ok?token={token}", headers={"Host": f"localhost:{port}"})[0] == 200
        # other methods take the token from the header only
        json_body = {"Content-Type": "application/json"}
        assert _request(port, "POST", f"/echo?token={token}", headers=json_body, body=b"{}")[0] == 403
        status, _, data = _request(port, "POST", "/echo", headers={**json_body, "X-Token": token}, body=b'{"a": [1]}')
        assert status == 200 and json.loads(data) == {"a": [1]}
        for body, want in ((b'{"a": [[[1]]]}', 400), (b"x" * 101, 413), (b"{", 400)):
            status, headers, data = _request(port, "POST", "/echo", headers={**json_body, "X-Token": token}, body=body)
            assert status == want and json.loads(data)["error"] and headers["content-security-policy"], (body, status)
        # a bug inside a page: a 500 with a JSON error and one log line, no traceback, and serving goes on
        with caplog.at_level(logging.ERROR, logger="flightpaths.localserver"):
            status, headers, data = _request(port, "GET", f"/boom?token={token}")
            deadline = time.monotonic() + 5  # logged after the answer went out
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.02)
        assert status == 500 and "error" in json.loads(data) and headers["content-security-policy"]
        assert [r.getMessage() for r in caplog.records] == ["the local page failed on GET /boom: RuntimeError: a bug in a page"]
        assert not caplog.records[0].exc_info
        assert _request(port, "GET", f"/ok?token={token}")[0] == 200
    finally:
        server.shutdown()
    assert "Traceback" not in capfd.readouterr().err
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # the port is free again


def test_settings_refuse_other_hosts_and_a_taken_port_raises() -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        ServerSettings(host="0.0.0.0")
    with pytest.raises(ValueError):
        ServerSettings(port=70000)
    first = LocalServer(_app())
    try:
        with pytest.raises(OSError):
            LocalServer(_app(), ServerSettings(port=first.port))
    finally:
        first.shutdown()


def test_json_depth() -> None:
    assert json_depth(1) == 0 and json_depth([]) == 1 and json_depth({"a": [{"b": 1}]}) == 3
    deep: list[object] = []
    for _ in range(50_000):  # deeper than Python's recursion limit: counted without recursion
        deep = [deep]
    assert json_depth(deep, limit=10) == 11


def test_live_page_stops_promptly_with_an_event_stream_open(caplog: pytest.LogCaptureFixture) -> None:
    from flightpaths.watch.server import LivePage

    page = LivePage.start(0)
    port = page.port_ref[0]
    page.state["data"] = {"alerts": [], "value": float("nan")}
    page.state["version"] += 1
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET /events?token={page.token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    first = b""
    while b"data:" not in first or not first.rstrip(b"\r\n0").endswith(b"}"):  # past "retry:", to the first data event
        chunk = sock.recv(4096)
        assert chunk, first
        first += chunk
    assert b"text/event-stream" in first and b'"value": null' in first  # NaN sent as null: valid JSON
    began = time.monotonic()
    page.stop()
    assert time.monotonic() - began < 2.0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    sock.close()


def test_snapshot_gives_each_open_alert_its_track_map_context_and_times() -> None:
    from types import SimpleNamespace

    import pandas as pd

    from flightpaths.watch.server import snapshot, to_json

    times = pd.date_range("2024-06-01 09:31", periods=30, freq="1min", tz="UTC")
    pts = pd.DataFrame({"time": times, "lat": 40.62 + 0.01 * np.sin(np.arange(30)), "lon": -73.83 + 0.01 * np.cos(np.arange(30)),
                        "callsign": "NYPD2"})  # fmt: skip
    episode = {"episode_id": "e1", "object_id": "a1b2c3", "callsign": "NYPD2", "start": "2024-06-01 09:31:00+00:00",
               "end": "2024-06-01 09:59:00+00:00", "lat": 40.62, "lon": -73.83, "p_segment": float("nan")}  # fmt: skip
    ac = SimpleNamespace(object_id="a1b2c3", pieces=[1], points=lambda: pts,
                         alerts={"e1": SimpleNamespace(alert_id="e1", episode=episode)})  # fmt: skip
    engine = SimpleNamespace(aircraft={"a1b2c3": ac}, closed=[], now_ns=int(times[-1].value))
    data = snapshot(engine)
    (alert,) = data["alerts"]
    # the 29 points from the episode's start to its end are its track; the one after is "since"
    assert alert["alert_id"] == "e1" and len(alert["track"]) == 29 and alert["after"]
    assert alert["centre"] == [40.62, -73.83]
    assert alert["context"]["land"] and alert["context"]["coast"]
    assert alert["when_local"] == "Sat 01 Jun 2024, 05:31–05:59 EDT (America/New_York)"
    assert data["aircraft"][0]["alert"] is True
    assert json.loads(to_json(data))["alerts"][0]["p_segment"] is None  # NaN is not JSON


def test_watch_says_so_when_the_live_page_port_is_taken(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from flightpaths.cli import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(cli, ["watch", "--connect", "127.0.0.1:9", "-o", str(tmp_path / "out"), "--serve", str(port),
                                     "--duration", "1s"])  # fmt: skip
    assert r.exit_code == 1 and f"cannot serve the live page on 127.0.0.1:{port}" in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
