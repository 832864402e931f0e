"""The limit of chatdesk's stack: a minimal broadcast server with no persistence.

    python -m bench.baseline --port 8100 --redis-url redis://127.0.0.1:6379/0 --prefix x

Starlette on uvicorn (``ws="websockets-sansio"``, the stock protocol that ``chatdesk
serve`` runs slimmed, ``chatdesk/realtime/wsproto.py``) and Redis
pub/sub between processes, speaking the part of the contract the load generator uses:
visitor ``hello``/``message``, agent ``hello``/``claim``/``send``. A message is
acknowledged at once and published to its ticket's topic, where the visitor and the
claiming agent receive it, on whichever process they are. Like chatdesk it delivers to
its own process directly and skips its own messages coming back from Redis, and every
socket has a send queue drained by one writer task. No database, no seq durability:
whatever chatdesk costs beyond these figures is its own work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


def _dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


class Conn:
    """A socket's send queue and its writer task."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._drain())

    def push(self, text: str) -> None:
        self.queue.put_nowait(text)

    async def _drain(self) -> None:
        with contextlib.suppress(Exception):
            while (text := await self.queue.get()) is not None:
                await self.ws.send_text(text)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class Bus:
    """Topic -> local sockets, and one Redis channel every process subscribes to."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.channel = f"{prefix}:bus"
        self.origin = os.urandom(8)
        self.topics: dict[str, set[Conn]] = {}
        self.outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.seqs: dict[int, int] = {}
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.redis = aioredis.from_url(self.redis_url)
        ready = asyncio.Event()
        self.tasks = [
            asyncio.create_task(self._listen(ready)),
            asyncio.create_task(self._publish_loop()),
        ]
        await asyncio.wait_for(ready.wait(), 10)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.redis.aclose()

    def subscribe(self, topic: str, conn: Conn) -> None:
        self.topics.setdefault(topic, set()).add(conn)

    def unsubscribe_all(self, conn: Conn) -> None:
        for topic, conns in list(self.topics.items()):
            conns.discard(conn)
            if not conns:
                del self.topics[topic]

    def publish(self, topic: str, text: str) -> None:
        self._deliver(topic, text)
        self.outbox.put_nowait(self.origin + f"{topic}\n{text}".encode())

    def _deliver(self, topic: str, text: str) -> None:
        for conn in self.topics.get(topic, ()):
            conn.push(text)

    async def _publish_loop(self) -> None:
        while True:
            batch = [await self.outbox.get()]
            while not self.outbox.empty() and len(batch) < 1000:
                batch.append(self.outbox.get_nowait())
            async with self.redis.pipeline(transaction=False) as pipe:
                for payload in batch:
                    pipe.publish(self.channel, payload)
                await pipe.execute()

    async def _listen(self, ready: asyncio.Event) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        ready.set()
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            data: bytes = message["data"]
            if data[:8] == self.origin:
                continue
            topic, _, text = data[8:].decode().partition("\n")
            self._deliver(topic, text)

    async def new_ticket(self) -> int:
        return int(await self.redis.incr(f"{self.prefix}:ticket"))

    def next_seq(self, ticket: int) -> int:
        seq = self.seqs.get(ticket, 0) + 1
        self.seqs[ticket] = seq
        return seq


def _event(bus: Bus, ticket: int, author: dict[str, Any], frame: dict[str, Any]) -> str:
    event = {
        "ticket": ticket,
        "seq": bus.next_seq(ticket),
        "kind": "message",
        "visibility": "public",
        "author": author,
        "body": frame["body"],
        "client_msg_id": frame["client_msg_id"],
    }
    return _dump({"type": "event", "event": event})


async def _session(ws: WebSocket, kind: str) -> None:
    bus: Bus = ws.app.state.bus
    offered = ws.scope.get("subprotocols") or []
    await ws.accept(subprotocol="chatdesk.json" if "chatdesk.json" in offered else None)
    conn = Conn(ws)
    ticket: int | None = None
    me = secrets.randbelow(2**31)
    author = {"type": kind, "id": me, "name": kind}
    try:
        hello = json.loads(await ws.receive_text())
        if kind == "visitor":
            welcome = {"visitor_token": hello.get("visitor_token") or secrets.token_urlsafe(16)}
            welcome |= {"customer": {"id": me}, "ticket": None, "events": []}
            conn.push(_dump({"type": "welcome", **welcome, "agents_online": True}))
        else:
            conn.push(_dump({"type": "welcome", "agent": {"id": me, "name": "agent"}}))
        while True:
            frame = json.loads(await ws.receive_text())
            rid = frame.get("rid")
            match frame.get("type"):
                case "message":
                    if ticket is None:
                        ticket = await bus.new_ticket()
                        bus.subscribe(f"t:{ticket}", conn)
                    event = _event(bus, ticket, author, frame)
                    conn.push(_dump({"type": "ok", "rid": rid, "ticket": ticket, "seq": 0}))
                    bus.publish(f"t:{ticket}", event)
                case "send":
                    target = int(frame["ticket"])
                    event = _event(bus, target, author, frame)
                    conn.push(_dump({"type": "ok", "rid": rid, "ticket": target, "seq": 0}))
                    bus.publish(f"t:{target}", event)
                case "claim":
                    target = int(frame["ticket"])
                    bus.subscribe(f"t:{target}", conn)
                    summary = {"id": target, "status": "open", "assignee": {"id": me}}
                    conn.push(_dump({"type": "queue", "ticket": summary}))
                    conn.push(_dump({"type": "ok", "rid": rid, "ticket": target, "seq": 0}))
                case _:
                    conn.push(_dump({"type": "ok", "rid": rid}))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        bus.unsubscribe_all(conn)
        await conn.stop()


async def visitor_ws(ws: WebSocket) -> None:
    await _session(ws, "visitor")


async def agent_ws(ws: WebSocket) -> None:
    await _session(ws, "agent")


def create_app(redis_url: str, prefix: str) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        bus = Bus(redis_url, prefix)
        await bus.start()
        app.state.bus = bus
        try:
            yield
        finally:
            await bus.close()

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            WebSocketRoute("/ws/visitor", visitor_ws),
            WebSocketRoute("/ws/agent", agent_ws),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--prefix", default="chatdesk-bench-baseline")
    args = p.parse_args()
    uvicorn.run(
        create_app(args.redis_url, args.prefix),
        host=args.host,
        port=args.port,
        ws="websockets-sansio",
        ws_max_size=64 * 1024,
        ws_per_message_deflate=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
