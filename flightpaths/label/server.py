"""The local web labeler: a small JSON API and a static page, on 127.0.0.1 only (Starlette on
uvicorn, through :mod:`flightpaths.localserver`, which it shares with ``watch``'s live page).

Security, for a page that shows data from strangers' transponders:

* bound to 127.0.0.1, on a random free port by default;
* a per-run secret token (``secrets.token_urlsafe``) is required on **every** request: in the
  URL for the page, its assets and images (``?token=``), and in an ``X-Token`` header for the
  API (which a cross-site form cannot send). The ``Host`` header must name this server, which
  stops DNS-rebinding pages from reaching it;
* the page sets every data field with ``textContent`` and a strict Content-Security-Policy
  forbids inline scripts, so a callsign like ``<img src=x onerror=alert(1)>`` shows as text;
* class names from the page are checked like any other (letters, digits, ``-``, ``_``);
* images are served by their index in the images table, never by a path from the request;
* request bodies are capped in size and nesting, and malformed requests get a 4xx answer
  (never a traceback on the console).

Every decision is written to the dataset's journal before the reply is sent (see
:mod:`flightpaths.label.dataset`), so a killed server loses at most the decision in flight.
"""

from __future__ import annotations

import logging
import math
import secrets
import webbrowser
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import FlightpathsError
from ..localserver import LocalServer, ServerSettings, error_handlers, error_response, read_json
from .dataset import Dataset, Entry, ImageSet

__all__ = ["LabelApp", "LabelServer", "ServerSettings", "label_routes", "order_keys"]

log = logging.getLogger(__name__)

_STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
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
    primary = uncertainty if uncertainty is not None else rule_score
    return sorted(keys, key=lambda k: (_review_part(entries.get(k)), _review_score(primary, k), k))


def _review_part(e: Entry | None) -> int:
    """0 undecided, 1 labelled by a rule or model (to review), 2 skipped, 3 decided by a person."""
    if e is None or (e.label is None and not e.skipped):
        return 0
    if e.label is not None and e.source in ("rule", "model"):
        return 1
    return 2 if e.skipped else 3


def _review_score(primary: pd.Series | None, key: str) -> float:
    """The sort key of *key* within its part: highest score first, no score last."""
    if primary is None or key not in primary.index:
        return math.inf
    v = float(primary[key])
    return math.inf if math.isnan(v) else -v


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
        """What the page shows of each image that labelling does not change (copies: the size of its duplicate group)."""
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
                "rule": self._rule_of(key),
                "model": self._model_of(key),
                "copies": int(sizes.get(groups[i], 1)) if groups is not None else 1,
            }
            out.append(item)
        return out

    def _rule_of(self, key: str) -> dict[str, Any] | None:
        """The rule's label, score and reason for *key*, when rules were applied."""
        if self.rules is None or key not in self.rules.index:
            return None
        r = self.rules.loc[key]
        return {"label": str(r["rule_label"]), "score": _clean(r["rule_score"]), "reason": str(r["rule_reason"])}

    def _model_of(self, key: str) -> dict[str, Any] | None:
        """The model's label, class probabilities and uncertainty for *key*, when predictions were given."""
        if self.predictions is None or key not in self.predictions.index:
            return None
        p = self.predictions.loc[key]
        probs = {c[2:]: _clean(p[c]) for c in self.predictions.columns if str(c).startswith("p_")}
        return {"label": str(p["model_label"]), "p": probs, "uncertainty": _clean(p["uncertainty"])}

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


class _Routes:
    """The labeler's request handlers over one :class:`LabelApp`."""

    def __init__(self, app: LabelApp, token: str, settings: ServerSettings) -> None:
        self.app, self.token, self.settings = app, token, settings

    async def page(self, request: Request) -> Response:
        html = _web_file("index.html").replace(b"{{token}}", self.token.encode())
        return Response(html, media_type="text/html; charset=utf-8")

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return error_response(404, "not found")
        return Response(_web_file(name), headers={"Content-Type": _STATIC[name]})

    async def state(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.app.state))

    async def image(self, request: Request) -> Response:
        tail = request.path_params["tail"]
        if not tail.isdigit() or int(tail) >= len(self.app.keys):
            return error_response(404, "no such image")
        try:
            data = await run_in_threadpool(Path(self.app.images.table["path"].iat[int(tail)]).read_bytes)
        except OSError:
            return error_response(404, "the image file is gone from the images folder")
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    async def action(self, request: Request) -> Response:
        body = await read_json(request, max_bytes=self.settings.max_body_bytes, max_depth=self.settings.max_json_depth)
        try:
            result = await run_in_threadpool(self.app.act, request.path_params["action"], body)
        except _NotFound as exc:
            return error_response(404, str(exc))
        except FlightpathsError as exc:  # bad class names, unknown ids ...
            return error_response(400, str(exc))
        except OSError as exc:  # disk full, folder gone: say so instead of dropping the connection
            log.error("could not save a decision: %s", exc)
            return error_response(500, f"could not save: {exc}")
        return JSONResponse(result)


def label_routes(app: LabelApp, token: str, settings: ServerSettings = ServerSettings()) -> Starlette:
    """The labeler's Starlette app: the page, its assets, images and the JSON API.

    Token and Host are checked in front of it by :class:`~flightpaths.localserver.Guard`.
    """
    r = _Routes(app, token, settings)
    routes = [
        Route("/", r.page, methods=["GET"]),
        Route("/index.html", r.page, methods=["GET"]),
        Route("/static/{name}", r.static, methods=["GET"]),
        Route("/api/state", r.state, methods=["GET"]),
        Route("/api/image/{tail}", r.image, methods=["GET"]),
        Route("/api/{action}", r.action, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers=error_handlers())


class LabelServer:
    """Serve a :class:`LabelApp` on 127.0.0.1 with a fresh secret token (Starlette on uvicorn).

    Typical use: ``server = LabelServer(app); print(server.url); server.serve_forever()``;
    or ``server.start()`` to serve from a background thread and ``server.shutdown()`` after.
    """

    def __init__(self, app: LabelApp, settings: ServerSettings = ServerSettings(), *, token: str | None = None) -> None:
        self.app = app
        self.token = token or secrets.token_urlsafe(24)
        self._server = LocalServer(label_routes(app, self.token, settings), settings, token=self.token, name="flightpaths-label")

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        return self._server.port

    @property
    def url(self) -> str:
        """The page's address, token included."""
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def open_browser(self) -> bool:
        """Open the page in the user's browser; False when no browser could be started."""
        return webbrowser.open(self.url)

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or Ctrl+C in the calling thread)."""
        self._server.serve_forever()

    def start(self) -> LabelServer:
        """Serve from a background thread (for tests and notebooks)."""
        self._server.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
