"""Two server processes, one database, one Redis: chats cross between them live."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.client import agent, visitor
from tests.servers import Server


def cid() -> str:
    return uuid.uuid4().hex


def assigned_to(ticket: int, name: str):
    """Matches the queue push of ``ticket`` naming ``name`` as its assignee."""
    return lambda f: (
        f["type"] == "queue"
        and f["ticket"]["id"] == ticket
        and (f["ticket"]["assignee"] or {}).get("name") == name
    )


async def publish_late(server: Server, summary: dict) -> None:
    """A queue summary on the bus as a third process's late bundle would carry it."""
    import os

    import msgpack
    import redis.asyncio as aioredis

    from chatdesk.realtime import bus

    late = bus.pack(bus.AGENTS, bus.QueueMsg(summary))
    publisher = aioredis.from_url(server.backend.redis_url)
    bundle = os.urandom(8) + b"\x01" + msgpack.packb([late], use_bin_type=True)
    await publisher.publish(f"{server.backend.redis_prefix}:bus", bundle)
    await publisher.aclose()


@pytest.fixture(scope="module", params=["sqlite+redis", "postgres"])
def pair(request, make_backend):
    backend = make_backend(request.param, f"pair-{request.param.replace('+', '-')}")
    a = Server(backend).start()
    b = Server(backend).start()
    b.site_key = a.site_key
    b.admin_password = a.admin_password
    backend.cli("agent", "add", "ana@example.com", "--name", "Ana", "--password", "ana-password")
    yield a, b
    a.stop()
    b.stop()


async def test_visitor_on_one_process_reaches_agent_on_the_other(pair):
    a, b = pair
    token = b.login("ana@example.com", "ana-password")
    ana = await agent(b, token)
    v = await visitor(a)
    assert v.welcome["agents_online"] is True  # presence crosses processes
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "from A"}))["ticket"]
    queued = await ana.push(lambda f: f["type"] == "queue" and f["ticket"]["id"] == ticket)
    assert queued["ticket"]["status"] == "new"
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "from B"})
    assert (await v.event(ticket, "message", author="agent"))["body"] == "from B"
    await v.send({"type": "typing", "on": True})
    typing = await ana.push(lambda f: f["type"] == "typing" and f["ticket"] == ticket)
    assert typing["on"] is True and typing["author"]["type"] == "visitor"
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "back to B"})
    assert (await ana.event(ticket, "message", author="visitor"))["body"] == "back to B"
    await v.close()
    await ana.close()


async def test_two_processes_writing_one_ticket_keep_seq_order(pair):
    a, b = pair
    admin_a = await agent(a, a.login())
    admin_b = await agent(b, b.login())
    watcher = await agent(a, a.login("ana@example.com", "ana-password"))
    v = await visitor(b)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "go"}))["ticket"]
    await admin_a.ok({"type": "claim", "ticket": ticket})
    await watcher.ok({"type": "watch", "ticket": ticket})

    async def burst(client, tag):
        return await asyncio.gather(
            *(
                client.ok(
                    {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": f"{tag}{i}"}
                )
                for i in range(50)
            )
        )

    got = await asyncio.gather(burst(admin_a, "a"), burst(admin_b, "b"))
    acked = sorted(r["seq"] for batch in got for r in batch)
    assert len(set(acked)) == 100
    last = acked[-1]

    def seqs(client):
        return [
            p["event"]["seq"]
            for p in client.pushes
            if p["type"] == "event" and p["event"]["ticket"] == ticket
        ]

    # Every subscriber on either process sees every event once, in seq order.
    for client in (watcher, v):
        await client.push(lambda f: f["type"] == "event" and f["event"]["seq"] == last, timeout=15)
    watched = [*seqs(watcher), last]
    assert watched == list(range(watched[0], last + 1))
    visitor_seqs = [*seqs(v), last]
    assert visitor_seqs == sorted(set(visitor_seqs))
    assert set(acked) <= set(visitor_seqs) | set(range(0, 4))
    for c in (admin_a, admin_b, watcher, v):
        await c.close()


async def test_a_late_summary_does_not_stop_a_claimed_chat_reaching_its_agent(pair):
    """A process publishes after its commit, off the caller's path, so the summary of a
    chat's creation can reach the claiming agent's process after the claim's own. The
    agent must go on receiving the visitor's messages: the stale summary (an older
    last_seq, no assignee) is not taken as "this chat is no longer yours"."""
    a, b = pair
    ana = await agent(b, b.login("ana@example.com", "ana-password"))
    v = await visitor(a)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    created = await ana.push(lambda f: f["type"] == "queue" and f["ticket"]["id"] == ticket)
    assert created["ticket"]["assignee"] is None
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.push(assigned_to(ticket, "Ana"))
    await publish_late(a, created["ticket"])  # the creation's summary once more
    stale = await ana.push(lambda f: f["type"] == "queue" and f["ticket"]["id"] == ticket)
    assert stale["ticket"]["assignee"] is None  # the console orders summaries by last_seq
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "still there?"})
    assert (await ana.event(ticket, "message", author="visitor"))["body"] == "still there?"
    await v.close()
    await ana.close()


async def test_a_late_summary_naming_the_agent_does_not_override_a_newer_one(pair):
    """The other way round: Ana claims, an admin on the other process takes the chat
    over, and Ana's process hears the takeover first. Her own claim's summary, late,
    must not make her socket follow a chat that is no longer hers."""
    a, b = pair
    ana = await agent(b, b.login("ana@example.com", "ana-password"))
    admin = await agent(a, a.login())
    v = await visitor(a)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    created = await ana.push(lambda f: f["type"] == "queue" and f["ticket"]["id"] == ticket)
    await admin.ok({"type": "claim", "ticket": ticket})
    await ana.push(assigned_to(ticket, "Admin"))
    # Ana's claim as it stood before the takeover: older last_seq, Ana as assignee.
    me = ana.welcome["agent"]
    claim = {**created["ticket"], "assignee": {"id": me["id"], "name": me["name"]}}
    await publish_late(a, claim)
    await ana.push(assigned_to(ticket, "Ana"))
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "anyone?"})
    assert (await admin.event(ticket, "message", author="visitor"))["body"] == "anyone?"
    await ana.quiet(0.5)
    assert not [p for p in ana.pushes if p["type"] == "event"]
    for client in (v, ana, admin):
        await client.close()
