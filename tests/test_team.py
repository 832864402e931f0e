"""Team tickets: watch read-only, request access, grant, deny, revoke, transfer, mask."""

from __future__ import annotations

import sqlite3
import uuid

import asyncpg

from tests.client import agent, visitor


def cid() -> str:
    return uuid.uuid4().hex


async def _claimed(desk, tokens, body="hi"):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": body}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    return v, ana, ticket


def send(ticket: int, body: str = "x") -> dict:
    return {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": body}


async def test_granted_access_lets_a_teammate_reply(desk, tokens):
    v, ana, ticket = await _claimed(desk, tokens)
    bo = await agent(desk, tokens["bo"])
    bo_id = bo.welcome["agent"]["id"]
    await bo.ok({"type": "watch", "ticket": ticket})
    asked = await bo.ok({"type": "request_access", "ticket": ticket})
    assert asked["seq"]
    push = await ana.push(lambda f: f["type"] == "access_request")
    assert push["ticket"] == ticket and push["agent"] == {"id": bo_id, "name": "Bo"}
    again = await bo.request({"type": "request_access", "ticket": ticket})
    assert again["code"] == "conflict"
    # Only the assignee (or an admin) answers.
    answer = {"type": "answer_access", "ticket": ticket, "agent": bo_id, "grant": True}
    assert (await bo.request(dict(answer)))["code"] == "forbidden"
    await ana.ok(dict(answer))
    assert (await bo.push(lambda f: f["type"] == "access_answer"))["granted"] is True
    await bo.ok(send(ticket, "Bo here"))
    assert (await v.event(ticket, "message", author="agent"))["body"] == "Bo here"
    shown = desk.get(f"/api/v1/tickets/{ticket}", tokens["admin"]).json()
    assert [c["name"] for c in shown["collaborators"]] == ["Bo"]
    events = (await ana.ok({"type": "sync", "ticket": ticket, "after_seq": 0}))["events"]
    states = [e.get("state") for e in events if e["kind"] == "access"]
    assert states == ["requested", "granted"]
    # Revoked: read-only again.
    await ana.ok({"type": "revoke_access", "ticket": ticket, "agent": bo_id})
    assert (await bo.request(send(ticket)))["code"] == "forbidden"
    for c in (v, ana, bo):
        await c.close()


async def test_denied_access_leaves_the_requester_read_only(desk, tokens):
    v, ana, ticket = await _claimed(desk, tokens)
    bo = await agent(desk, tokens["bo"])
    bo_id = bo.welcome["agent"]["id"]
    await bo.ok({"type": "request_access", "ticket": ticket})
    await ana.ok({"type": "answer_access", "ticket": ticket, "agent": bo_id, "grant": False})
    assert (await bo.push(lambda f: f["type"] == "access_answer"))["granted"] is False
    assert (await bo.request(send(ticket)))["code"] == "forbidden"
    answer = {"type": "answer_access", "ticket": ticket, "agent": bo_id, "grant": True}
    assert (await ana.request(answer))["code"] == "conflict"  # nothing left to answer
    watched = await bo.ok({"type": "watch", "ticket": ticket})
    assert watched["ticket"]["collaborators"] == []
    for c in (v, ana, bo):
        await c.close()


async def test_transfer_to_another_agent(desk, tokens):
    v, ana, ticket = await _claimed(desk, tokens)
    bo = await agent(desk, tokens["bo"])
    bo_id = bo.welcome["agent"]["id"]
    await ana.ok({"type": "transfer", "ticket": ticket, "agent": bo_id})
    queued = await bo.push(
        lambda f: (
            f["type"] == "queue"
            and f["ticket"]["id"] == ticket
            and (f["ticket"]["assignee"] or {}).get("id") == bo_id
        )
    )
    assert queued["ticket"]["status"] == "open"
    # Bo now owns it and receives its events without watching.
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "still there?"})
    assert (await bo.event(ticket, "message", author="visitor"))["body"] == "still there?"
    assert (await ana.request(send(ticket)))["code"] == "forbidden"
    bad = await bo.request({"type": "transfer", "ticket": ticket, "agent": 999999})
    assert bad["code"] == "not_found"
    for c in (v, ana, bo):
        await c.close()


async def test_mask_rewrites_storage_and_every_view(desk, tokens):
    card = "4111 1111 1111 1111"
    v, ana, ticket = await _claimed(desk, tokens, body=f"my card is {card} thanks")
    start = len("my card is ")
    mask = {"type": "mask", "ticket": ticket, "seq": 1, "ranges": [[start, start + len(card)]]}
    await ana.ok(mask)
    updated = await v.push(lambda f: f["type"] == "event_updated")
    assert updated["event"]["body"] == "my card is " + "*" * len(card) + " thanks"
    events = desk.get(f"/api/v1/tickets/{ticket}/events", tokens["admin"]).json()["items"]
    assert card not in str(events)
    assert next(e for e in events if e["kind"] == "masked")["target_seq"] == 1
    again = await visitor(desk, token=v.welcome["visitor_token"], after_seq=0)
    assert card not in str(again.welcome), again.welcome
    assert "1111" not in await _stored_text(desk, ticket)
    for ranges, seq in (([[5, 500]], 1), ([], 1), ([[0, 1]], 2)):  # seq 2 is a status event
        frame = {"type": "mask", "ticket": ticket, "seq": seq, "ranges": ranges}
        assert (await ana.request(frame))["code"] == "bad_request"
    missing = {"type": "mask", "ticket": ticket, "seq": 99, "ranges": [[0, 1]]}
    assert (await ana.request(missing))["code"] == "not_found"
    for c in (v, again, ana):
        await c.close()


async def _stored_text(desk, ticket: int) -> str:
    """Every stored body and field of a ticket's events, read from the database itself."""
    backend = desk.backend
    if backend.database_url:
        conn = await asyncpg.connect(backend.database_url.replace("+asyncpg", ""))
        try:
            rows = await conn.fetch(
                "SELECT body, data::text AS data FROM events WHERE ticket_id=$1", ticket
            )
        finally:
            await conn.close()
        return " ".join(f"{r['body']} {r['data']}" for r in rows)
    db = sqlite3.connect(backend.data_dir / "chatdesk.db")
    try:
        rows = db.execute("SELECT body, data FROM events WHERE ticket_id=?", (ticket,)).fetchall()
    finally:
        db.close()
    return " ".join(f"{b} {d}" for b, d in rows)


async def test_two_agents_see_labels_and_status_live(desk, tokens):
    v, ana, ticket = await _claimed(desk, tokens)
    bo = await agent(desk, tokens["bo"])
    await bo.ok({"type": "watch", "ticket": ticket})
    await ana.ok({"type": "labels", "ticket": ticket, "add": ["billing"]})
    assert (await bo.event(ticket, "labels"))["added"] == ["billing"]
    queue = await bo.push(lambda f: f["type"] == "queue" and f["ticket"]["labels"] == ["billing"])
    assert queue["ticket"]["id"] == ticket
    await ana.ok({"type": "status", "ticket": ticket, "to": "pending"})
    assert (await bo.event(ticket, "status"))["to"] == "pending"
    for c in (v, ana, bo):
        await c.close()
