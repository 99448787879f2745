"""What the local web pages share (the labeler and ``watch``'s live page): Starlette on uvicorn,
bound to 127.0.0.1 only, with a per-run secret token, a Host check against DNS rebinding,
security headers on every answer, a JSON body reader with size and nesting caps, and no
traceback on the console for anything a client sends.

Token rule: ``GET``/``HEAD`` take the token from ``?token=`` or an ``X-Token`` header (the page,
its assets and images are plain links); every other method takes it from the header only,
which a cross-site form cannot send.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import FlightpathsError

__all__ = [
    "LOOPBACK_HOSTS",
    "STRICT_CSP",
    "Guard",
    "LocalServer",
    "RequestError",
    "ServerSettings",
    "allowed_hosts",
    "error_handlers",
    "error_response",
    "json_depth",
    "read_json",
    "token_matches",
]

log = logging.getLogger(__name__)

#: Names a local page may listen on.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: No inline script or style, nothing from elsewhere: data can never run as code.
STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_TOKEN_IN_QUERY = frozenset({"GET", "HEAD"})
_FAILED = "the server failed on this request; see its console"


@dataclass(frozen=True)
class ServerSettings:
    """Where a local page listens and what it accepts. ``port=0`` picks a free port."""

    host: str = "127.0.0.1"
    port: int = 0
    max_body_bytes: int = 1 << 20
    max_json_depth: int = 32

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK_HOSTS:
            raise ValueError(f"the page only listens on this computer (127.0.0.1), not {self.host!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {self.port}")
        if self.max_body_bytes < 1 or self.max_json_depth < 1:
            raise ValueError("max_body_bytes and max_json_depth must be at least 1")


class RequestError(FlightpathsError):
    """A request the page refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def allowed_hosts(port: int) -> frozenset[str]:
    """The ``Host`` header values that name this server (anything else may be DNS rebinding)."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"})


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison of a client's token with the run's."""
    return hmac.compare_digest((given or "").encode(), token.encode())


def error_response(status: int, message: str) -> Response:
    """The JSON error every page's script understands: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


async def _answer_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RequestError):
        return error_response(exc.status, str(exc))
    if not isinstance(exc, HTTPException):  # a bug: the Guard logs it once the app re-raises
        return error_response(500, _FAILED)
    status = exc.status_code
    return error_response(status, "not found" if status == 404 else str(getattr(exc, "detail", "error")))


def error_handlers() -> dict[Any, Any]:
    """Starlette ``exception_handlers`` answering :class:`RequestError`, HTTP errors (404, 405) and
    bugs (500) with :func:`error_response`; pass them to each page's ``Starlette(...)``."""
    return {RequestError: _answer_error, HTTPException: _answer_error, Exception: _answer_error}


def json_depth(value: Any, limit: int = 1 << 30) -> int:
    """How deeply lists and objects nest in *value* (a scalar is 0); stops counting past *limit*."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


async def read_json(request: Request, *, max_bytes: int = 1 << 20, max_depth: int = 32) -> dict[str, Any]:
    """A request's JSON object body, or :class:`RequestError` (415, 400, 413) saying what is wrong."""
    _check_json_headers(request, max_bytes)
    return _json_object(await _read_body(request, max_bytes), max_depth)


def _check_json_headers(request: Request, max_bytes: int) -> None:
    """Refuse a body that is not JSON, or whose declared length is bad or over *max_bytes*."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise RequestError(415, "send JSON (Content-Type: application/json)")
    length = request.headers.get("content-length")
    if length is not None and not length.strip().isdigit():
        raise RequestError(400, "bad Content-Length header")
    if length is not None and int(length) > max_bytes:
        raise RequestError(413, f"request too large (at most {max_bytes} bytes)")


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The request's body, read no further than *max_bytes* (whatever its headers said)."""
    data = bytearray()
    try:
        async for chunk in request.stream():
            data += chunk
            if len(data) > max_bytes:
                raise RequestError(413, f"request too large (at most {max_bytes} bytes)")
    except ClientDisconnect:  # the client hung up before its body ended
        raise RequestError(400, "the request ended before its body did") from None
    return bytes(data)


def _json_object(data: bytes, max_depth: int) -> dict[str, Any]:
    """*data* parsed as a JSON object nested at most *max_depth* deep (an empty body is ``{}``)."""
    try:
        body = json.loads(data or b"{}")
    except RecursionError:
        raise RequestError(400, f"bad JSON: nested more than {max_depth} levels") from None
    except ValueError as exc:  # includes bad UTF-8
        raise RequestError(400, f"bad JSON: {exc}") from None
    if json_depth(body, max_depth) > max_depth:
        raise RequestError(400, f"bad JSON: nested more than {max_depth} levels")
    if not isinstance(body, dict):
        raise RequestError(400, "bad JSON: expected a JSON object")
    return body


class _SecuredSend:
    """An ASGI ``send`` that adds the security headers to the start of a response and notes that one started."""

    def __init__(self, send: Send, security: list[tuple[str, str]]) -> None:
        self.send = send
        self.security = security
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            headers = MutableHeaders(scope=message)
            for name, value in self.security:
                headers.setdefault(name, value)
        await self.send(message)


class Guard:
    """ASGI middleware in front of a page: Host and token checks, security headers on every
    answer, and any error inside the app answered with a 500 and one log line (no traceback)."""

    def __init__(self, app: ASGIApp, *, token: str, hosts: Iterable[str], csp: str = STRICT_CSP) -> None:
        self.app = app
        self.token = token
        self.hosts = frozenset(hosts)
        self.security = [
            ("Content-Security-Policy", csp),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Cache-Control", "no-store"),
        ]

    def refusal(self, scope: Scope) -> Response | None:
        """A 403 for a request with a foreign Host header or without the token, else None."""
        headers = Headers(scope=scope)
        if headers.get("host", "").strip().lower() not in self.hosts:
            return error_response(403, "wrong Host header")
        given = headers.get("x-token")
        in_query = scope.get("method") in _TOKEN_IN_QUERY
        if given is None and in_query:
            given = Request(scope).query_params.get("token")
        if not token_matches(given, self.token):
            why = "missing or wrong token: open the address the command printed" if in_query else "missing or wrong X-Token header"
            return error_response(403, why)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets; lifespan is off
            return
        send_secured = _SecuredSend(send, self.security)
        refused = self.refusal(scope)
        if refused is not None:
            await refused(scope, receive, send_secured)
            return
        try:
            await self.app(scope, receive, send_secured)
        except ClientDisconnect:  # nobody left to answer
            log.debug("client left during %s %s", scope.get("method"), scope.get("path"))
        except Exception as exc:  # a bug in a page must not print a traceback at the user
            log.error("the local page failed on %s %s: %s: %s", scope.get("method"), scope.get("path"), type(exc).__name__, exc)
            log.debug("details", exc_info=True)
            if not send_secured.started:
                await error_response(500, _FAILED)(scope, receive, send_secured)


class LocalServer:
    """An ASGI app served by uvicorn on 127.0.0.1 from a background thread, behind a :class:`Guard`.

    The socket is bound at construction (``OSError`` when the port is taken), so :attr:`port`
    and :attr:`url` are known before :meth:`start`. :attr:`stopping` is set by :meth:`shutdown`
    (long-lived answers such as server-sent events end on it).
    """

    def __init__(self, app: ASGIApp, settings: ServerSettings = ServerSettings(), *, token: str | None = None,
                 csp: str = STRICT_CSP, name: str = "flightpaths-web", stopping: threading.Event | None = None) -> None:  # fmt: skip
        import uvicorn

        self.token = token or secrets.token_urlsafe(24)
        self.name = name
        self.stopping = stopping or threading.Event()
        family = socket.AF_INET6 if settings.host == "::1" else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((settings.host, settings.port))
            self._sock.listen(128)
        except OSError:
            self._sock.close()
            raise
        self.port: int = int(self._sock.getsockname()[1])
        guarded = Guard(app, token=self.token, hosts=allowed_hosts(self.port), csp=csp)
        config = uvicorn.Config(
            guarded, log_config=None, log_level="warning", access_log=False, http="h11", ws="none", loop="asyncio",
            lifespan="off", server_header=False, timeout_graceful_shutdown=2, timeout_keep_alive=5,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float = 10.0) -> LocalServer:
        """Serve from a background thread; returns once the server accepts requests."""
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            self.shutdown()
            raise OSError(f"the local server on 127.0.0.1:{self.port} did not start")
        return self

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` from another thread, or Ctrl+C (KeyboardInterrupt) here."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.2)

    def shutdown(self) -> None:
        """Stop serving (open event streams end) and free the port."""
        self.stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._sock.close()
