"""Request bounds: how much a client may send, refused before anything is parsed or buffered.

Every bound of the API process, in one place:

| what                   | default | setting                            | refused by                   | answer       |
|------------------------|---------|------------------------------------|------------------------------|--------------|
| request body           | 1 MiB   | ``WALLBOARD_MAX_BODY_BYTES``       | ``RequestLimits``            | 413          |
| schedule import body   | 5 MiB   | ``schedule.MAX_BYTES``             | ``RequestLimits``, the route | 413          |
| query string (raw)     | 8 KiB   | ``WALLBOARD_MAX_QUERY_BYTES``      | ``RequestLimits``            | 414, ws 1008 |
| request line + headers | 16 KiB  | ``WALLBOARD_MAX_HEADER_BYTES``     | uvicorn's h11 parser         | 400, closed  |
| websocket message      | 4 KiB   | ``WALLBOARD_WS_MAX_MESSAGE_BYTES`` | uvicorn, ``ws.serve_client`` | close 1009   |
| rest of a refused body | 10 s    | ``DRAIN_S``                        | ``RequestLimits``            | discarded    |

The schedule import's route also checks ``MAX_BYTES`` itself, so that a body sent without
``Content-Length`` is counted as a rejected import; one announced larger is refused here, before any
authentication. The headers bound is uvicorn's ``h11_max_incomplete_event_size``, the websocket one
its ``ws_max_size`` (a larger frame closes the connection before the hub's own check on a whole
message).

Theory of operation
-------------------
``RequestLimits`` is a pure ASGI middleware around the whole app (every route, the mounted pages
too). A query string longer than its bound is a 414 before the app runs. A request whose
``Content-Length`` exceeds its route's bound is a 413 before the app runs; a body without one
(chunked) is counted as the app reads it, and the chunk that passes the bound stops the app: its
``receive`` raises, whatever the app sends afterwards is dropped, and the middleware answers 413. So
at most the bound (plus the server's read buffer, 64 KiB) of any body is ever held in memory.

A client that writes its whole body before reading (most do) must still read the 413. Closing a
socket with unread data in it makes the kernel send a reset, which can destroy the answer on its
way, so the refusal is sent with ``more_body`` (the client can read it at once), the rest of the
body is then read and thrown away for at most ``DRAIN_S``, and only then does the response end
(with ``Connection: close``). A client that asked ``Expect: 100-continue`` has sent nothing yet and
is not waited for.

``server_options`` gives the uvicorn options of the other bounds: the h11 parser (httptools has no
bound on headers), its incomplete-event size, and ``ws_max_size``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wallboard.config import Settings
from wallboard.core.adherence.schedule import MAX_BYTES as SCHEDULE_MAX_BYTES

log = logging.getLogger(__name__)

DRAIN_S = 10.0  # how long the rest of a refused body is read (and discarded) before the connection is closed
LARGER_BODIES: Mapping[tuple[str, str], int] = {  # (method, path) -> its own body bound, instead of the default
    ("PUT", "/api/v1/schedules"): SCHEDULE_MAX_BYTES,
    ("POST", "/api/v1/schedules"): SCHEDULE_MAX_BYTES,
}


class BodyTooLarge(Exception):
    """Raised to the app by ``receive`` when the body passes its bound (the middleware answers 413)."""


def refused_counter(registry: CollectorRegistry) -> Counter:
    """``wallboard_http_requests_refused_total{reason}``: requests refused by ``RequestLimits``."""
    return Counter(
        "wallboard_http_requests_refused_total",
        "HTTP requests refused for their size before being read (reason: body_too_large, query_too_long).",
        ["reason"],
        registry=registry,
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn options that bound what the server parses: request heads and websocket messages."""
    return {
        "http": "h11",
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "ws_max_size": settings.ws_max_message_bytes,
    }


class RequestLimits:
    """ASGI middleware: 414 for a long query string, 413 for a body past its route's bound (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        body_bytes: int,
        query_bytes: int,
        larger: Mapping[tuple[str, str], int] = LARGER_BODIES,
        refused: Counter | None = None,
        drain_s: float = DRAIN_S,
    ) -> None:
        self.app = app
        self.body_bytes = body_bytes
        self.query_bytes = query_bytes
        self.larger = dict(larger)
        self.refused = refused
        self.drain_s = drain_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        query = len(scope.get("query_string", b""))
        if query > self.query_bytes:
            detail = f"read a query string of {query} bytes, expected at most {self.query_bytes}"
            self._count(scope, "query_too_long", detail)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "query string too long"})
            else:
                await self._refuse(receive, send, 414, detail, drain=not _expects_continue(scope))
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope["method"], scope["path"]), self.body_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            detail = f"read Content-Length {declared}, expected at most {limit} bytes"
            self._count(scope, "body_too_large", detail)
            await self._refuse(receive, send, 413, detail, drain=not _expects_continue(scope))
            return
        await self._bounded(scope, receive, send, limit)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a ``receive`` that stops it past ``limit`` bytes; then answer 413 in its place."""
        guard = _Guard(receive, send, limit)
        try:
            await self.app(scope, guard.receive, guard.send)
        except BodyTooLarge:
            pass
        except Exception:
            if not guard.exceeded:
                raise
        if not guard.exceeded:
            return
        detail = f"read more than {limit} bytes of body, expected at most {limit}"
        self._count(scope, "body_too_large", detail)
        if guard.started:  # the app answered before reading its whole body: its response cannot be taken back
            return
        await self._refuse(receive, send, 413, detail, drain=True)

    async def _refuse(self, receive: Receive, send: Send, status: int, detail: str, *, drain: bool) -> None:
        body = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        if drain:
            await self._drain(receive)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _drain(self, receive: Receive) -> None:
        """Read and discard the rest of the body, for at most ``drain_s`` (see the module docstring)."""
        try:
            async with asyncio.timeout(self.drain_s):
                while True:
                    message = await receive()
                    if message["type"] != "http.request" or not message.get("more_body", False):
                        return
        except TimeoutError:
            log.info("stopped reading a refused body after %.1f s: closing the connection", self.drain_s)

    def _count(self, scope: Scope, reason: str, detail: str) -> None:
        client = scope.get("client")
        log.warning(
            "refused %s %s from %s: %s", scope.get("method", "GET"), scope["path"], client[0] if client else "?", detail
        )
        if self.refused is not None:
            self.refused.labels(reason).inc()


class _Guard:
    """The ``receive`` and ``send`` one request's app sees: body bytes counted, sends dropped once past the bound."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self._limit = limit
        self._seen = 0
        self.exceeded = False
        self.started = False

    async def receive(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge(f"more than {self._limit} bytes of body")
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen += len(message.get("body", b""))
            if self._seen > self._limit:
                self.exceeded = True
                raise BodyTooLarge(f"more than {self._limit} bytes of body")
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded:
            return  # the app's answer to the exception it was given: the 413 replaces it
        self.started = True
        await self._send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _expects_continue(scope: Scope) -> bool:
    return any(
        name == b"expect" and value.strip().lower() == b"100-continue" for name, value in scope.get("headers", ())
    )
