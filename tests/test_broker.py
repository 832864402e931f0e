"""One contract for both brokers: bytes in order, to this process and to peers."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from chatdesk.realtime.broker import Broker, MemoryBroker, RedisBroker


@pytest.fixture(params=["memory", "redis"])
def make_broker(request, redis_url):
    prefix = f"broker-test-{uuid.uuid4().hex[:8]}"

    def make() -> Broker:
        return MemoryBroker() if request.param == "memory" else RedisBroker(redis_url, prefix)

    return make


async def _started(broker: Broker) -> list[bytes]:
    got: list[bytes] = []
    await broker.start(got.append, lambda: None)
    return got


async def _until(cond, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110 (polling a plain list the broker fills)
            await asyncio.sleep(0.01)


async def test_publisher_hears_itself_in_order(make_broker):
    broker = make_broker()
    got = await _started(broker)
    payloads = [f"m{i}".encode() for i in range(500)]
    broker.publish(payloads[:250])
    broker.publish(payloads[250:])
    await _until(lambda: len(got) >= 500)
    assert got == payloads
    await asyncio.sleep(0.1)
    assert len(got) == 500  # heard once, not again through the network
    await broker.close()


async def test_redis_peers_hear_each_other(redis_url):
    prefix = f"broker-test-{uuid.uuid4().hex[:8]}"
    a, b = RedisBroker(redis_url, prefix), RedisBroker(redis_url, prefix)
    got_a, got_b = await _started(a), await _started(b)
    a.publish([b"from-a", b"\x00binary\xff"])
    b.publish([b"from-b"])
    await _until(lambda: len(got_a) == 3 and len(got_b) == 3)
    assert set(got_a) == set(got_b) == {b"from-a", b"\x00binary\xff", b"from-b"}
    assert got_b.index(b"from-a") < got_b.index(b"\x00binary\xff")
    assert a.healthy and b.healthy
    await a.close()
    await b.close()


async def test_redis_peer_skips_a_foreign_message_and_goes_on(redis_url):
    """Anything else on the channel (a stray client, an older process) is logged and
    skipped; the bundles after it still arrive, in order."""
    import redis.asyncio as aioredis

    prefix = f"broker-test-{uuid.uuid4().hex[:8]}"
    a, b = RedisBroker(redis_url, prefix), RedisBroker(redis_url, prefix)
    got_b = await _started(b)
    await _started(a)
    stray = aioredis.from_url(redis_url)
    await stray.publish(f"{prefix}:bus", b"12345678not-a-bundle")
    await stray.publish(f"{prefix}:bus", b"short")
    await stray.aclose()
    a.publish([b"one", b"two"])
    a.publish([b"three"])
    await _until(lambda: len(got_b) == 3)
    assert got_b == [b"one", b"two", b"three"]
    assert b.healthy
    await a.close()
    await b.close()
