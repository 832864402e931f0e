"""What the visitor and agent channels share: handshake, read loop, errors, cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from chatdesk.desk import Desk
from chatdesk.errors import (
    BadRequest,
    ChatdeskError,
    Forbidden,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from chatdesk.ratelimit import Rule
from chatdesk.realtime import bus
from chatdesk.realtime.connection import TRY_AGAIN_LATER, UNAUTHORIZED, Connection
from chatdesk.realtime.cursors import Cursors
from chatdesk.realtime.protocol import (
    MSGPACK_PROTOCOL,
    SUBPROTOCOLS,
    ClientFrame,
    Encoding,
    Error,
    Outgoing,
    decode,
    encode,
    parse,
)
from chatdesk.realtime.protocol import Ok as OkFrame

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 32
POLICY_VIOLATION = 1008
ABUSE_REFUSALS = 50  # rate-limited frames before the socket is closed


def _denial(status: int, error: ChatdeskError) -> Response:
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return JSONResponse(error.body(), status_code=status, headers=headers)


def _payload(message: Any) -> str | bytes | None:
    """A received ASGI message's text or bytes; None when the client has gone."""
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    return text if text is not None else message.get("bytes") or b""


class Settle:
    """Queued after a catch-up reply: live events of ``ticket`` flow from ``seq`` on."""

    def __init__(self, ticket: int, seq: int, catch_up: bool = False) -> None:
        self.ticket = ticket
        self.seq = seq
        self.catch_up = catch_up


class Channel:
    """One client's session on a channel; subclasses handle frames and render pushes."""

    frames: dict[str, type[ClientFrame]]

    def __init__(self, desk: Desk, websocket: WebSocket) -> None:
        self.desk = desk
        self.websocket = websocket
        offered = websocket.scope.get("subprotocols") or []
        self.subprotocol = next((p for p in offered if p in SUBPROTOCOLS), None)
        self.encoding: Encoding = "msgpack" if self.subprotocol == MSGPACK_PROTOCOL else "json"
        self.conn = Connection(
            websocket,
            self.encoding,
            desk.settings.send_queue_size,
            self._render_observed,
            self._render_now_observed,
        )
        # Metrics probes of the ops feature, when it runs (chatdesk/ops/metrics.py).
        self._probe = desk.ext.get("ops")
        self.channel_kind = str(websocket.scope.get("path", "")).rsplit("/", 1)[-1]
        self.cursors = Cursors(self._fetch)
        self.topics: set[str] = set()
        self._tasks: set[asyncio.Task[None]] | None = None  # made with the first task
        self._slots: asyncio.Semaphore | None = None  # made with the first frame
        self._refusals = 0

    # -- subclass hooks
    async def hello(self, raw: dict[str, Any]) -> None:
        raise NotImplementedError

    async def handle(self, frame: ClientFrame) -> None:
        raise NotImplementedError

    async def render(self, item: Any) -> list[Outgoing]:
        raise NotImplementedError

    def render_now(self, item: Any) -> list[Outgoing] | None:
        """``render`` for items that need no read (a live event with no gap before it),
        or None: then the item goes through the queue and ``render``."""
        return None

    async def cleanup(self) -> None:
        """Called once when the socket is gone."""

    def public_only(self) -> bool:
        return False

    async def _render_observed(self, item: Any) -> list[Outgoing]:
        frames = await self.render(item)
        if frames and self._probe is not None and isinstance(item, bus.EventMsg):
            self._probe.observe_push(self.channel_kind, item.event.at)
        return frames

    def _render_now_observed(self, item: Any) -> list[Outgoing] | None:
        frames = self.render_now(item)
        if frames and self._probe is not None and isinstance(item, bus.EventMsg):
            self._probe.observe_push(self.channel_kind, item.event.at)
        return frames

    # -- shared machinery
    async def _fetch(self, ticket: int, after: int, up_to: int | None) -> list[Any]:
        events = await self.desk.tickets.events(ticket, after, up_to)
        return events

    def subscribe(self, topic: str) -> None:
        if topic not in self.topics:
            self.topics.add(topic)
            self.desk.hub.subscribe(topic, self.conn)

    def unsubscribe(self, topic: str) -> None:
        if topic in self.topics:
            self.topics.discard(topic)
            self.desk.hub.unsubscribe(topic, self.conn)

    def ok(self, rid: str | None, **result: Any) -> None:
        self.conn.send(OkFrame(rid, result))

    def origin_ok(self) -> bool:
        """Checked before accepting: a browser page of another site may not connect."""
        return True

    async def _admit(self) -> Response | None:
        if not self.origin_ok():
            return _denial(403, Forbidden("this origin may not connect"))
        d = self.desk
        if d.settings.max_connections_per_ip and (
            d.per_ip.get(self.ip, 0) >= d.settings.max_connections_per_ip
        ):
            return _denial(429, RateLimited("too many open connections from here", 5.0))
        assert d.rules is not None
        try:
            await d.limiter.hit(d.rules.ip_connects, self.ip)
        except RateLimited as exc:
            return _denial(429, exc)
        return None

    @property
    def ip(self) -> str:
        client = self.websocket.client
        return client.host if client else "?"

    async def limit(self, rule: Rule, key: str) -> None:
        """Count a frame against a rule; persistent abuse closes the socket with 1008."""
        try:
            await self.desk.limiter.hit(rule, key)
        except RateLimited:
            self._refusals += 1
            if self._refusals > ABUSE_REFUSALS:
                self.conn.close_soon(POLICY_VIOLATION, "rate limit exceeded persistently")
            raise

    async def serve(self) -> None:
        ws = self.websocket
        denial = await self._admit()
        if denial is not None:
            await ws.send_denial_response(denial)
            return
        await ws.accept(subprotocol=self.subprotocol)
        self.conn.pause()
        self.conn.start()
        self.desk.connections.add(self)
        ip = self.ip
        self.desk.per_ip[ip] = self.desk.per_ip.get(ip, 0) + 1
        try:
            try:
                first = await asyncio.wait_for(self._receive(), HELLO_TIMEOUT_S)
                if first is None:
                    return
                raw = decode(first, self.encoding, self.desk.settings.max_frame_bytes)
                if raw["type"] != "hello":
                    raise Unauthorized("the first frame must be 'hello'")
                await self.hello(raw)
                first = raw = None  # not kept for the socket's lifetime
                self._forget_handshake()
            except (TimeoutError, ChatdeskError) as exc:
                error = exc if isinstance(exc, ChatdeskError) else Unauthorized("no hello in time")
                if isinstance(error, BadRequest):
                    error = Unauthorized(f"hello refused: {error.detail}")
                await self._refuse(error)
                return
            except (SQLAlchemyError, OSError) as exc:
                # The store is away or its pool is exhausted (a reconnect storm): say
                # so and ask the client to come back, instead of failing with 1011.
                log.warning("hello failed, store unavailable: %s", type(exc).__name__)
                await self._refuse(
                    Unavailable("the server is busy; reconnect shortly"), TRY_AGAIN_LATER
                )
                return
            await self._read_loop()
        except WebSocketDisconnect:
            pass
        except Exception:
            # Never drop a client without a close frame: say 1011 and let it reconnect.
            log.exception("%s connection failed", type(self).__name__)
            with contextlib.suppress(Exception):
                await self.websocket.close(1011)
        finally:
            self.desk.connections.discard(self)
            left = self.desk.per_ip.get(ip, 1) - 1
            if left > 0:
                self.desk.per_ip[ip] = left
            else:
                self.desk.per_ip.pop(ip, None)
            for topic in list(self.topics):
                self.unsubscribe(topic)
            for task in list(self._tasks or ()):
                task.cancel()
            with contextlib.suppress(Exception):
                await self.cleanup()
            if self._probe is not None and self.conn.close_code == TRY_AGAIN_LATER:
                self._probe.slow_closed(self.channel_kind)
            if not self.conn.closed:
                await self.conn.stop()
            else:
                await self.conn.wait_closed()

    async def _refuse(self, error: ChatdeskError, code: int = UNAUTHORIZED) -> None:
        """Hello refused: one error frame, then close (4401 when authentication failed)."""
        with contextlib.suppress(Exception):
            data = encode(Error.of(error, None).wire(), self.encoding)
            if isinstance(data, bytes):
                await self.websocket.send_bytes(data)
            else:
                await self.websocket.send_text(data)
        await self.conn.stop()
        if self.websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close(code, error.code)

    async def _receive(self) -> str | bytes | None:
        return _payload(await self.websocket.receive())

    def _forget_handshake(self) -> None:
        """hello has read the handshake's headers: an idle socket need not keep them.
        Handlers of later frames see no headers or cookies."""
        ws = self.websocket
        ws.scope["headers"] = []
        for cached in ("_headers", "_cookies"):  # Starlette's parsed copies
            vars(ws).pop(cached, None)

    async def _read_loop(self) -> None:
        limit = self.desk.settings.max_frame_bytes
        # The ASGI receive itself, not WebSocket.receive via _receive: two coroutine
        # frames fewer held by every idle socket.
        receive = self.websocket._receive
        while not self.conn.closed:
            data = _payload(await receive())
            if data is None:
                return
            try:
                frame = parse(decode(data, self.encoding, limit), self.frames)
            except ChatdeskError as exc:
                self.conn.send(Error.of(exc, getattr(exc, "rid", None)))
                continue
            if self._slots is None:
                self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
            await self._slots.acquire()
            self._keep_task(asyncio.create_task(self._run(frame)))

    async def _run(self, frame: ClientFrame) -> None:
        started = time.perf_counter()
        try:
            await self.handle(frame)
        except ChatdeskError as exc:
            self.conn.send(Error.of(exc, getattr(frame, "rid", None)))
        except Exception:
            log.exception("frame %s failed", frame.type)
            self.conn.send(
                Error(getattr(frame, "rid", None), "unavailable", "internal error; retry")
            )
        finally:
            assert self._slots is not None
            self._slots.release()
            if self._probe is not None:
                elapsed = time.perf_counter() - started
                self._probe.observe_ack(self.channel_kind, frame.type, elapsed)

    def run_soon(self, coro: Coroutine[Any, Any, None]) -> None:
        self._keep_task(asyncio.create_task(coro))

    def _keep_task(self, task: asyncio.Task[None]) -> None:
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
