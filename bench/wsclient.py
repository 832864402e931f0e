"""A lean protocol client for the benchmark: one reader task per socket, receipt timestamps.

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

from websockets.asyncio.client import ClientConnection, connect

Frame = dict[str, Any]
EventHook = Callable[["Client", Frame, int], None]
ReplyHook = Callable[["Client", Frame, int], None]

TIMEOUT_S = 30.0
_rids = itertools.count(1)


def _ignore(client: Client, frame: Frame, now: int) -> None:
    return None


class Client:
    """One WebSocket on a chatdesk channel (or the baseline's)."""

    def __init__(self, ws: ClientConnection, kind: str) -> None:
        self.ws = ws
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
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                now = time.perf_counter_ns()
                frame = json.loads(data)
                kind = frame.get("type")
                if kind == "event":
                    self.on_event(self, frame["event"], now)
                elif kind == "ok" or kind == "error":
                    future = self.replies.pop(frame.get("rid"), None)
                    if future is not None:
                        if not future.done():
                            future.set_result(frame)
                        continue
                    self.on_reply(self, frame, now)
                if self.waiters:
                    self._check_waiters(frame)
        except Exception:
            pass
        finally:
            self.closed = True
            rcvd = self.ws.protocol.close_rcvd
            self.close_code = rcvd.code if rcvd else None
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

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame, separators=(",", ":")))

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
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:
            pass
        self._reader.cancel()


async def open_client(url: str, kind: str, timeout: float = TIMEOUT_S) -> Client:
    ws = await connect(
        url,
        subprotocols=["chatdesk.json"],  # type: ignore[list-item]
        open_timeout=timeout,
        max_size=2**24,
        max_queue=None,  # the reader never lags behind on purpose; don't pause the socket
        compression=None,
        proxy=None,
        ping_interval=None,  # idle sockets stay quiet; the server pings if it wants
    )
    return Client(ws, kind)


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
