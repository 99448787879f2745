"""The labeler's HTTP server: token, Host check, actions, hostile input, and a crash mid-burst."""

from __future__ import annotations

import csv
import http.client
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_label import HOSTILE_CALLSIGN, make_render_folder

from flightpaths.label.dataset import Dataset, load_images
from flightpaths.label.server import LabelApp, LabelServer, ServerSettings
from flightpaths.label.session import rule_frame


class Client:
    """A tiny HTTP client for the labeler (stdlib only)."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, header: bool = True,
        host: str | None = None, ctype: str = "application/json",
    ) -> tuple[int, Any]:  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Host": host or f"127.0.0.1:{self.port}"}
        if header:
            headers["X-Token"] = self.token if token is None else token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        if resp.getheader("Content-Type", "").startswith("application/json"):
            return resp.status, json.loads(raw)
        return resp.status, raw


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Client, Dataset, LabelServer]]:
    make_render_folder(tmp_path / "renders", ["circle", "line", "bend", "circle"], hostile_at=1)
    images = load_images(tmp_path / "renders")
    ds = Dataset.open(tmp_path / "ds", images, classes=["circling", "straight"])
    server = LabelServer(LabelApp(ds, images, rules=rule_frame(images)), ServerSettings()).start()
    try:
        yield Client(server.port, server.token), ds, server
    finally:
        server.shutdown()
        ds.close()


def test_every_request_needs_the_token_and_the_right_host(served: tuple[Client, Dataset, LabelServer]) -> None:
    client, _, server = served
    assert server.url.startswith("http://127.0.0.1:") and f"token={server.token}" in server.url
    assert client.request("GET", "/", header=False)[0] == 403
    assert client.request("GET", "/?token=wrong", header=False)[0] == 403
    assert client.request("GET", "/api/image/0", header=False)[0] == 403
    assert client.request("GET", "/static/app.js", header=False)[0] == 403
    status, page = client.request("GET", f"/?token={client.token}", header=False)
    assert status == 200 and f"/static/app.js?token={client.token}".encode() in page
    assert client.request("GET", f"/static/app.js?token={client.token}", header=False)[0] == 200
    assert client.request("GET", "/api/state", host="evil.example:80")[0] == 403  # DNS rebinding
    # the API takes the token only from a header (a cross-site form cannot send one)
    assert client.request("POST", f"/api/label?token={client.token}", {"ids": [0], "label": "circling"}, header=False)[0] == 403
    assert client.request("POST", "/api/label", {"ids": [0], "label": "circling"}, ctype="text/plain")[0] == 415


def test_actions_label_skip_undo_and_hostile_input(served: tuple[Client, Dataset, LabelServer]) -> None:
    client, ds, _ = served
    status, state = client.request("GET", "/api/state")
    assert status == 200 and state["classes"] == ["circling", "straight"] and state["total"] == 4
    assert state["order_by"] == "rule score"
    assert state["items"][0]["rule"]["label"] == "circling"  # highest rule score first
    hostile = [it for it in state["items"] if it["callsign"] == HOSTILE_CALLSIGN]
    assert len(hostile) == 1  # passed through as data; the page sets it with textContent
    first, second = state["items"][0]["id"], state["items"][1]["id"]
    status, result = client.request("POST", "/api/label", {"ids": [first, second], "label": "circling"})
    assert status == 200 and result["counts"]["circling"] == 2 and result["can_undo"]
    assert {it["label"] for it in result["changed"]} == {"circling"}
    client.request("POST", "/api/skip", {"ids": [first]})
    status, result = client.request("POST", "/api/undo", {})
    assert result["undone"] and result["changed"][0]["label"] == "circling"
    assert ds.counts()["circling"] == 2
    for bad in ({"ids": [99], "label": "circling"}, {"ids": ["../x"], "label": "circling"},
                {"ids": [0], "label": "nope"}, {"ids": [], "label": "circling"}):  # fmt: skip
        status, body = client.request("POST", "/api/label", bad)
        assert status == 400 and body["error"]
    status, body = client.request("POST", "/api/classes", {"name": "<img src=x onerror=alert(1)>"})
    assert status == 400 and "not allowed" in body["error"]
    status, body = client.request("POST", "/api/classes", {"name": "hover"})
    assert status == 200 and body["classes"] == ["circling", "straight", "hover"]
    assert client.request("GET", "/api/image/99")[0] == 404
    assert client.request("GET", "/api/image/..%2f..%2fetc%2fpasswd")[0] == 404
    status, png = client.request("GET", "/api/image/0")
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.request("POST", "/api/explode", {})[0] == 404


def _start_cli(renders: Path, ds: Path) -> tuple[subprocess.Popen[str], Client]:
    cmd = [sys.executable, "-c", "from flightpaths.cli import main; main()", "label", str(renders), "-o", str(ds),
           "--no-browser", "--port", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)", line)
    if not match:
        proc.kill()
        raise AssertionError(f"no URL printed: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, Client(int(match.group(1)), match.group(2))


@pytest.mark.slow
def test_killing_the_server_mid_burst_loses_at_most_the_decision_in_flight(tmp_path: Path) -> None:
    kinds = ["circle", "line", "bend"] * 20
    make_render_folder(tmp_path / "renders", kinds)
    ds_root = tmp_path / "ds"
    proc, client = _start_cli(tmp_path / "renders", ds_root)
    acked: list[tuple[int, str]] = []
    sent: list[tuple[int, str]] = []

    def burst() -> None:
        for i in range(len(kinds)):
            label = "circling" if i % 2 else "straight"
            sent.append((i, label))
            try:
                status, _ = client.request("POST", "/api/label", {"ids": [i], "label": label})
            except (ConnectionError, http.client.HTTPException, OSError):
                return
            if status == 200:
                acked.append((i, label))

    thread = threading.Thread(target=burst)
    thread.start()
    deadline = time.monotonic() + 30
    while len(acked) < 12 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
    thread.join(timeout=15)
    proc.wait(timeout=10)
    assert 12 <= len(acked) < len(kinds), "the kill should land in the middle of the burst"
    in_flight = [s for s in sent if s not in acked]
    assert len(in_flight) <= 1
    # labels.csv is rewritten atomically: readable, and holding every acknowledged decision
    with open(ds_root / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= len(acked)

    proc, client = _start_cli(tmp_path / "renders", ds_root)  # restart: replay and repair
    try:
        status, state = client.request("GET", "/api/state")
        assert status == 200
        labels = {it["id"]: it["label"] for it in state["items"] if it["label"]}
        for i, label in acked:
            assert labels[i] == label
        assert set(labels) - {i for i, _ in acked} <= {i for i, _ in in_flight}
        names = {it["id"]: it["name"] for it in state["items"]}
        on_disk = {p.relative_to(ds_root).as_posix() for p in ds_root.glob("*/*.png")}
        assert on_disk == {f"{labels[i]}/{names[i]}" for i in labels}
        # and labelling goes on where it stopped
        nxt = state["items"][0]["id"]
        assert nxt not in labels
        assert client.request("POST", "/api/label", {"ids": [nxt], "label": "circling"})[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"{len(labels) + 1} labelled" in out


def _raw(port: int, data: bytes) -> str:
    """Send raw bytes to the server and return the start of its answer ('' if it hung up silently)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
        except OSError:  # the server may answer and close before it has read everything
            pass
        try:
            return s.recv(4096).decode("latin-1")
        except ConnectionResetError:
            return ""


def _post(port: int, token: str, body: bytes, *, ctype: str = "application/json", length: str | None = None) -> bytes:
    head = (f"POST /api/label HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Token: {token}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n")  # fmt: skip
    return head.encode() + body


def test_malformed_requests_get_a_4xx_and_no_traceback(served: tuple[Client, Dataset, LabelServer],
                                                       capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    client, ds, server = served
    port, token = server.port, server.token
    deep = b'{"ids": [0], "label": "circling", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    nested = b'{"ids": [0], "label": "circling", "x": ' + b"[" * 40 + b"]" * 40 + b"}"  # valid JSON, too deep
    cases = {
        "deeply nested body": (_post(port, token, deep), "400"),
        "nested past the cap": (_post(port, token, nested), "400"),
        "Content-Length: abc": (_post(port, token, b"{}", length="abc"), "400"),
        "negative Content-Length": (_post(port, token, b"{}", length="-5"), "400"),
        "garbage request line": (b"GARBAGE\r\n\r\n", "400"),
        "binary request line": (bytes(range(256)) + b"\r\n\r\n", "400"),
        "header without a colon": (f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nnonsense\r\n\r\n".encode(), "400"),
        "huge announced body": (_post(port, token, b"", length=str(10**12)), "413"),
        "huge sent body": (_post(port, token, b'{"x": "' + b"a" * (2 << 20) + b'"}'), "413"),
        "wrong content type": (_post(port, token, b'{"ids": [0], "label": "circling"}', ctype="text/plain"), "415"),
        "not a JSON object": (_post(port, token, b"[1, 2]"), "400"),
        "bad UTF-8": (_post(port, token, b'{"label": "\xff\xfe"}'), "400"),
    }
    for name, (data, status) in cases.items():
        answer = _raw(port, data)
        assert answer.startswith(f"HTTP/1.1 {status}"), (name, answer[:200])
    assert ds.counts().get("circling", 0) == 0  # none of them labelled anything
    # chunked body over the cap, without a Content-Length
    head = (f"POST /api/label HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Token: {token}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    chunk = b"a" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    assert _raw(port, head + chunks).startswith("HTTP/1.1 413")
    # and the server keeps serving
    status, state = client.request("GET", "/api/state")
    assert status == 200 and state["total"] == 4
    assert client.request("POST", "/api/label", {"ids": [0], "label": "circling"})[0] == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err, err


def test_the_label_command_prints_no_traceback_on_malformed_requests(tmp_path: Path) -> None:
    make_render_folder(tmp_path / "renders", ["circle", "line"])
    proc, client = _start_cli(tmp_path / "renders", tmp_path / "ds")
    try:
        deep = b'{"ids": [0], "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        for data, status in ((_post(client.port, client.token, deep), "400"), (b"GARBAGE\r\n\r\n", "400"),
                             (_post(client.port, client.token, b"{}", length="abc"), "400")):  # fmt: skip
            assert _raw(client.port, data).startswith(f"HTTP/1.1 {status}")
        assert client.request("GET", "/api/state")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "RecursionError" not in err, err


def _mutate(rng: Any, data: bytes) -> bytes:
    """One random damage to a request: flipped, inserted, deleted or repeated bytes, or a cut."""
    buf = bytearray(data)
    for _ in range(rng.integers(1, 4)):
        kind, at = rng.integers(0, 5), int(rng.integers(0, max(len(buf), 1)))
        if kind == 0 and buf:
            buf[at] = int(rng.integers(0, 256))
        elif kind == 1:
            buf[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8))
        elif kind == 2:
            del buf[at : at + int(rng.integers(1, 32))]
        elif kind == 3:
            buf[at:at] = buf[at : at + int(rng.integers(1, 64))] * int(rng.integers(2, 50))
        else:
            del buf[at:]
    return bytes(buf)


def _exchange(port: int, data: bytes) -> str:
    """Send *data*, end the request side, and return the answer's status line ('' when none)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while b"\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError:  # reset after the answer or instead of one
            return ""
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def test_fuzzed_requests_never_fail_the_server(served: tuple[Client, Dataset, LabelServer],
                                               caplog: pytest.LogCaptureFixture,
                                               capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    client, _, server = served
    port, token = server.port, server.token
    body = json.dumps({"ids": [0, 1], "label": "circling"}).encode()
    seeds = [
        _post(port, token, body),
        f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Token: {token}\r\nConnection: close\r\n\r\n".encode(),
        f"GET /api/image/1?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode(),
        _post(port, token, json.dumps({"name": "hover"}).encode()).replace(b"/api/label", b"/api/classes"),
    ]
    rng = np.random.default_rng(23)
    statuses: dict[str, int] = {}
    for i in range(300):
        line = _exchange(port, _mutate(rng, seeds[i % len(seeds)]))
        code = line.split(" ")[1] if line.startswith("HTTP/1.1 ") else "none"
        statuses[code] = statuses.get(code, 0) + 1
        assert code == "none" or code[0] in "24", (i, line)  # never a 5xx
    assert len(statuses) > 3, statuses  # the mutations reach past the parser
    assert client.request("GET", "/api/state")[0] == 200  # still serving
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert "Traceback" not in capfd.readouterr().err


def test_a_third_pass_of_hostile_requests_gets_a_4xx_and_changes_nothing(served: tuple[Client, Dataset, LabelServer],
                                                                       capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Wrong-typed and absurd fields in otherwise valid requests (issue #23, third pass)."""
    client, ds, server = served
    cases: list[tuple[str, Any, int]] = [
        ("/api/label", {"ids": [0], "label": ["circling"]}, 400),  # a list for a name
        ("/api/label", {"ids": [0], "label": None}, 400),
        ("/api/label", {"ids": [10**30], "label": "circling"}, 400),  # an id past any index
        ("/api/label", {"ids": [-1], "label": "circling"}, 400),
        ("/api/label", {"ids": [0.0], "label": "circling"}, 400),
        ("/api/label", {"ids": [True], "label": "circling"}, 400),
        ("/api/label", {"ids": "0", "label": "circling"}, 400),
        ("/api/label", {"ids": {"0": 1}, "label": "circling"}, 400),
        ("/api/label", {"ids": [0], "label": "Circling"}, 400),  # differs from a class only in case
        ("/api/skip", {"ids": None}, 400),
        ("/api/unlabel", {}, 400),
        ("/api/classes", {"name": ["hover"]}, 400),
        ("/api/classes", {"name": None}, 400),
        ("/api/classes", {"name": "h" * 10_000}, 400),
        ("/api/classes", {"name": "CON"}, 400),
        ("/api/classes", {"name": "hover\u0000"}, 400),
        ("/api/classes", {"name": "Straight"}, 400),
    ]
    for path, body, want in cases:
        status, answer = client.request("POST", path, body)
        assert status == want, (path, body, status, answer)
        assert isinstance(answer, dict) and answer.get("error"), (path, body, answer)
    assert ds.counts().get("circling", 0) == 0 and list(ds.classes) == ["circling", "straight"]
    status, result = client.request("POST", "/api/label", {"ids": [0, 0, 0], "label": "circling"})  # repeats: one image
    assert status == 200 and result["counts"]["circling"] == 1
    assert "Traceback" not in capfd.readouterr().err
