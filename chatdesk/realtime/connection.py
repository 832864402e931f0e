"""One socket: a bounded send queue drained by one writer task.

Pushes from the hub never wait on a socket. A client that does not read fills its
queue and is closed with 1013, to catch up by seq when it returns; the server's
memory per connection stays bounded.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.websockets import WebSocket, WebSocketDisconnect

from chatdesk.realtime.protocol import Encoding, Outgoing, ServerFrame, encode
from chatdesk.realtime.wsproto import SEND_NOW

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013
SERVICE_RESTART = 1012
UNAUTHORIZED = 4401
CLOSE_WAIT_S = 5.0
Render = Callable[[Any], Awaitable[list[Outgoing]]]
# The same, when it can be done without waiting for anything; None when it cannot.
RenderNow = Callable[[Any], list[Outgoing] | None]


class _Close:
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class _Rendered:
    """Frames rendered by a push whose socket stopped taking writes half way."""

    def __init__(self, frames: list[Outgoing]) -> None:
        self.frames = frames


class Connection:
    """A socket's send queue and its writer task. The task runs only while there is
    something to send: an idle socket holds no task, no coroutine and no queue.

    A push to an idle socket is written at once, from the pusher's own call, when it
    needs no read to render and the socket takes writes now (``wsproto.send_now``);
    only what must wait goes through the queue and the task, and once anything is
    queued everything after it is, so order holds."""

    __slots__ = (
        "_context",
        "_early",
        "_items",
        "_max",
        "_render",
        "_render_now",
        "_send_now",
        "_started",
        "_task",
        "close_code",
        "closed",
        "encoding",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        encoding: Encoding,
        queue_size: int,
        render: Render,
        render_now: RenderNow | None = None,
    ) -> None:
        self.websocket = websocket
        self.encoding = encoding
        self._max = queue_size
        self._items: collections.deque[Any] | None = None  # made on demand, dropped when drained
        self._render = render
        self._render_now = render_now
        # Offered by chatdesk's own uvicorn protocol; absent under another server.
        extensions = websocket.scope.get("extensions") or {}
        self._send_now: Callable[[str | bytes], bool] | None = extensions.get(SEND_NOW)
        self._task: asyncio.Task[None] | None = None
        self._context: contextvars.Context | None = None
        self._started = False
        self.closed = False
        self.close_code: int | None = None
        self._early: list[Any] | None = None

    def start(self) -> None:
        # The writer runs in the socket's own context (its log id), whoever pushes.
        self._context = contextvars.copy_context()
        self._started = True
        self._wake()

    def _wake(self) -> None:
        if self._task is None and self._started and self._items:
            self._task = asyncio.create_task(self._send_loop(), context=self._context)

    @property
    def backlog(self) -> int:
        """Items waiting to be sent (read by the metrics: slow consumers show here)."""
        return len(self._items) if self._items else 0

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
            if len(self._early) >= self._max:
                self.close_soon(TRY_AGAIN_LATER, "too slow: reconnect and sync")
                return
            self._early.append(item)
            return
        if self._items is None:
            if self._task is None and self._started and self._push_now(item):
                return
            self._items = collections.deque()
        elif len(self._items) >= self._max:
            self.close_soon(TRY_AGAIN_LATER, "too slow: reconnect and sync")
            return
        self._items.append(item)
        self._wake()

    def _push_now(self, item: Any) -> bool:
        """Render and write ``item`` at once if that needs no waiting; False if it must
        be queued. Frames the socket stops taking half way are queued, rendered."""
        send_now = self._send_now
        if send_now is None:
            return False
        if isinstance(item, ServerFrame):
            frames: list[Outgoing] | None = [item.wire()]
        elif self._render_now is None:
            return False
        else:
            try:
                frames = self._render_now(item)
            except Exception:
                log.exception("push failed to render; queued instead")
                return False
        if frames is None:
            return False
        for i, frame in enumerate(frames):
            try:
                sent = send_now(encode(frame, self.encoding))
            except Exception:
                # The pusher is the hub, with other sockets to serve: never raise to it.
                log.exception("connection write failed")
                self.closed = True
                return True
            if not sent:
                self._items = collections.deque([_Rendered(frames[i:])])
                self._wake()
                break
        return True

    def send(self, frame: ServerFrame) -> None:
        self.push(frame)

    def close_soon(self, code: int, reason: str = "") -> None:
        """Close after what is queued (or at once when the queue is full)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        if self._items is not None and len(self._items) >= self._max:
            # A slow reader: drop the backlog (it catches up by seq when it reconnects) and
            # stop the writer, which is likely stuck waiting for the socket to drain.
            # Emptied, not only let go: a writer still running holds the same deque.
            self._items.clear()
            self._items = None
            if self._task is not None:
                self._task.cancel()
            self._task = asyncio.create_task(self._close(code, reason), context=self._context)
            return
        if self._items is None:
            self._items = collections.deque()
        self._items.append(_Close(code, reason))
        self._wake()

    async def _close(self, code: int, reason: str) -> None:
        # The close frame queues behind unread data; the transport's own timeouts end a
        # peer that never reads it.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code, reason), CLOSE_WAIT_S)

    async def _send_loop(self) -> None:
        ws = self.websocket
        items = self._items
        try:
            while items:
                item = items.popleft()
                if isinstance(item, _Close):
                    with contextlib.suppress(Exception):
                        await ws.close(item.code, item.reason)
                    return
                if isinstance(item, ServerFrame):
                    frames = [item.wire()]
                elif isinstance(item, _Rendered):
                    frames = item.frames
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
        finally:
            if self._task is asyncio.current_task():
                self._task = None
                if items is self._items and not items:
                    self._items = None

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
