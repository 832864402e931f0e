"""A real WebSocket client for tests: requests matched by rid, pushes kept in order."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Callable
from typing import Any

import msgpack
from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = float(os.environ.get("CHATDESK_TEST_TIMEOUT", "10"))
_rids = itertools.count(1)


class Client:
    def __init__(self, ws: ClientConnection, encoding: str) -> None:
        self.ws = ws
        self.encoding = encoding
        self.pushes: list[dict[str, Any]] = []
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed: asyncio.Future[tuple[int | None, str]] = (
            asyncio.get_running_loop().create_future()
        )
        self.welcome: dict[str, Any] = {}

    @classmethod
    async def open(
        cls, url: str, encoding: str = "json", headers: dict[str, str] | None = None
    ) -> Client:
        subprotocol = "chatdesk.msgpack" if encoding == "msgpack" else "chatdesk.json"
        ws = await connect(
            url,
            subprotocols=[subprotocol],
            additional_headers=headers,
            open_timeout=TIMEOUT,
            max_size=2**24,
        )
        return cls(ws, encoding)

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                if isinstance(data, bytes):
                    frame = msgpack.unpackb(data, raw=False)
                else:
                    frame = json.loads(data)
                rid = frame.get("rid")
                if frame.get("type") in ("ok", "error") and rid in self._replies:
                    self._replies.pop(rid).set_result(frame)
                else:
                    self.pushes.append(frame)
                    self._arrived.set()
        except Exception:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            if not self.closed.done():
                self.closed.set_result((rcvd.code if rcvd else None, rcvd.reason if rcvd else ""))
            self._arrived.set()

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def send(self, frame: dict[str, Any]) -> None:
        if self.encoding == "msgpack":
            await self.ws.send(msgpack.packb(frame, use_bin_type=True))
        else:
            await self.ws.send(json.dumps(frame))

    async def request(self, frame: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
        rid = frame.setdefault("rid", f"r{next(_rids)}")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[rid] = future
        await self.send(frame)
        return await asyncio.wait_for(future, timeout)

    async def ok(self, frame: dict[str, Any]) -> dict[str, Any]:
        reply = await self.request(frame)
        assert reply["type"] == "ok", reply
        return reply

    async def push(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The first push (taken from the buffer) that matches."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, frame in enumerate(self.pushes):
                if match(frame):
                    return self.pushes.pop(i)
            if self.closed.done():
                raise AssertionError(f"closed {self.closed.result()} before a matching push")
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no matching push in {timeout}s; have {self.pushes[-5:]}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                pass

    async def event(
        self, ticket: int, kind: str, author: str | None = None, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        frame = await self.push(
            lambda f: (
                f.get("type") == "event"
                and f["event"]["ticket"] == ticket
                and f["event"]["kind"] == kind
                and (author is None or f["event"]["author"]["type"] == author)
            ),
            timeout,
        )
        return frame["event"]

    async def quiet(self, seconds: float = 0.3) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def visitor(
    server: Any,
    token: str | None = None,
    site: str | None = None,
    encoding: str = "json",
    after_seq: int | None = None,
    **hello: Any,
) -> Client:
    client = await Client.open(server.ws("/ws/visitor"), encoding)
    frame = {"type": "hello", "site": site or server.site_key, "visitor_token": token, **hello}
    if after_seq is not None:
        frame["after_seq"] = after_seq
    await client.send(frame)
    client.welcome = await client.push(lambda f: f["type"] in ("welcome", "error"))
    return client


async def agent(server: Any, token: str, encoding: str = "json") -> Client:
    client = await Client.open(server.ws("/ws/agent"), encoding)
    await client.send({"type": "hello", "token": token})
    client.welcome = await client.push(lambda f: f["type"] in ("welcome", "error"))
    return client
