"""The local web labeler: a small JSON API and a static page, on 127.0.0.1 only.

Security, for a page that shows data from strangers' transponders:

* bound to 127.0.0.1, on a random free port by default;
* a per-run secret token (``secrets.token_urlsafe``) is required on **every** request: in the
  URL for the page, its assets and images (``?token=``), and in an ``X-Token`` header for the
  API (which a cross-site form cannot send). The ``Host`` header must name this server, which
  stops DNS-rebinding pages from reaching it;
* the page sets every data field with ``textContent`` and a strict Content-Security-Policy
  forbids inline scripts, so a callsign like ``<img src=x onerror=alert(1)>`` shows as text;
* class names from the page are checked like any other (letters, digits, ``-``, ``_``);
* images are served by their index in the images table, never by a path from the request.

Every decision is written to the dataset's journal before the reply is sent (see
:mod:`flightpaths.label.dataset`), so a killed server loses at most the decision in flight.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import secrets
import threading
import webbrowser
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from ..errors import FlightpathsError
from .dataset import Dataset, Entry, ImageSet

__all__ = ["LabelApp", "LabelServer", "ServerSettings", "order_keys"]

log = logging.getLogger(__name__)

_MAX_BODY = 1 << 20
_STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Figures shown beside the image: (column, label, format).
_FIGURES = (
    ("n_points", "points", "{:.0f}"),
    ("duration_s", "duration", "{:.0f} s"),
    ("net_turn_rev", "net turn", "{:+.2f} rev"),
    ("total_turn_deg", "total turn", "{:.0f} deg"),
    ("straightness", "straightness", "{:.2f}"),
    ("extent_m", "extent", "{:,.0f} {u}"),
    ("radius_m", "fitted radius", "{:,.0f} {u}"),
    ("path_length_m", "path length", "{:,.0f} {u}"),
    ("median_speed_kt", "median speed", "{:.0f} kt"),
    ("median_altitude_ft", "median altitude", "{:,.0f} ft"),
    ("sample_interval_s", "sample interval", "{:.0f} s"),
)


@dataclass(frozen=True)
class ServerSettings:
    """Where the labeler listens. ``port=0`` picks a free port."""

    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the labeler only listens on this computer (127.0.0.1), not {self.host!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {self.port}")


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN/None -> None, numpy -> Python."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return str(value) if not isinstance(value, (int, str, bool)) else value


def order_keys(
    keys: Sequence[str],
    entries: dict[str, Entry],
    *,
    rule_score: pd.Series | None = None,
    uncertainty: pd.Series | None = None,
) -> list[str]:
    """The review order: undecided first, then rule/model labels to review, skipped, done.

    Within each part: most uncertain first when model predictions are given, else highest
    rule score first, then by key. Images without a score come last in their part.

    >>> order_keys(["a", "b", "c"], {}, rule_score=pd.Series({"a": 0.1, "b": 2.0, "c": float("nan")}))
    ['b', 'a', 'c']
    """

    def part(key: str) -> int:
        e = entries.get(key)
        if e is None or (e.label is None and not e.skipped):
            return 0
        if e.label is not None and e.source in ("rule", "model"):
            return 1
        return 2 if e.skipped else 3

    primary = uncertainty if uncertainty is not None else rule_score

    def score(key: str) -> float:
        if primary is None or key not in primary.index:
            return math.inf
        v = float(primary[key])
        return math.inf if math.isnan(v) else -v

    return sorted(keys, key=lambda k: (part(k), score(k), k))


class LabelApp:
    """The labeler's state and actions behind the HTTP layer (usable without a server)."""

    def __init__(
        self,
        dataset: Dataset,
        images: ImageSet,
        *,
        rules: pd.DataFrame | None = None,
        predictions: pd.DataFrame | None = None,
        duplicate_groups: Sequence[int] | None = None,
    ) -> None:
        self.dataset = dataset
        self.images = images
        self.rules = rules
        self.predictions = predictions
        self.keys = images.keys
        self.index = {k: i for i, k in enumerate(self.keys)}
        self._static = self._item_statics(duplicate_groups)

    def _item_statics(self, groups: Sequence[int] | None) -> list[dict[str, Any]]:
        sizes = pd.Series(list(groups)).value_counts().to_dict() if groups is not None else {}
        out = []
        for i, row in enumerate(self.images.table.to_dict("records")):
            key = row["key"]
            item: dict[str, Any] = {
                "id": i,
                "key": key,
                "name": row["name"],
                "window_id": _clean(row.get("window_id")) or "",
                "object_id": _clean(row.get("object_id")) or "",
                "callsign": _clean(row.get("callsign")) or "",
                "fields": self._fields(row),
                "rule": None,
                "model": None,
                "copies": int(sizes.get(groups[i], 1)) if groups is not None else 1,
            }
            if self.rules is not None and key in self.rules.index:
                r = self.rules.loc[key]
                item["rule"] = {"label": str(r["rule_label"]), "score": _clean(r["rule_score"]), "reason": str(r["rule_reason"])}
            if self.predictions is not None and key in self.predictions.index:
                p = self.predictions.loc[key]
                probs = {c[2:]: _clean(p[c]) for c in self.predictions.columns if str(c).startswith("p_")}
                item["model"] = {"label": str(p["model_label"]), "p": probs, "uncertainty": _clean(p["uncertainty"])}
            out.append(item)
        return out

    @staticmethod
    def _fields(row: dict[str, Any]) -> list[list[str]]:
        fields: list[list[str]] = []
        for col, label in (("object_id", "object"), ("callsign", "callsign"), ("start", "start"), ("end", "end")):
            value = _clean(row.get(col))
            if value not in (None, ""):
                fields.append([label, str(value)])
        src = _clean(row.get("source_file"))
        if src:
            first, last = _clean(row.get("line_first")), _clean(row.get("line_last"))
            lines = f", lines {first:.0f}-{last:.0f}" if isinstance(first, float) and isinstance(last, float) else ""
            fields.append(["source", f"{src}{lines}"])
        unit = "px" if str(row.get("units", "m")) == "px" else "m"
        for col, label, fmt in _FIGURES:
            value = _clean(row.get(col))
            if isinstance(value, (int, float)):
                fields.append([label, fmt.format(value, u=unit)])
        return fields

    def item(self, i: int) -> dict[str, Any]:
        """One image as the page sees it (static details plus its current label)."""
        item = dict(self._static[i])
        entry = self.dataset.entry(self.keys[i])
        item["label"] = entry.label if entry else None
        item["source"] = entry.source if entry else None
        item["time"] = entry.time if entry else None
        item["skipped"] = bool(entry and entry.skipped)
        return item

    def summary(self) -> dict[str, Any]:
        """Classes, counts and whether undo is possible (sent after every action)."""
        return {
            "classes": list(self.dataset.classes),
            "counts": self.dataset.counts(),
            "total": len(self.keys),
            "can_undo": self.dataset.can_undo(),
        }

    def state(self) -> dict[str, Any]:
        """Everything the page needs at load: items in review order plus the summary."""
        entries = self.dataset.entries()
        rule_score = self.rules["rule_score"] if self.rules is not None else None
        unc = self.predictions["uncertainty"] if self.predictions is not None else None
        order = order_keys(self.keys, entries, rule_score=rule_score, uncertainty=unc)
        return {
            **self.summary(),
            "order_by": "model uncertainty" if unc is not None else ("rule score" if rule_score is not None else "name"),
            "items": [self.item(self.index[k]) for k in order],
        }

    def _keys(self, ids: Any) -> list[str]:
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise _BadRequest("'ids' must be a non-empty list of image ids")
        if any(not 0 <= i < len(self.keys) for i in ids):
            raise _BadRequest("unknown image id")
        return [self.keys[i] for i in ids]

    def act(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run one page action (label, skip, unlabel, undo, classes) and return the changes."""
        ds = self.dataset
        if action == "label":
            label = body.get("label")
            if not isinstance(label, str):
                raise _BadRequest("'label' must be a class name")
            if label not in ds.classes:
                raise _BadRequest(f"unknown class {label!r}; add it first")
            decision = ds.label(self._keys(body.get("ids")), label)
        elif action == "skip":
            decision = ds.skip(self._keys(body.get("ids")))
        elif action == "unlabel":
            decision = ds.unlabel(self._keys(body.get("ids")))
        elif action == "undo":
            decision = ds.undo()
        elif action == "classes":
            ds.add_classes([body.get("name")])
            decision = None
        else:
            raise _NotFound(f"no action {action!r}")
        changed = [self.index[k] for k in (decision.images if decision else ()) if k in self.index]
        return {**self.summary(), "changed": [self.item(i) for i in changed], "undone": action == "undo" and bool(decision)}


class _BadRequest(FlightpathsError):
    pass


class _NotFound(FlightpathsError):
    pass


def _web_file(name: str) -> bytes:
    return resources.files("flightpaths.label").joinpath("web", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "flightpaths-label"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)

    # -- checks -----------------------------------------------------------------------------

    def _allowed_host(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        port = self.server.server_address[1]
        return host in {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}

    def _token_ok(self, query: dict[str, list[str]], *, header_only: bool) -> bool:
        given = self.headers.get("X-Token") or ("" if header_only else (query.get("token") or [""])[0])
        return hmac.compare_digest(given.encode(), self.server.token.encode())

    def _send(self, status: int, body: bytes, ctype: str, *, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", _CSP)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, ensure_ascii=True).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # -- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if not self._allowed_host():
            return self._error(HTTPStatus.FORBIDDEN, "wrong Host header")
        if not self._token_ok(query, header_only=False):
            return self._error(HTTPStatus.FORBIDDEN, "missing or wrong token: open the URL the labeler printed")
        app = self.server.app
        path = url.path
        if path in ("/", "/index.html"):
            html = _web_file("index.html").replace(b"{{token}}", self.server.token.encode())
            return self._send(HTTPStatus.OK, html, "text/html; charset=utf-8")
        if path.startswith("/static/") and path[len("/static/") :] in _STATIC:
            name = path[len("/static/") :]
            return self._send(HTTPStatus.OK, _web_file(name), _STATIC[name])
        if path == "/api/state":
            return self._json(HTTPStatus.OK, app.state())
        if path.startswith("/api/image/"):
            tail = path[len("/api/image/") :]
            if not tail.isdigit() or int(tail) >= len(app.keys):
                return self._error(HTTPStatus.NOT_FOUND, "no such image")
            try:
                data = Path(app.images.table["path"].iat[int(tail)]).read_bytes()
            except OSError:
                return self._error(HTTPStatus.NOT_FOUND, "the image file is gone from the images folder")
            return self._send(HTTPStatus.OK, data, "image/png", cache="private, max-age=3600")
        return self._error(HTTPStatus.NOT_FOUND, "not found")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if not self._allowed_host():
            return self._error(HTTPStatus.FORBIDDEN, "wrong Host header")
        if not self._token_ok({}, header_only=True):
            return self._error(HTTPStatus.FORBIDDEN, "missing or wrong X-Token header")
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON (Content-Type: application/json)")
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            return self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
        except ValueError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, f"bad JSON: {exc}")
        if not url.path.startswith("/api/"):
            return self._error(HTTPStatus.NOT_FOUND, "not found")
        try:
            result = self.server.app.act(url.path[len("/api/") :], body)
        except _NotFound as exc:
            return self._error(HTTPStatus.NOT_FOUND, str(exc))
        except FlightpathsError as exc:  # bad class names, unknown ids ...
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except OSError as exc:  # disk full, folder gone: say so instead of dropping the connection
            log.error("could not save a decision: %s", exc)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"could not save: {exc}")
        self._json(HTTPStatus.OK, result)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: LabelApp, token: str) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.token = token


class LabelServer:
    """Serve a :class:`LabelApp` on 127.0.0.1 with a fresh secret token.

    Typical use: ``server = LabelServer(app); print(server.url); server.serve_forever()``;
    or ``server.start()`` to serve from a background thread and ``server.shutdown()`` after.
    """

    def __init__(self, app: LabelApp, settings: ServerSettings = ServerSettings(), *, token: str | None = None) -> None:
        self.app = app
        self.token = token or secrets.token_urlsafe(24)
        self._httpd = _Server((settings.host, settings.port), app, self.token)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The page's address, token included."""
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def open_browser(self) -> bool:
        """Open the page in the user's browser; False when no browser could be started."""
        return webbrowser.open(self.url)

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or Ctrl+C in the calling thread)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> LabelServer:
        """Serve from a background thread (for tests and notebooks)."""
        self._thread = threading.Thread(target=self.serve_forever, name="flightpaths-label", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
