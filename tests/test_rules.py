"""Triggers, round robin, business hours and auto-close (contract section 9), over real servers."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chatdesk.services.business_hours import open_at
from chatdesk.services.routing import pick
from tests.client import TIMEOUT, agent, visitor
from tests.servers import Server


def cid() -> str:
    return uuid.uuid4().hex


def uid() -> str:
    return uuid.uuid4().hex[:8]


def call(desk, method: str, path: str, token: str, **kw) -> httpx.Response:
    return httpx.request(
        method, desk.url + path, headers={"Authorization": f"Bearer {token}"}, **kw
    )


def events(desk, token: str, ticket: int) -> list[dict[str, Any]]:
    r = call(desk, "GET", f"/api/v1/tickets/{ticket}/events", token)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def until(check, what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``check`` (a function returning a truthy value when done) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = check()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def timeline_with(desk, token: str, ticket: int, kind: str) -> list[dict[str, Any]]:
    """The ticket's events once one of ``kind`` is among them (automation runs after commit)."""

    def found() -> list[dict[str, Any]] | None:
        timeline = events(desk, token, ticket)
        return timeline if any(e["kind"] == kind for e in timeline) else None

    return await until(found, f"a {kind} event on ticket {ticket}")


async def new_chat(desk, body: str, email: str | None = None, site: str | None = None):
    v = await visitor(desk, site=site)
    if email is not None:
        await v.ok({"type": "profile", "email": email})
    sent = await v.ok({"type": "message", "client_msg_id": cid(), "body": body})
    return v, sent["ticket"]


def add_agent(desk, admin: str, name: str) -> tuple[int, str]:
    email = f"{name.lower()}-{uid()}@example.com"
    body = {"email": email, "name": name, "password": "agent-password", "role": "agent"}
    created = call(desk, "POST", "/api/v1/agents", admin, json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"], desk.login(email, "agent-password")


# --------------------------------------------------------------------------- triggers


async def test_trigger_assigns_by_email_domain_and_adds_a_label(desk, tokens):
    admin = tokens["admin"]
    tag = uid()
    domain = f"acme-{tag}.example"
    group = call(desk, "POST", "/api/v1/groups", admin, json={"name": f"Acme {tag}"}).json()
    trigger = {
        "name": f"Acme customers {tag}",
        "on": "ticket_created",
        "conditions": [{"field": "email_domain", "op": "is", "value": domain.upper()}],
        "actions": [
            {"type": "assign_group", "value": group["id"]},
            {"type": "add_labels", "value": [f"Acme-{tag}"]},
        ],
    }
    created = call(desk, "POST", "/api/v1/triggers", admin, json=trigger)
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["active"] is True and made["actions"][1]["value"] == [f"acme-{tag}"]
    ana = await agent(desk, tokens["ana"])

    # The other visitor writes first: the same process evaluates events in commit
    # order, so once the Acme chat is labelled, this one has been judged too.
    other, other_ticket = await new_chat(desk, "hello", email=f"kim@other-{tag}.example")
    acme, ticket = await new_chat(desk, "we need help", email=f"lee@{domain}")
    queued = await ana.push(
        lambda f: f["type"] == "queue" and f["ticket"]["id"] == ticket and f["ticket"]["labels"]
    )
    assert queued["ticket"]["labels"] == [f"acme-{tag}"]
    shown = call(desk, "GET", f"/api/v1/tickets/{ticket}", admin).json()
    assert shown["group"]["id"] == group["id"] and shown["status"] == "new"
    timeline = await timeline_with(desk, admin, ticket, "system")
    system = [e for e in timeline if e["kind"] == "system"]
    assert len(system) == 1
    why = system[0]
    assert why["author"]["type"] == "system" and why["visibility"] == "internal"
    assert why["trigger"] == {"id": made["id"], "name": made["name"]}
    assert [a["type"] for a in why["actions"]] == ["assign_group", "add_labels"]
    assert all("error" not in a for a in why["actions"])
    by_system = [e for e in timeline if e["kind"] in ("assigned", "labels")]
    assert {e["author"]["type"] for e in by_system} == {"system"}
    # The visitor never sees any of it.
    assert not [p for p in acme.pushes if p.get("event", {}).get("visibility") == "internal"]
    untouched = call(desk, "GET", f"/api/v1/tickets/{other_ticket}", admin).json()
    assert untouched["labels"] == [] and untouched["group"] is None
    assert not [e for e in events(desk, admin, other_ticket) if e["kind"] == "system"]

    # A message on the same ticket is no ticket_created: the trigger does not run again.
    await acme.ok({"type": "message", "client_msg_id": cid(), "body": "still there?"})
    assert call(desk, "DELETE", f"/api/v1/triggers/{made['id']}", admin).status_code == 204
    assert call(desk, "GET", f"/api/v1/triggers/{made['id']}", admin).status_code == 404
    for c in (ana, other, acme):
        await c.close()


async def test_message_trigger_assigns_an_agent_sets_priority_and_sends_canned(desk, tokens):
    admin = tokens["admin"]
    tag = uid()
    canned = call(
        desk, "POST", "/api/v1/canned", admin,
        json={"scope": "company", "shortcut": f"/t{tag}", "title": "ack",
              "body": "We are on it, ticket {{ticket.id}}."},
    )  # fmt: skip
    assert canned.status_code == 201, canned.text
    ana_id = call(desk, "GET", "/api/v1/agents", admin).json()["items"]
    ana_id = next(a["id"] for a in ana_id if a["email"] == "ana@example.com")
    trigger = call(
        desk, "POST", "/api/v1/triggers", admin,
        json={"name": f"urgent {tag}", "on": "message_created",
              "conditions": [{"field": "first_message", "op": "contains", "value": f"URGENT-{tag}"},
                             {"field": "page_url", "op": "not_contains", "value": "/ignore"}],
              "actions": [{"type": "set_priority", "value": "urgent"},
                          {"type": "assign_agent", "value": ana_id},
                          {"type": "send_canned", "value": canned.json()["id"]}]},
    ).json()  # fmt: skip
    v, ticket = await new_chat(desk, f"this is urgent-{tag}, please")
    reply = await v.event(ticket, "message", author="system")
    assert reply["body"] == f"We are on it, ticket {ticket}."
    shown = call(desk, "GET", f"/api/v1/tickets/{ticket}", admin).json()
    assert shown["priority"] == "urgent" and shown["assignee"]["id"] == ana_id
    assert shown["status"] == "open"
    system = [
        e for e in await timeline_with(desk, admin, ticket, "system") if e["kind"] == "system"
    ]
    assert [a["type"] for a in system[0]["actions"]] == [
        "set_priority",
        "assign_agent",
        "send_canned",
    ]
    assert system[0]["on"] == "message_created"
    # Deactivated, it no longer runs; PATCH changes only what it names.
    patched = call(
        desk, "PATCH", f"/api/v1/triggers/{trigger['id']}", admin, json={"active": False}
    )
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert patched.json()["actions"] == trigger["actions"]
    assert call(desk, "DELETE", f"/api/v1/triggers/{trigger['id']}", admin).status_code == 204
    await v.close()


async def test_bad_triggers_are_refused_and_change_nothing(desk, tokens):
    admin = tokens["admin"]
    good = {
        "name": "ok",
        "on": "ticket_created",
        "conditions": [{"field": "language", "op": "is", "value": "de"}],
        "actions": [{"type": "set_priority", "value": "high"}],
    }
    before = call(desk, "GET", "/api/v1/triggers", admin).json()["items"]
    bad_requests = [
        {**good, "on": "ticket_updated"},
        {**good, "conditions": [{"field": "mood", "op": "is", "value": "x"}]},
        {**good, "conditions": [{"field": "language", "op": "matches", "value": "x"}]},
        {**good, "conditions": [{"field": "language", "op": "is", "value": ""}]},
        {**good, "conditions": [{"field": "language", "op": "is"}]},
        {**good, "conditions": [{"field": "business_hours", "op": "contains", "value": "open"}]},
        {**good, "conditions": [{"field": "business_hours", "op": "is", "value": "maybe"}]},
        {**good, "conditions": "language is de"},
        {**good, "actions": []},
        {**good, "actions": [{"type": "delete_ticket", "value": 1}]},
        {**good, "actions": [{"type": "set_priority", "value": "asap"}]},
        {**good, "actions": [{"type": "assign_group", "value": "sales"}]},
        {**good, "actions": [{"type": "add_labels", "value": []}]},
        {**good, "active": "yes"},
        {**good, "position": 1.5},
        {**good, "name": ""},
        {key: v for key, v in good.items() if key != "actions"},
    ]
    for body in bad_requests:
        r = call(desk, "POST", "/api/v1/triggers", admin, json=body)
        assert r.status_code == 400 and r.json()["code"] == "bad_request", (body, r.text)
    for action in (
        {"type": "assign_group", "value": 999999},
        {"type": "send_canned", "value": 999999},
    ):
        r = call(desk, "POST", "/api/v1/triggers", admin, json={**good, "actions": [action]})
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert call(desk, "POST", "/api/v1/triggers", tokens["ana"], json=good).status_code == 403
    assert call(desk, "GET", "/api/v1/triggers", tokens["ana"]).status_code == 403
    assert httpx.get(desk.url + "/api/v1/triggers").status_code == 401
    assert call(desk, "GET", "/api/v1/triggers", admin).json()["items"] == before

    made = call(desk, "POST", "/api/v1/triggers", admin, json={**good, "active": False}).json()
    for body in ({}, {"on": "never"}, {"actions": [{"type": "set_priority"}]}):
        r = call(desk, "PATCH", f"/api/v1/triggers/{made['id']}", admin, json=body)
        assert r.status_code == 400
    assert call(desk, "GET", f"/api/v1/triggers/{made['id']}", admin).json() == made
    assert call(desk, "PATCH", "/api/v1/triggers/999999", admin, json=good).status_code == 404
    assert call(desk, "DELETE", "/api/v1/triggers/abc", admin).status_code == 400
    assert call(desk, "DELETE", f"/api/v1/triggers/{made['id']}", admin).status_code == 204


async def test_triggers_list_in_position_order(desk, tokens):
    admin = tokens["admin"]
    base = {"on": "message_created", "active": False}
    action = [{"type": "set_priority", "value": "low"}]
    late = call(
        desk, "POST", "/api/v1/triggers", admin,
        json={**base, "name": "late", "position": 1000, "actions": action},
    ).json()  # fmt: skip
    early = call(
        desk, "POST", "/api/v1/triggers", admin,
        json={**base, "name": "early", "position": -1000, "actions": action},
    ).json()  # fmt: skip
    ids = [t["id"] for t in call(desk, "GET", "/api/v1/triggers", admin).json()["items"]]
    assert ids.index(early["id"]) < ids.index(late["id"])
    for t in (early, late):
        call(desk, "DELETE", f"/api/v1/triggers/{t['id']}", admin)


# --------------------------------------------------------------------------- round robin


def test_pick_rotates_after_the_last_assigned_member():
    assert pick([3, 1, 2], {1, 2, 3}, None) == 1
    assert pick([1, 2, 3], {1, 2, 3}, 1) == 2
    assert pick([1, 2, 3], {1, 3}, 1) == 3  # 2 is full or away: skipped
    assert pick([1, 2, 3], {1, 2}, 3) == 1  # wraps around
    assert pick([1, 2, 3], set(), 1) is None


async def test_round_robin_skips_a_full_agent_and_an_offline_one(desk, tokens):
    admin = tokens["admin"]
    tag = uid()
    full_id, full_token = add_agent(desk, admin, "Rita")
    free_id, free_token = add_agent(desk, admin, "Sam")
    away_id, _ = add_agent(desk, admin, "Tom")  # never connects: offline
    group = call(
        desk, "POST", "/api/v1/groups", admin,
        json={"name": f"Rotation {tag}", "agents": [full_id, free_id, away_id],
              "round_robin": True, "max_open_per_agent": 1},
    )  # fmt: skip
    assert group.status_code == 201, group.text
    assert group.json()["round_robin"] is True and group.json()["max_open_per_agent"] == 1
    gid = group.json()["id"]
    rita = await agent(desk, full_token)
    sam = await agent(desk, free_token)
    boss = await agent(desk, admin)
    busy, busy_ticket = await new_chat(desk, "rita's own chat")
    await rita.ok({"type": "claim", "ticket": busy_ticket})  # Rita is now at her cap

    first, t1 = await new_chat(desk, "first in the queue")
    await boss.ok({"type": "transfer", "ticket": t1, "group": gid})
    queued = await sam.push(
        lambda f: f["type"] == "queue" and f["ticket"]["id"] == t1 and f["ticket"]["assignee"]
    )
    assert queued["ticket"]["assignee"]["id"] == free_id
    assert queued["ticket"]["status"] == "open"
    why = [e for e in events(desk, admin, t1) if e["kind"] == "system"]
    assert why and why[-1]["source"] == "routing" and why[-1]["assignee"]["id"] == free_id

    # Everybody online is full now: the next two chats wait in New, in order.
    second, t2 = await new_chat(desk, "second")
    await boss.ok({"type": "transfer", "ticket": t2, "group": gid})
    third, t3 = await new_chat(desk, "third")
    await boss.ok({"type": "transfer", "ticket": t3, "group": gid})
    # Sam solves: room frees up and the oldest waiting chat (t2) goes to Sam.
    await sam.ok({"type": "status", "ticket": t1, "to": "solved"})
    routed = await sam.push(
        lambda f: f["type"] == "queue" and f["ticket"]["id"] == t2 and f["ticket"]["assignee"]
    )
    assert routed["ticket"]["assignee"]["id"] == free_id
    solved_at = next(
        e["at"] for e in events(desk, admin, t1) if e["kind"] == "status" and e["to"] == "solved"
    )
    assigned = [e for e in events(desk, admin, t2) if e["kind"] == "assigned"]
    assert [a["assignee"] and a["assignee"]["id"] for a in assigned] == [None, free_id]
    assert assigned[-1]["at"] >= solved_at  # it had waited until room was made
    third_now = call(desk, "GET", f"/api/v1/tickets/{t3}", admin).json()
    assert third_now["status"] == "new" and third_now["assignee"] is None
    assert call(desk, "GET", f"/api/v1/tickets/{t2}", admin).json()["group"]["id"] == gid

    bad = [
        {"round_robin": "yes"},
        {"max_open_per_agent": 0},
        {"max_open_per_agent": "2"},
        {"max_open_per_agent": True},
    ]
    for body in bad:
        r = call(desk, "PATCH", f"/api/v1/groups/{gid}", admin, json=body)
        assert r.status_code == 400 and r.json()["code"] == "bad_request"
    off = call(desk, "PATCH", f"/api/v1/groups/{gid}", admin, json={"round_robin": False})
    assert off.json()["round_robin"] is False and off.json()["max_open_per_agent"] == 1
    for c in (rita, sam, boss, busy, first, second, third):
        await c.close()


# --------------------------------------------------------------------------- business hours


def test_open_at_follows_the_sites_wall_clock():
    hours = {"timezone": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}}
    # Monday 2025-03-31 07:30 UTC is 09:30 in Berlin (summer time): open.
    assert open_at(hours, datetime(2025, 3, 31, 7, 30, tzinfo=UTC)) is True
    # Monday 2025-03-24 07:30 UTC is 08:30 in Berlin (winter time): not yet.
    assert open_at(hours, datetime(2025, 3, 24, 7, 30, tzinfo=UTC)) is False
    assert open_at(hours, datetime(2025, 4, 1, 8, 0, tzinfo=UTC)) is False  # Tuesday: closed
    assert open_at(None) is True
    assert open_at({"timezone": "UTC", "days": {"sun": [["00:00", "24:00"]]}},
                   datetime(2025, 3, 30, 23, 59, tzinfo=UTC)) is True  # fmt: skip


async def test_outside_business_hours_welcome_says_closed_and_the_message_is_a_ticket(desk, tokens):
    admin = tokens["admin"]
    tag = uid()
    closed = call(
        desk, "POST", "/api/v1/sites", admin,
        json={"name": f"Closed {tag}", "business_hours": {"timezone": "Europe/Berlin", "days": {}}},
    )  # fmt: skip
    assert closed.status_code == 201, closed.text
    site = closed.json()
    assert site["business_hours"] == {"timezone": "Europe/Berlin", "days": {}}
    always = {"timezone": "UTC", "days": {d: [["00:00", "24:00"]] for d in
              ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}  # fmt: skip
    open_site = call(
        desk, "POST", "/api/v1/sites", admin, json={"name": f"Open {tag}", "business_hours": always}
    ).json()
    trigger = call(
        desk, "POST", "/api/v1/triggers", admin,
        json={"name": f"after hours {tag}", "on": "ticket_created",
              "conditions": [{"field": "site", "op": "is", "value": site["id"]},
                             {"field": "business_hours", "op": "is", "value": "closed"}],
              "actions": [{"type": "add_labels", "value": [f"after-hours-{tag}"]}]},
    )  # fmt: skip
    assert trigger.status_code == 201, trigger.text
    ana = await agent(desk, tokens["ana"])

    v = await visitor(desk, site=site["key"])
    assert v.welcome["type"] == "welcome" and v.welcome["open_now"] is False
    sent = await v.ok({"type": "message", "client_msg_id": cid(), "body": "anyone there?"})
    queued = await ana.push(
        lambda f: f["type"] == "queue" and f["ticket"]["id"] == sent["ticket"]
        and f["ticket"]["labels"]
    )  # fmt: skip
    assert queued["ticket"]["status"] == "new"
    assert queued["ticket"]["labels"] == [f"after-hours-{tag}"]
    w = await visitor(desk, site=open_site["key"])
    assert w.welcome["open_now"] is True
    plain = await visitor(desk)  # a site without hours is always open
    assert plain.welcome["open_now"] is True

    bad_hours = [
        "9 to 5",
        {"timezone": "Mars/Olympus_Mons", "days": {}},
        {"timezone": "UTC", "days": {"funday": [["09:00", "17:00"]]}},
        {"timezone": "UTC", "days": {"mon": [["17:00", "09:00"]]}},
        {"timezone": "UTC", "days": {"mon": [["9:00", "17:00"]]}},
        {"timezone": "UTC", "days": {"mon": [["09:00", "25:00"]]}},
        {"timezone": "UTC", "days": {"mon": ["09:00-17:00"]}},
        {"timezone": "UTC"},
        {"timezone": "UTC", "days": {}, "holidays": []},
    ]
    for hours in bad_hours:
        r = call(desk, "PATCH", f"/api/v1/sites/{site['id']}", admin,
                 json={"business_hours": hours})  # fmt: skip
        assert r.status_code == 400 and r.json()["code"] == "bad_request", (hours, r.text)
    sites = call(desk, "GET", "/api/v1/sites", admin).json()["items"]
    assert (
        next(s for s in sites if s["id"] == site["id"])["business_hours"] == site["business_hours"]
    )
    reopened = call(
        desk, "PATCH", f"/api/v1/sites/{site['id']}", admin, json={"business_hours": None}
    )
    assert reopened.status_code == 200 and reopened.json()["business_hours"] is None
    again = await visitor(desk, site=site["key"])
    assert again.welcome["open_now"] is True
    call(desk, "DELETE", f"/api/v1/triggers/{trigger.json()['id']}", admin)
    for c in (ana, v, w, plain, again):
        await c.close()


# --------------------------------------------------------------------------- auto-close


@pytest.fixture(scope="module", params=["sqlite+redis", "postgres"])
def pair(request, make_backend):
    """Two processes on one database, each running the auto-close job every second."""
    backend = make_backend(request.param, f"autoclose-{request.param.replace('+', '-')}")
    backend = dataclasses.replace(backend, extra={"CHATDESK_AUTOCLOSE_CHECK_S": "1"})
    a = Server(backend).start()
    b = Server(backend).start()
    b.site_key, b.admin_password = a.site_key, a.admin_password
    yield a, b
    a.stop()
    b.stop()


async def backdate(backend, tickets: list[int]) -> None:
    """Make solved tickets look solved 30 days ago, straight in the database."""
    if backend.database_url is None:
        with sqlite3.connect(backend.data_dir / "chatdesk.db", timeout=30) as db:
            db.execute(
                "UPDATE tickets SET updated_at = '2000-01-01 00:00:00.000000' "
                f"WHERE id IN ({','.join('?' * len(tickets))})",
                tickets,
            )
        return
    import asyncpg

    conn = await asyncpg.connect(backend.database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(
            "UPDATE tickets SET updated_at = now() - interval '30 days' WHERE id = ANY($1)",
            tickets,
        )
    finally:
        await conn.close()


async def test_two_processes_auto_close_each_ticket_once(pair):
    a, b = pair
    token = a.login()
    boss = await agent(a, token)
    chats = []
    for i in range(6):
        v, ticket = await new_chat(a if i % 2 else b, f"chat {i}")
        await boss.ok({"type": "claim", "ticket": ticket})
        await boss.ok({"type": "status", "ticket": ticket, "to": "solved"})
        chats.append((v, ticket))
    old = [t for _, t in chats[:5]]
    kept = chats[5][1]  # solved just now: stays solved
    await backdate(a.backend, old)

    def all_closed():
        return all(call(a, "GET", f"/api/v1/tickets/{t}", token).json()["status"] == "closed"
                   for t in old)  # fmt: skip

    await until(all_closed, "the auto-close job", timeout=max(TIMEOUT, 20))
    for ticket in old:
        timeline = events(b, token, ticket)
        closes = [e for e in timeline if e["kind"] == "status" and e["to"] == "closed"]
        assert len(closes) == 1 and closes[0]["author"]["type"] == "system"
        notes = [e for e in timeline if e["kind"] == "system"]
        assert len(notes) == 1 and notes[0]["source"] == "autoclose"
    assert call(a, "GET", f"/api/v1/tickets/{kept}", token).json()["status"] == "solved"
    # Closed is final: the visitor's next message starts a new ticket linked to it.
    v, ticket = chats[0]
    again = await v.ok({"type": "message", "client_msg_id": cid(), "body": "me again"})
    assert again["ticket"] != ticket
    await boss.close()
    for v, _ in chats:
        await v.close()
