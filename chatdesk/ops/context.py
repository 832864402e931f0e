"""An id for every request and connection, on its log lines and its response.

The id is set in a context variable for the whole ASGI call, so the tasks a
WebSocket handler starts inherit it. A sane ``X-Request-ID`` from a proxy is
kept, so one id follows a request through every hop; the answer carries it.
HTTP requests are also counted and timed here for the metrics.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatdesk.ops.logging import current_id

_GIVEN = re.compile(r"[A-Za-z0-9._-]{8,64}")
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def given_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _GIVEN.fullmatch(text) else None
    return None


def _metrics(scope: Scope) -> Any:
    app = scope.get("app")
    desk = getattr(getattr(app, "state", None), "desk", None)
    ops = desk.ext.get("ops") if desk is not None else None
    return getattr(ops, "metrics", None)


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ident = given_id(scope) or secrets.token_hex(6)
        token = current_id.set(("req-" if kind == "http" else "ws-") + ident)
        try:
            if kind == "websocket":
                await self.app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((b"x-request-id", ident.encode()))
                    message["headers"] = headers
                await send(message)

            try:
                await self.app(scope, receive, send_with_id)
            finally:
                metrics = _metrics(scope)
                if metrics is not None:
                    method = scope.get("method", "GET")
                    method = method if method in _METHODS else "other"  # bounded labels
                    metrics.http.labels(method, str(status)).inc()
                    metrics.http_time.labels(method).observe(time.perf_counter() - started)
        finally:
            current_id.reset(token)
