"""A lean protocol client for the benchmark: websockets' sans-I/O protocol on an asyncio
transport, frames handled as they arrive, receipt timestamps.

The generator shares the machine's cores with the servers it measures, so what it
spends per frame is taken from them and shows in their latencies. Its first client,
websockets' asyncio connection read by a task per socket, cost about 40 us a
received frame (a task wake, a queue and a future per frame); this one parses and
handles each frame in ``data_received``, as the servers' uvicorn protocol does.

Replies to requests are matched by ``rid``; everything else goes to the hooks the load
generator and the scenarios set (``on_event``, ``on_reply``) or to one-shot waiters.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

Frame = dict[str, Any]
EventHook = Callable[["Client", Frame, int], None]
ReplyHook = Callable[["Client", Frame, int], None]

TIMEOUT_S = 30.0
_rids = itertools.count(1)


def _ignore(client: Client, frame: Frame, now: int) -> None:
    return None


class Wire(asyncio.Protocol):
    """One WebSocket: the sans-I/O protocol fed by the transport, text frames handed to
    ``on_text`` with the time they arrived."""

    def __init__(self, url: str, on_text: Callable[[str, int], None]) -> None:
        self.protocol = ClientProtocol(
            parse_uri(url),
            subprotocols=[Subprotocol("chatdesk.json")],
            max_size=2**24,
        )
        self.on_text = on_text
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._parts: list[bytes] = []

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        self.protocol.receive_data(data)
        self._handle(now)

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._handle(time.perf_counter_ns())
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)

    # -- the protocol's events
    def _handle(self, now: int) -> None:
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                if self.opened.done():
                    continue
                if self.protocol.handshake_exc is not None:
                    self.opened.set_exception(self.protocol.handshake_exc)
                else:
                    self.opened.set_result(None)
            elif isinstance(event, WsFrame):
                self._frame(event, now)
        self._flush()
        if self.protocol.state is State.CLOSED and self.transport is not None:
            self.transport.close()

    def _frame(self, frame: WsFrame, now: int) -> None:
        if frame.opcode is Opcode.TEXT or (frame.opcode is Opcode.CONT and self._parts):
            self._parts.append(bytes(frame.data))
            if frame.fin:
                data, self._parts = b"".join(self._parts), []
                self.on_text(data.decode(), now)

    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    # -- calls
    def send(self, text: str) -> None:
        if self.protocol.state is not State.OPEN:
            raise ConnectionError("the socket is closed")
        self.protocol.send_text(text.encode())
        self._flush()

    async def close(self) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1000)
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), 5)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()

    @property
    def close_code(self) -> int | None:
        rcvd = self.protocol.close_rcvd
        return rcvd.code if rcvd else None


class Client:
    """One WebSocket on a chatdesk channel (or the baseline's)."""

    def __init__(self, kind: str) -> None:
        self.ws: Wire | None = None
        self.kind = kind  # "visitor" or "agent": the author type of what it sends
        self.on_event: EventHook = _ignore
        self.on_reply: ReplyHook = _ignore
        self.replies: dict[str, asyncio.Future[Frame]] = {}
        self.waiters: list[tuple[Callable[[Frame], bool], asyncio.Future[Frame]]] = []
        self.closed = False
        self.close_code: int | None = None
        self.welcome: Frame = {}
        self.ticket: int | None = None
        self.token: str | None = None
        self.me: int | None = None  # an agent's id

    def _text(self, data: str, now: int) -> None:
        frame = json.loads(data)
        kind = frame.get("type")
        if kind == "event":
            self.on_event(self, frame["event"], now)
        elif kind == "ok" or kind == "error":
            future = self.replies.pop(frame.get("rid"), None)
            if future is not None:
                if not future.done():
                    future.set_result(frame)
                return
            self.on_reply(self, frame, now)
        if self.waiters:
            self._check_waiters(frame)

    def _lost(self, _: asyncio.Future[None]) -> None:
        self.closed = True
        self.close_code = self.ws.close_code if self.ws is not None else None
        for _, future in self.waiters:
            if not future.done():
                future.set_exception(ConnectionError(f"closed ({self.close_code})"))
        for future in self.replies.values():
            if not future.done():
                future.set_exception(ConnectionError(f"closed ({self.close_code})"))

    def _check_waiters(self, frame: Frame) -> None:
        keep = []
        for match, future in self.waiters:
            if future.done():
                continue
            if match(frame):
                future.set_result(frame)
            else:
                keep.append((match, future))
        self.waiters = keep

    def expect(self, match: Callable[[Frame], bool]) -> asyncio.Future[Frame]:
        """A future for the next pushed frame that matches (register before causing it)."""
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        if self.closed:
            future.set_exception(ConnectionError("closed"))
        else:
            self.waiters.append((match, future))
        return future

    def send_text(self, text: str) -> None:
        """Write one frame now (the load generator's open-loop sends never wait)."""
        assert self.ws is not None
        self.ws.send(text)

    async def send(self, frame: Frame) -> None:
        self.send_text(json.dumps(frame, separators=(",", ":")))

    async def request(self, frame: Frame, timeout: float = TIMEOUT_S) -> Frame:
        rid = frame.setdefault("rid", f"q{next(_rids)}")
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self.replies[rid] = future
        await self.send(frame)
        return await asyncio.wait_for(future, timeout)

    async def ok(self, frame: Frame, timeout: float = TIMEOUT_S) -> Frame:
        reply = await self.request(frame, timeout)
        if reply.get("type") != "ok":
            raise RuntimeError(f"{frame.get('type')} refused: {reply}")
        return reply

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:
                pass


async def open_client(url: str, kind: str, timeout: float = TIMEOUT_S) -> Client:
    client = Client(kind)
    wsuri = parse_uri(url)
    loop = asyncio.get_running_loop()

    async def connect() -> None:
        _, wire = await loop.create_connection(
            lambda: Wire(url, client._text), wsuri.host, wsuri.port
        )
        client.ws = wire
        wire.lost.add_done_callback(client._lost)
        await wire.opened

    try:
        await asyncio.wait_for(connect(), timeout)
    except BaseException:
        if client.ws is not None and client.ws.transport is not None:
            client.ws.transport.abort()
        raise
    return client


def _hello_answer(frame: Frame) -> bool:
    return frame.get("type") in ("welcome", "error")


async def visitor(
    url: str,
    site: str,
    token: str | None = None,
    after_seq: int | None = None,
    timeout: float = TIMEOUT_S,
) -> Client:
    client = await open_client(url, "visitor", timeout)
    answer = client.expect(_hello_answer)
    hello: Frame = {"type": "hello", "site": site, "visitor_token": token}
    if after_seq is not None:
        hello["after_seq"] = after_seq
    await client.send(hello)
    welcome = await asyncio.wait_for(answer, timeout)
    if welcome.get("type") != "welcome":
        await client.close()
        raise RuntimeError(f"visitor hello refused: {welcome}")
    client.welcome = welcome
    client.token = welcome.get("visitor_token")
    ticket = welcome.get("ticket")
    client.ticket = ticket.get("id") if isinstance(ticket, dict) else None
    return client


async def agent(url: str, token: str, timeout: float = TIMEOUT_S) -> Client:
    client = await open_client(url, "agent", timeout)
    answer = client.expect(_hello_answer)
    await client.send({"type": "hello", "token": token})
    welcome = await asyncio.wait_for(answer, timeout)
    if welcome.get("type") != "welcome":
        await client.close()
        raise RuntimeError(f"agent hello refused: {welcome}")
    client.welcome = welcome
    client.me = welcome.get("agent", {}).get("id")
    return client


async def gather_limited(factories: list[Callable[[], Any]], limit: int) -> list[Any]:
    """Run coroutine factories with at most ``limit`` at once; results in order."""
    slots = asyncio.Semaphore(limit)

    async def one(factory: Callable[[], Any]) -> Any:
        async with slots:
            return await factory()

    return await asyncio.gather(*(one(f) for f in factories))
