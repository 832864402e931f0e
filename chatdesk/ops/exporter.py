"""A second listener that serves only GET /metrics, without a token (CHATDESK_METRICS_PORT).

Meant for a port only Prometheus can reach; the main port keeps /metrics behind
CHATDESK_METRICS_TOKEN. A tiny HTTP/1.0 responder: one request per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0
MAX_HEAD = 8192
Render = Callable[[], Awaitable[bytes]]


def _answer(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def serve(host: str, port: int, render: Render) -> asyncio.Server | None:
    """Start the listener; None (with a warning) when the port is taken, e.g. by a sibling
    worker process of the same desk."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            request = head[:MAX_HEAD].split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(request) >= 2 and request[0] in ("GET", "HEAD"):
                path = request[1].split("?", 1)[0]
                if path == "/metrics":
                    body = await render()
                    answer = _answer("200 OK", body, CONTENT_TYPE_LATEST)
                    if request[0] == "HEAD":
                        answer = answer[: answer.index(b"\r\n\r\n") + 4]
                else:
                    answer = _answer("404 Not Found", b"only /metrics is served here\n")
            else:
                answer = _answer("405 Method Not Allowed", b"GET /metrics\n")
            writer.write(answer)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        except Exception:
            log.exception("metrics request failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    try:
        return await asyncio.start_server(handle, host, port, limit=MAX_HEAD)
    except OSError as exc:
        log.warning("metrics port %d not served by this process: %s", port, exc.strerror)
        return None
