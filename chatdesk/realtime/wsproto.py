"""uvicorn's sans-I/O WebSocket protocol, made lighter for the idle socket.

``chatdesk serve`` runs uvicorn with ``ws=`` this class. Behaviour is uvicorn's; what
changes is what an open socket keeps (and the two differences the classes below
note): its attributes in slots instead of a dict of its
own, a receive queue and a "writable" flag without asyncio's three deques and an Event
(about 800 bytes each), and no handshake request or response once they are used.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

# The scope extension under which a socket offers ``send_now`` to its application.
SEND_NOW = "chatdesk.send_now"


class Inbox:
    """The ASGI receive queue: one reader (``receive``), any number of puts."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[Any] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    async def get(self) -> Any:
        """The next item, for the one reader. An item stays queued until the reader runs,
        so a reader cancelled just after a put (a hello timing out) loses nothing, as
        with asyncio.Queue."""
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class Flag:
    """asyncio.Event's set/clear/is_set/wait, with waiters only while there are some.

    One difference: a waiter woken by set() waits again if the flag was cleared before
    it ran (the transport paused again), where asyncio.Event would let it through.
    connection_lost always sets the flag, so no waiter is left hanging."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if not self._set:
            self._set = True
            waiters, self._waiters = self._waiters, None
            for waiter in waiters or ():
                if not waiter.done():
                    waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    # Every attribute uvicorn sets (0.54): in slots, the instance needs no dict, which
    # at 37 keys is past CPython's key sharing and costs 1.6 KB a socket.
    __slots__ = (
        "app",
        "app_state",
        "asgi_version",
        "client",
        "close_sent",
        "close_timeout",
        "close_timer",
        "config",
        "conn",
        "connections",
        "curr_msg_data_type",
        "default_headers",
        "disconnected",
        "frames",
        "handshake_complete",
        "handshake_initiated",
        "initial_response",
        "last_ping_rtt",
        "logger",
        "loop",
        "pending_ping_payload",
        "ping_interval",
        "ping_sent_at",
        "ping_timeout",
        "ping_timer",
        "pong_timer",
        "queue",
        "read_paused",
        "request",
        "response",
        "root_path",
        "scheme",
        "scope",
        "server",
        "tasks",
        "transport",
        "writable",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        # The headers are in the scope now. The parser generator's frame keeps the
        # Request for the socket's lifetime: empty it rather than drop it.
        event.headers.clear()
        self.request = None
        scope = getattr(self, "scope", None)  # none when the handshake was refused
        if scope is not None:
            scope["extensions"][SEND_NOW] = self.send_now

    def send_now(self, data: str | bytes) -> bool:
        """Send one message at once, as send() does for 'websocket.send', when the socket
        takes it now; False, with nothing sent, when the caller must await the ASGI
        send instead (before the handshake, closing or closed, or paused by a slow
        reader). An event pushed to a hundred watchers is then a hundred writes from
        one loop, with no task, Starlette or ASGI layer per socket."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
        ):
            return False
        try:
            if isinstance(data, str):
                self.conn.send_text(data.encode())
            else:
                self.conn.send_binary(data)
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def start_keepalive(self) -> None:
        # Called once, when the 101 has been written: nothing reads the response again.
        # (Overriding send instead would add a coroutine to every frame sent.)
        self.response = None
        super().start_keepalive()
