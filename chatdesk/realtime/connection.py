"""One socket: a bounded send queue drained by one writer task.

Pushes from the hub never wait on a socket. A client that does not read fills its
queue and is closed with 1013, to catch up by seq when it returns; the server's
memory per connection stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.websockets import WebSocket, WebSocketDisconnect

from chatdesk.realtime.protocol import Encoding, Outgoing, ServerFrame, encode

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013
SERVICE_RESTART = 1012
UNAUTHORIZED = 4401
CLOSE_WAIT_S = 5.0
Render = Callable[[Any], Awaitable[list[Outgoing]]]


class _Close:
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class Connection:
    def __init__(
        self, websocket: WebSocket, encoding: Encoding, queue_size: int, render: Render
    ) -> None:
        self.websocket = websocket
        self.encoding = encoding
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self._render = render
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.close_code: int | None = None
        self._early: list[Any] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._send_loop())

    @property
    def backlog(self) -> int:
        """Items waiting to be sent (read by the metrics: slow consumers show here)."""
        return self._queue.qsize()

    def pause(self) -> None:
        """Hold pushes until the first frame (welcome) is sent: it must come first."""
        self._early = []

    def send_first(self, frame: ServerFrame) -> None:
        """Queue the welcome, then whatever arrived while it was being prepared."""
        early, self._early = self._early, None
        self.push(frame)
        for item in early or ():
            self.push(item)

    def push(self, item: Any) -> None:
        """Queue a frame or bus message; never blocks. Overflow closes with 1013."""
        if self.closed:
            return
        if self._early is not None:
            if len(self._early) >= self._queue.maxsize:
                self.close_soon(TRY_AGAIN_LATER, "too slow: reconnect and sync")
                return
            self._early.append(item)
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close_soon(TRY_AGAIN_LATER, "too slow: reconnect and sync")

    def send(self, frame: ServerFrame) -> None:
        self.push(frame)

    def close_soon(self, code: int, reason: str = "") -> None:
        """Close after what is queued (or at once when the queue is full)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        if self._queue.full():
            # A slow reader: drop the backlog (it catches up by seq when it reconnects) and
            # stop the writer, which is likely stuck waiting for the socket to drain.
            while not self._queue.empty():
                self._queue.get_nowait()
            if self._task is not None:
                self._task.cancel()
            self._task = asyncio.create_task(self._close(code, reason))
            return
        self._queue.put_nowait(_Close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        # The close frame queues behind unread data; the transport's own timeouts end a
        # peer that never reads it.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code, reason), CLOSE_WAIT_S)

    async def _send_loop(self) -> None:
        ws = self.websocket
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    with contextlib.suppress(Exception):
                        await ws.close(item.code, item.reason)
                    return
                if isinstance(item, ServerFrame):
                    frames = [item.wire()]
                else:
                    try:
                        frames = await self._render(item)
                    except (DBAPIError, OSError, TimeoutError) as exc:
                        # A catch-up read failed (database away): skip it; the next event
                        # finds the gap and fills it, or the client syncs by seq.
                        log.warning("push skipped, store unreachable: %s", type(exc).__name__)
                        frames = []
                for frame in frames:
                    data = encode(frame, self.encoding)
                    if isinstance(data, bytes):
                        await ws.send_bytes(data)
                    else:
                        await ws.send_text(data)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("connection writer failed")
            self.closed = True
            with contextlib.suppress(Exception):
                await ws.close(1011)

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def stop(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
