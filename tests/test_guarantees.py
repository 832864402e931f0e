"""Contract section 6: acked means stored, no duplicates, seq order, exact catch-up."""

from __future__ import annotations

import asyncio
import uuid

from tests.client import agent, visitor


def cid() -> str:
    return uuid.uuid4().hex


async def test_retried_message_is_stored_once(desk, tokens):
    v = await visitor(desk)
    msg_id = cid()
    first = await v.ok({"type": "message", "client_msg_id": msg_id, "body": "once"})
    second = await v.ok({"type": "message", "client_msg_id": msg_id, "body": "once"})
    assert (first["ticket"], first["seq"]) == (second["ticket"], second["seq"])
    # A retry on a new connection (the ack was lost with the old one) is the same.
    again = await visitor(desk, token=v.welcome["visitor_token"])
    third = await again.ok({"type": "message", "client_msg_id": msg_id, "body": "once"})
    assert (third["ticket"], third["seq"]) == (first["ticket"], first["seq"])
    events = desk.get(f"/api/v1/tickets/{first['ticket']}/events", tokens["admin"]).json()
    assert [e["body"] for e in events["items"] if e["kind"] == "message"] == ["once"]
    await v.close()
    await again.close()


async def test_agent_send_is_idempotent(desk, tokens):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    msg = {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "reply"}
    a, b = await asyncio.gather(ana.ok(dict(msg)), ana.ok(dict(msg)))
    assert a["seq"] == b["seq"]
    events = desk.get(f"/api/v1/tickets/{ticket}/events", tokens["ana"]).json()["items"]
    assert [e["body"] for e in events if e["kind"] == "message"] == ["hi", "reply"]
    await v.close()
    await ana.close()


async def test_reconnect_with_after_seq_gets_exactly_the_missed_events(desk, tokens):
    v = await visitor(desk)
    token = v.welcome["visitor_token"]
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "m1"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    seen = await v.event(ticket, "status")
    await v.close()
    await ana.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": "internal"})
    for body in ("a1", "a2", "a3"):
        await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": body})
    back = await visitor(desk, token=token, after_seq=seen["seq"])
    assert back.welcome["ticket"]["id"] == ticket
    assert [e["body"] for e in back.welcome["events"]] == ["a1", "a2", "a3"]
    assert all(e["visibility"] == "public" for e in back.welcome["events"])
    synced = await back.ok({"type": "sync", "after_seq": back.welcome["events"][0]["seq"]})
    assert [e["body"] for e in synced["events"]] == ["a2", "a3"]
    # Live pushes continue right after the catch-up, without repeats.
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "a4"})
    assert (await back.event(ticket, "message"))["body"] == "a4"
    await back.quiet()
    assert not [p for p in back.pushes if p.get("type") == "event"]
    # The agent's sync returns internal events too.
    all_events = await ana.ok({"type": "sync", "ticket": ticket, "after_seq": 0})
    seqs = [e["seq"] for e in all_events["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert "note" in [e["kind"] for e in all_events["events"]]
    await back.close()
    await ana.close()


async def test_concurrent_writers_get_unique_gap_free_seqs(desk, tokens):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "go"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    admin = await agent(desk, tokens["admin"])
    writers = [ana, admin, await agent(desk, tokens["ana"]), await agent(desk, tokens["admin"])]

    async def burst(client, n):
        out = []
        for i in range(n):
            kind = "note" if i % 3 == 0 else "send"
            out.append(
                client.ok({"type": kind, "ticket": ticket, "client_msg_id": cid(), "body": str(i)})
            )
        return [r["seq"] for r in await asyncio.gather(*out)]

    visitor_msgs = [
        v.ok({"type": "message", "client_msg_id": cid(), "body": f"v{i}"}) for i in range(30)
    ]
    results = await asyncio.gather(*(burst(w, 40) for w in writers), *visitor_msgs)
    acked = [s for r in results[: len(writers)] for s in r] + [
        r["seq"] for r in results[len(writers) :]
    ]
    assert len(acked) == len(set(acked)) == 4 * 40 + 30
    events = (await ana.ok({"type": "sync", "ticket": ticket, "after_seq": 0}))["events"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert set(acked) <= set(seqs)
    # Live pushes reached the assignee in seq order, each once.
    pushed = [
        p["event"]["seq"]
        for p in ana.pushes
        if p["type"] == "event" and p["event"]["ticket"] == ticket
    ]
    assert pushed == sorted(pushed) and len(pushed) == len(set(pushed))
    for c in (v, *writers):
        await c.close()
