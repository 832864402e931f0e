"""Redis pub/sub between processes, supervised so a dead subscription is noticed.

A subscription can die silently (a restarted Redis, a dropped TCP connection with
no RST): everything looks up while nothing arrives. So the listener publishes a
heartbeat of its own every few seconds and expects to hear it back; when it does
not, or when any call fails, it reconnects with capped, jittered backoff,
resubscribes, and asks the hub to resync its clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Sequence

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chatdesk.realtime.broker.base import Broker, Deliver, Resync

log = logging.getLogger(__name__)

_HEARTBEAT = b"\x00hb"
# A bus message is the publishing process's origin (8 bytes), this marker, and the
# msgpack array of the payloads that went out together: one Redis message per
# writer batch, not per payload, since every process parses everything published.
_BUNDLE = b"\x01"


class RedisBroker(Broker):
    def __init__(self, url: str, prefix: str, heartbeat_s: float = 2.0) -> None:
        self._url = url
        self._channel = f"{prefix}:bus"
        self._origin = os.urandom(8)
        self._heartbeat_s = heartbeat_s
        # Each entry: when it was published here, and its payloads (for the lag metric).
        self._outbox: asyncio.Queue[tuple[float, list[bytes]]] = asyncio.Queue(maxsize=10_000)
        self.on_publish_lag: Callable[[float], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._deliver: Deliver | None = None
        self._resync: Resync | None = None
        self._heard_at = time.monotonic()
        self.healthy = False
        self.reconnects = 0
        self.dropped = 0
        self._closing = False

    async def start(self, deliver: Deliver, resync: Resync) -> None:
        self._deliver = deliver
        self._resync = resync
        self._publisher = aioredis.from_url(
            self._url, socket_timeout=2, socket_connect_timeout=2, retry_on_timeout=False
        )
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-listen"),
            asyncio.create_task(self._publish_loop(), name="redis-publish"),
        ]
        # Wait briefly for the first subscription so a fresh process hears its peers.
        for _ in range(50):
            if self.healthy:
                break
            await asyncio.sleep(0.02)

    def publish(self, payloads: Sequence[bytes]) -> None:
        assert self._deliver is not None
        loop = asyncio.get_running_loop()
        loop.call_soon(self._deliver_local, list(payloads))
        try:
            self._outbox.put_nowait((time.monotonic(), list(payloads)))
        except asyncio.QueueFull:
            # Redis is down and the backlog is full: peers will resync by seq anyway.
            self.dropped += len(payloads)

    @property
    def outbox(self) -> int:
        """Publish calls waiting to go out to Redis."""
        return self._outbox.qsize()

    def _deliver_local(self, payloads: list[bytes]) -> None:
        if self._deliver is not None:
            for payload in payloads:
                self._deliver(payload)

    async def _publish_loop(self) -> None:
        while not self._closing or not self._outbox.empty():
            since, batch = await self._outbox.get()
            while not self._outbox.empty() and len(batch) < 1000:
                batch.extend(self._outbox.get_nowait()[1])
            try:
                bundle = self._origin + _BUNDLE + msgpack.packb(batch, use_bin_type=True)
                await self._publisher.publish(self._channel, bundle)
                if self.on_publish_lag is not None:
                    self.on_publish_lag(time.monotonic() - since)
            except (RedisError, OSError) as exc:
                self.dropped += len(batch)
                log.warning("redis publish failed (%s); peers will resync", type(exc).__name__)
                await asyncio.sleep(0.2)

    async def _listen(self) -> None:
        attempt = 0
        first = True
        while not self._closing:
            client = aioredis.from_url(self._url, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._heard_at = time.monotonic()
                self.healthy = True
                if not first:
                    self.reconnects += 1
                    log.warning("redis subscription restored")
                    if self._resync is not None:
                        self._resync()
                first = False
                attempt = 0
                await self._receive(client, pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                if self.healthy:
                    log.warning("redis subscription lost: %s", type(exc).__name__)
            finally:
                self.healthy = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            attempt += 1
            delay = min(5.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0)
            await asyncio.sleep(delay)

    async def _receive(self, client: aioredis.Redis, pubsub: aioredis.client.PubSub) -> None:
        next_beat = 0.0
        # redis-py can swallow a cancellation inside get_message, so loops also watch a flag.
        while not self._closing:
            now = time.monotonic()
            if now >= next_beat:
                await client.publish(self._channel, self._origin + _HEARTBEAT)
                next_beat = now + self._heartbeat_s
            if now - self._heard_at > 3 * self._heartbeat_s:
                raise TimeoutError("no heartbeat heard back from redis")
            message = await pubsub.get_message(timeout=self._heartbeat_s / 2)
            if message is None or message.get("type") != "message":
                continue
            data: bytes = message["data"]
            origin, body = data[:8], data[8:]
            if origin == self._origin:
                if body == _HEARTBEAT:
                    self._heard_at = time.monotonic()
                continue  # our own messages were delivered locally already
            if body == _HEARTBEAT or self._deliver is None:
                continue
            try:
                if not body.startswith(_BUNDLE):
                    raise ValueError("not a bundle of this version")
                payloads = msgpack.unpackb(body[1:], use_list=True, raw=False)
            except Exception:
                log.exception("bad message from the bus")
                continue
            for payload in payloads:
                try:
                    self._deliver(payload)
                except Exception:
                    log.exception("bad message from the bus")

    async def close(self) -> None:
        # Let what is queued (e.g. this process's last presence) go out, briefly.
        for _ in range(50):
            if self._outbox.empty() or not self.healthy:
                break
            await asyncio.sleep(0.02)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=3)
        with contextlib.suppress(Exception):
            await self._publisher.aclose()
        self._deliver = None
