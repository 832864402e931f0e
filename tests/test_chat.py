"""A visitor's chat becomes a ticket that agents claim and answer live."""

from __future__ import annotations

import uuid

import pytest

from tests.client import agent, visitor


def cid() -> str:
    return uuid.uuid4().hex


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
async def test_visitor_chat_is_claimed_and_answered_live(desk, tokens, encoding):
    ana = await agent(desk, tokens["ana"], encoding)
    assert ana.welcome["type"] == "welcome"
    assert ana.welcome["agent"]["email"] == "ana@example.com"
    v = await visitor(desk, encoding=encoding)
    assert v.welcome["type"] == "welcome"
    assert v.welcome["ticket"] is None and v.welcome["visitor_token"]
    assert v.welcome["agents_online"] is True

    reply = await v.ok({"type": "message", "client_msg_id": cid(), "body": "Hello, my order?"})
    ticket = reply["ticket"]
    assert reply["seq"] == 1
    queued = await ana.push(lambda f: f["type"] == "queue" and f["ticket"]["id"] == ticket)
    assert queued["ticket"]["status"] == "new"
    assert (await v.event(ticket, "message"))["body"] == "Hello, my order?"

    await ana.ok({"type": "claim", "ticket": ticket})
    status = await v.push(lambda f: f["type"] == "event" and f["event"]["kind"] == "status")
    assert status["event"]["to"] == "open"
    assert status["event"]["author"] == {"type": "agent", "id": None, "name": "Ana"}
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "On its way"})
    answer = await v.event(ticket, "message")
    assert answer["body"] == "On its way"
    assert answer["author"]["name"] == "Ana"

    await v.ok({"type": "message", "client_msg_id": cid(), "body": "Thanks!"})
    got = await ana.event(ticket, "message", author="visitor")
    assert got["body"] == "Thanks!" and got["author"]["type"] == "visitor"
    await v.close()
    await ana.close()


async def test_second_claim_loses_with_conflict(desk, tokens):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    bo = await agent(desk, tokens["bo"])
    import asyncio

    a, b = await asyncio.gather(
        ana.request({"type": "claim", "ticket": ticket}),
        bo.request({"type": "claim", "ticket": ticket}),
    )
    assert sorted([a["type"], b["type"]]) == ["error", "ok"]
    loser = a if a["type"] == "error" else b
    assert loser["code"] == "conflict"
    for c in (v, ana, bo):
        await c.close()


async def test_notes_never_reach_the_visitor(desk, tokens):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": "SECRET"})
    await ana.ok({"type": "labels", "ticket": ticket, "add": ["vip"]})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "public"})
    await v.event(ticket, "message")  # own
    await v.event(ticket, "status")
    assert (await v.event(ticket, "message"))["body"] == "public"
    synced = await v.ok({"type": "sync", "after_seq": 0})
    again = await visitor(desk, token=v.welcome["visitor_token"], after_seq=0)
    for events in (
        synced["events"],
        again.welcome["events"],
        [p.get("event", {}) for p in v.pushes],
    ):
        for e in events:
            assert e.get("visibility", "public") == "public"
            assert "SECRET" not in str(e)
    assert "vip" not in str(again.welcome) and "labels" not in str(again.welcome["ticket"])
    for c in (v, again, ana):
        await c.close()
