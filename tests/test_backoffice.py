"""Back-office and tracker tickets, and the contact-centre ticket management of section 8."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.client import agent, visitor
from tests.servers import Server


def cid() -> str:
    return uuid.uuid4().hex


def call(desk, method: str, path: str, token: str, **kw) -> httpx.Response:
    return httpx.request(
        method, desk.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw
    )


def ticket_type(desk, tokens, kind: str = "backoffice") -> dict:
    body = {
        "name": f"Billing {uuid.uuid4().hex[:6]}",
        "kind": kind,
        "attributes": [
            {"key": "invoice", "label": "Invoice", "type": "text", "required": True},
            {"key": "amount", "label": "Amount", "type": "number", "required": False},
            {"key": "area", "label": "Area", "type": "choice", "required": False,
             "choices": ["eu", "us"]},
        ],
    }  # fmt: skip
    r = call(desk, "POST", "/api/v1/ticket-types", tokens["admin"], json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def chat(desk, tokens, body="my invoice is wrong"):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": body}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    return v, ana, ticket


async def test_backoffice_ticket_needs_its_required_attributes(desk, tokens):
    v, ana, chat_id = await chat(desk, tokens)
    ttype = ticket_type(desk, tokens)
    base = {"kind": "backoffice", "type": ttype["id"], "title": "Refund", "links": [chat_id]}
    missing = call(desk, "POST", "/api/v1/tickets", tokens["ana"], json=base)
    assert missing.status_code == 400 and missing.json()["code"] == "bad_request"
    assert "invoice" in missing.json()["detail"].lower()
    for bad in ({"invoice": "A1", "amount": "ten"}, {"invoice": "A1", "area": "mars"},
                {"invoice": "A1", "nope": 1}):  # fmt: skip
        r = call(desk, "POST", "/api/v1/tickets", tokens["ana"], json={**base, "attributes": bad})
        assert r.status_code == 400, bad
    listed = desk.get("/api/v1/tickets", tokens["ana"], kind="backoffice", title="Refund")
    assert all(t["links"] == [] or chat_id not in [lk["ticket"] for lk in t["links"]]
               for t in listed.json()["items"])  # fmt: skip
    made = call(
        desk, "POST", "/api/v1/tickets", tokens["ana"],
        json={**base, "attributes": {"invoice": "A1", "amount": 12.5},
              "description": "**Customer** says the *invoice* is wrong"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    bo = made.json()
    assert bo["kind"] == "backoffice" and bo["status_label"] == "submitted"
    assert bo["attributes"] == {"invoice": "A1", "amount": 12.5}
    assert "<strong>Customer</strong>" in bo["description_html"]
    assert [lk["ticket"] for lk in bo["links"]] == [chat_id]
    shown = desk.get(f"/api/v1/tickets/{chat_id}", tokens["ana"]).json()
    assert shown["links"][0] == {
        "ticket": bo["id"], "kind": "backoffice", "status": "new",
        "status_label": "submitted", "title": "Refund",
    }  # fmt: skip
    linked = await ana.event(chat_id, "linked")
    assert linked["other"] == bo["id"] and linked["relation"] == "backoffice"
    # Back-office tickets carry internal notes only.
    send = {"type": "send", "ticket": bo["id"], "client_msg_id": cid(), "body": "hi"}
    assert (await ana.request(send))["code"] == "conflict"
    for c in (v, ana):
        await c.close()


async def test_cross_posted_note_and_live_state_on_the_linked_chat(desk, tokens):
    v, ana, chat_id = await chat(desk, tokens)
    ttype = ticket_type(desk, tokens)
    bo = call(
        desk, "POST", "/api/v1/tickets", tokens["ana"],
        json={"kind": "backoffice", "type": ttype["id"], "title": "Check invoice",
              "attributes": {"invoice": "B7"}, "links": [chat_id]},
    ).json()  # fmt: skip
    bo_id = bo["id"]
    note = {"type": "note", "ticket": bo_id, "client_msg_id": cid(), "cross_post": True}
    reply = await ana.ok({**note, "body": "Billing confirms: CROSS-NOTE"})
    assert reply["ticket"] == bo_id
    copied = await ana.event(chat_id, "note")
    assert copied["body"] == "Billing confirms: CROSS-NOTE"
    assert copied["cross_posted_from"] == bo_id
    events = desk.get(f"/api/v1/tickets/{bo_id}/events", tokens["ana"]).json()["items"]
    original = next(e for e in events if e["kind"] == "note")
    assert original["cross_posted_to"] == [chat_id]
    # A customer chat cannot cross-post.
    bad = {**note, "ticket": chat_id, "client_msg_id": cid(), "body": "x"}
    assert (await ana.request(bad))["code"] == "bad_request"

    await ana.ok({"type": "status", "ticket": bo_id, "to": "open"})
    moved = await ana.event(chat_id, "linked_status")
    assert moved["other"] == bo_id and moved["to"] == "open"
    assert moved["status_label"] == "in progress"
    await ana.ok({"type": "status", "ticket": bo_id, "to": "solved"})
    assert (await ana.event(chat_id, "linked_status"))["status_label"] == "resolved"

    again = await visitor(desk, token=v.welcome["visitor_token"], after_seq=0)
    synced = await again.ok({"type": "sync", "after_seq": 0})
    seen = str(again.welcome) + str(synced) + str(v.pushes)
    assert "CROSS-NOTE" not in seen and "linked_status" not in seen and "Billing" not in seen
    for c in (v, again, ana):
        await c.close()


async def test_tracker_solves_every_linked_chat_with_one_reply(desk, tokens):
    chats = [await chat(desk, tokens, body=f"outage {i}") for i in range(3)]
    ttype = ticket_type(desk, tokens, kind="tracker")
    tracker = call(
        desk, "POST", "/api/v1/tickets", tokens["ana"],
        json={"kind": "tracker", "type": ttype["id"], "title": "Outage",
              "attributes": {"invoice": "-"}, "links": [c[2] for c in chats]},
    ).json()  # fmt: skip
    ana = chats[0][1]
    await ana.ok({"type": "status", "ticket": tracker["id"], "to": "open"})
    await ana.ok(
        {"type": "status", "ticket": tracker["id"], "to": "solved",
         "reply": {"body": "Fixed now, sorry!"}}
    )  # fmt: skip
    for v, _, ticket in chats:
        assert (await v.event(ticket, "message", author="agent"))["body"] == "Fixed now, sorry!"
        shown = desk.get(f"/api/v1/tickets/{ticket}", tokens["admin"]).json()
        assert shown["status"] == "solved"
    for v, a, _ in chats:
        await v.close()
        await a.close()


async def test_spam_box_restore_and_delete(desk, tokens):
    v, ana, ticket = await chat(desk, tokens)
    await ana.ok({"type": "status", "ticket": ticket, "to": "spam"})
    shown = desk.get(f"/api/v1/tickets/{ticket}", tokens["ana"]).json()
    assert shown["status"] == "spam" and shown["resolve_reason"] == "spam"
    for frame in (
        {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "x"},
        {"type": "transfer", "ticket": ticket, "agent": ana.welcome["agent"]["id"]},
        {"type": "claim", "ticket": ticket},
    ):
        assert (await ana.request(frame))["code"] == "conflict", frame
    # A spammer's frames are accepted and dropped.
    dropped = await v.ok({"type": "message", "client_msg_id": cid(), "body": "buy now"})
    assert dropped["seq"] is None
    spam = desk.get("/api/v1/tickets", tokens["ana"], status="spam").json()["items"]
    assert ticket in [t["id"] for t in spam]
    await ana.ok({"type": "restore", "ticket": ticket})
    assert desk.get(f"/api/v1/tickets/{ticket}", tokens["ana"]).json()["status"] == "open"
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "back"})
    assert call(desk, "DELETE", f"/api/v1/tickets/{ticket}", tokens["admin"]).status_code == 409
    await ana.ok({"type": "status", "ticket": ticket, "to": "spam"})
    assert call(desk, "DELETE", f"/api/v1/tickets/{ticket}", tokens["ana"]).status_code == 403
    assert call(desk, "DELETE", f"/api/v1/tickets/{ticket}", tokens["admin"]).status_code == 204
    assert desk.get(f"/api/v1/tickets/{ticket}", tokens["admin"]).status_code == 404
    for c in (v, ana):
        await c.close()


async def test_resolve_internally_with_a_reason(desk, tokens):
    v, ana, ticket = await chat(desk, tokens)
    bad = {"type": "status", "ticket": ticket, "to": "solved", "reason": "bored"}
    assert (await ana.request(bad))["code"] == "bad_request"
    await ana.ok({"type": "status", "ticket": ticket, "to": "solved", "reason": "via_call"})
    shown = desk.get(f"/api/v1/tickets/{ticket}", tokens["ana"]).json()
    assert shown["resolve_reason"] == "via_call"
    found = desk.get("/api/v1/tickets", tokens["ana"], resolve_reason="via_call").json()["items"]
    assert ticket in [t["id"] for t in found]
    # Nothing was sent to the customer but the status.
    await v.quiet(0.3)
    assert not [p for p in v.pushes if p["type"] == "event" and p["event"]["kind"] == "message"
                and p["event"]["author"]["type"] == "agent"]  # fmt: skip
    for c in (v, ana):
        await c.close()


async def test_closed_ticket_refuses_every_change(desk, tokens):
    v, ana, ticket = await chat(desk, tokens)
    admin = await agent(desk, tokens["admin"])
    await ana.ok({"type": "status", "ticket": ticket, "to": "solved"})
    await admin.ok({"type": "status", "ticket": ticket, "to": "closed"})
    for frame in (
        {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "x"},
        {"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": "x"},
        {"type": "status", "ticket": ticket, "to": "open"},
        {"type": "labels", "ticket": ticket, "add": ["x"]},
        {"type": "mask", "ticket": ticket, "seq": 1, "ranges": [[0, 1]]},
        {"type": "transfer", "ticket": ticket, "agent": admin.welcome["agent"]["id"]},
    ):
        assert (await admin.request(frame))["code"] == "conflict", frame
    r = call(desk, "PATCH", f"/api/v1/tickets/{ticket}", tokens["admin"], json={"title": "x"})
    assert r.status_code == 409
    # The visitor writing again starts a new ticket linked to the closed one.
    new = await v.ok({"type": "message", "client_msg_id": cid(), "body": "me again"})
    assert new["ticket"] != ticket
    follow = desk.get(f"/api/v1/tickets/{new['ticket']}", tokens["admin"]).json()
    assert follow["follow_up_of"] == ticket
    for c in (v, ana, admin):
        await c.close()


async def test_banned_words_refused_unless_forced_and_preview(desk, tokens):
    word = f"darn{uuid.uuid4().hex[:4]}"
    r = call(desk, "POST", "/api/v1/banned-words", tokens["admin"], json={"word": word})
    assert r.status_code == 201
    assert (
        call(desk, "POST", "/api/v1/banned-words", tokens["ana"], json={"word": "x"}).status_code
        == 403
    )
    v, ana, ticket = await chat(desk, tokens)
    send = {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": f"Oh {word.upper()}!"}
    refused = await ana.request(dict(send))
    assert refused["code"] == "bad_request" and refused["word"] == word
    forced = await ana.ok({**send, "client_msg_id": cid(), "force": True})
    assert forced["seq"]
    ok_word = await ana.ok({**send, "client_msg_id": cid(), "body": f"{word}s are fine"})
    assert ok_word["seq"]
    await v.ok({"type": "profile", "name": "Kim"})
    preview = call(
        desk, "POST", f"/api/v1/tickets/{ticket}/preview", tokens["ana"],
        json={"body": "Hi {{customer.name}}, {{agent.name}} here. " + word},
    ).json()  # fmt: skip
    assert preview["body"].startswith("Hi Kim, Ana here.") and preview["banned_word"] == word
    for c in (v, ana):
        await c.close()


async def test_unmask_restores_exactly_and_is_admin_only(desk, tokens):
    secret = "IBAN DE44 5001 0517 5407 3249 31"
    v, ana, ticket = await chat(desk, tokens, body=f"pay to {secret} please")
    start = len("pay to ")
    await ana.ok(
        {"type": "mask", "ticket": ticket, "seq": 1, "ranges": [[start, start + len(secret)]]}
    )
    events = desk.get(f"/api/v1/tickets/{ticket}/events", tokens["admin"]).json()["items"]
    assert secret not in str(events)
    from tests.test_team import _stored_text

    assert "5407" not in await _stored_text(desk, ticket)
    unmask = {"type": "unmask", "ticket": ticket, "seq": 1}
    assert (await ana.request(dict(unmask)))["code"] == "forbidden"
    admin = await agent(desk, tokens["admin"])
    await admin.ok(dict(unmask))
    events = desk.get(f"/api/v1/tickets/{ticket}/events", tokens["admin"]).json()["items"]
    assert events[0]["body"] == f"pay to {secret} please"
    kinds = [e["kind"] for e in events]
    assert "masked" in kinds and "unmasked" in kinds
    assert (await admin.request(dict(unmask)))["code"] == "conflict"
    for c in (v, ana, admin):
        await c.close()


async def test_bulk_over_100_tickets_is_all_or_nothing(desk, tokens):
    ana = await agent(desk, tokens["ana"])
    bo = await agent(desk, tokens["bo"])
    ids = []
    for i in range(101):
        v = await visitor(desk)
        t = (await v.ok({"type": "message", "client_msg_id": cid(), "body": f"b{i}"}))["ticket"]
        ids.append(t)
        await v.close()
    for t in ids[:100]:
        await ana.ok({"type": "claim", "ticket": t})
    await bo.ok({"type": "claim", "ticket": ids[100]})  # the one Ana may not change
    r = call(
        desk, "POST", "/api/v1/tickets/bulk", tokens["ana"],
        json={"ids": ids, "set": {"priority": "high", "add_labels": ["bulk"]}},
    )  # fmt: skip
    assert r.status_code == 409, r.text
    assert r.json()["failed"] == [{"id": ids[100], "code": "forbidden"}]
    for t in (ids[0], ids[50], ids[99]):
        shown = desk.get(f"/api/v1/tickets/{t}", tokens["ana"]).json()
        assert shown["priority"] == "normal" and shown["labels"] == []
    ok = call(
        desk, "POST", "/api/v1/tickets/bulk", tokens["ana"],
        json={"ids": ids[:100], "set": {"priority": "high", "add_labels": ["bulk"]}},
    )  # fmt: skip
    assert ok.status_code == 200 and len(ok.json()["items"]) == 100
    assert all(t["priority"] == "high" and t["labels"] == ["bulk"] for t in ok.json()["items"])
    events = desk.get(f"/api/v1/tickets/{ids[7]}/events", tokens["ana"]).json()["items"]
    assert [e["kind"] for e in events][-2:] == ["updated", "labels"]
    bad = call(desk, "POST", "/api/v1/tickets/bulk", tokens["ana"], json={"ids": [], "set": {}})
    assert bad.status_code == 400
    await ana.close()
    await bo.close()


async def test_ticket_by_hand_patch_and_search_fields(desk, tokens):
    phone = "+49 30 1234567"
    r = call(
        desk, "POST", "/api/v1/tickets", tokens["ana"],
        json={"kind": "customer", "title": "Called about delivery", "channel": "phone",
              "customer": {"name": "Pat", "phone": phone}, "body": "Where is my parcel?",
              "priority": "high", "assignee": 2},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    t = r.json()
    assert (
        t["channel"] == "phone" and t["status"] == "open" and t["title"] == "Called about delivery"
    )
    for bad in ({"kind": "customer", "title": "x", "channel": "fax", "customer": {"name": "a"},
                 "body": "b"},
                {"kind": "customer", "title": "x", "channel": "phone", "customer": {}, "body": "b"},
                {"kind": "customer", "channel": "phone", "customer": {"name": "a"}, "body": "b"},
                {"kind": "backoffice", "title": "x"}):  # fmt: skip
        assert call(desk, "POST", "/api/v1/tickets", tokens["ana"], json=bad).status_code == 400
    found = desk.get("/api/v1/tickets", tokens["ana"], phone="1234567", channel="phone").json()
    assert t["id"] in [x["id"] for x in found["items"]]
    assert [
        x["id"] for x in desk.get("/api/v1/tickets", tokens["ana"], id=t["id"]).json()["items"]
    ] == [t["id"]]
    patched = call(
        desk, "PATCH", f"/api/v1/tickets/{t['id']}", tokens["admin"],
        json={"category": "problem", "cc": ["boss@example.com"], "language": "de",
              "visibility": "internal"},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert patched.json()["cc"] == ["boss@example.com"] and patched.json()["language"] == "de"
    events = desk.get(f"/api/v1/tickets/{t['id']}/events", tokens["admin"]).json()["items"]
    updated = [e for e in events if e["kind"] == "updated"][-1]
    assert updated["fields"]["category"] == {"from": None, "to": "problem"}
    for bad in ({"cc": ["nope"]}, {"visibility": "secret"}, {"status": "open"}, {"language": "x!"}):
        r = call(desk, "PATCH", f"/api/v1/tickets/{t['id']}", tokens["admin"], json=bad)
        assert r.status_code == 400, bad
    found = desk.get("/api/v1/tickets", tokens["ana"], category="problem", language="de").json()
    assert t["id"] in [x["id"] for x in found["items"]]


async def test_internal_only_ticket_never_reaches_the_visitor(desk, tokens):
    v, ana, ticket = await chat(desk, tokens, body="first")
    r = call(
        desk, "PATCH", f"/api/v1/tickets/{ticket}", tokens["ana"], json={"visibility": "internal"}
    )
    assert r.status_code == 200
    again = await visitor(desk, token=v.welcome["visitor_token"], after_seq=0)
    assert again.welcome["ticket"] is None and again.welcome["events"] == []
    synced = await again.ok({"type": "sync", "after_seq": 0})
    assert synced["events"] == []
    for c in (v, again, ana):
        await c.close()


async def test_notifications_for_the_assignee(desk, tokens):
    v, ana, ticket = await chat(desk, tokens)
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "anyone?"})
    pushed = await ana.push(
        lambda f: f["type"] == "notification" and f["notification"]["ticket"] == ticket
    )
    note = pushed["notification"]
    assert note["kind"] == "message" and note["read"] is False
    listed = call(
        desk, "GET", "/api/v1/notifications", tokens["ana"], params={"unread": "1"}
    ).json()
    assert note["id"] in [n["id"] for n in listed["items"]]
    assert (
        call(desk, "POST", f"/api/v1/notifications/{note['id']}/read", tokens["bo"]).status_code
        == 404
    )
    assert (
        call(desk, "POST", f"/api/v1/notifications/{note['id']}/read", tokens["ana"]).status_code
        == 204
    )
    unread = call(
        desk, "GET", "/api/v1/notifications", tokens["ana"], params={"unread": "1"}
    ).json()
    assert note["id"] not in [n["id"] for n in unread["items"]]
    for c in (v, ana):
        await c.close()


async def test_attachment_gallery_and_companies(desk, tokens):
    from tests.test_uploads import PNG, upload

    v, ana, ticket = await chat(desk, tokens)
    att = upload(desk, f"Bearer {tokens['ana']}", "p.png", PNG, "image/png").json()
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "see",
                  "attachments": [att["id"]]})  # fmt: skip
    gallery = desk.get(f"/api/v1/tickets/{ticket}/attachments", tokens["bo"]).json()["items"]
    assert [(g["id"], g["author"]["name"]) for g in gallery] == [(att["id"], "Ana")]
    assert httpx.get(desk.url + gallery[0]["url"]).content == PNG
    domain = f"acme{uuid.uuid4().hex[:5]}.com"
    made = call(
        desk, "POST", "/api/v1/companies", tokens["admin"], json={"name": "Acme", "domain": domain}
    )
    assert made.status_code == 201
    assert (
        call(
            desk, "POST", "/api/v1/companies", tokens["admin"], json={"name": "A", "domain": domain}
        ).status_code
        == 409
    )
    assert (
        call(desk, "POST", "/api/v1/companies", tokens["ana"], json={"name": "A"}).status_code
        == 403
    )
    for c in (v, ana):
        await c.close()


@pytest.fixture
def sla_desk(make_backend):
    backend = make_backend("sqlite", f"sla-{uuid.uuid4().hex[:4]}")
    import dataclasses

    server = Server(dataclasses.replace(backend, extra={"CHATDESK_SLA_CHECK_S": "1"})).start()
    yield server
    server.stop()


async def test_sla_breach_is_pushed_to_the_assignee(sla_desk):
    desk = sla_desk
    admin_token = desk.login()
    r = httpx.put(
        desk.url + "/api/v1/sla", headers={"Authorization": f"Bearer {admin_token}"},
        json={"urgent": {"first_response_minutes": 1, "resolution_minutes": 60}},
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["urgent"]["first_response_minutes"] == 1
    bad = httpx.put(
        desk.url + "/api/v1/sla", headers={"Authorization": f"Bearer {admin_token}"},
        json={"urgent": {"first_response_minutes": -1}},
    )  # fmt: skip
    assert bad.status_code == 400
    made = httpx.post(
        desk.url + "/api/v1/tickets", headers={"Authorization": f"Bearer {admin_token}"},
        json={"kind": "customer", "title": "Urgent!", "channel": "email", "priority": "urgent",
              "customer": {"email": "u@example.com"}, "body": "help", "assignee": 1},
    ).json()  # fmt: skip
    assert made["due"]["first_response"] in ("ok", "soon")
    # Backdate the due time in the store so the watch finds it breached.
    import sqlite3

    db = sqlite3.connect(desk.backend.data_dir / "chatdesk.db")
    db.execute(
        "UPDATE tickets SET due_first_response_at='2000-01-01 00:00:00' WHERE id=?", (made["id"],)
    )
    db.commit()
    db.close()
    admin = await agent(desk, admin_token)
    push = await admin.push(lambda f: f["type"] == "sla", timeout=15)
    assert push == {"type": "sla", "ticket": made["id"], "breach": "first_response"}
    shown = httpx.get(
        desk.url + f"/api/v1/tickets/{made['id']}",
        headers={"Authorization": f"Bearer {admin_token}"},
    ).json()
    assert shown["due"]["first_response"] == "breached"
    await asyncio.sleep(2.5)  # the watch runs again: the breach is not pushed twice
    assert not [p for p in admin.pushes if p["type"] == "sla"]
    await admin.close()


async def test_customers_belong_to_companies(desk, tokens):
    domain = f"globex{uuid.uuid4().hex[:5]}.com"
    company = call(
        desk,
        "POST",
        "/api/v1/companies",
        tokens["admin"],
        json={"name": "Globex", "domain": domain},
    ).json()
    v = await visitor(desk)
    await v.ok({"type": "profile", "email": f"hank@{domain}"})
    customer = v.welcome["customer"]["id"]
    shown = call(desk, "GET", f"/api/v1/customers/{customer}", tokens["ana"]).json()
    assert shown["company"] == company  # matched by the e-mail domain
    other = call(
        desk, "POST", "/api/v1/companies", tokens["admin"], json={"name": "Initech"}
    ).json()
    r = call(
        desk, "PATCH", f"/api/v1/customers/{customer}", tokens["ana"], json={"company": other["id"]}
    )
    assert r.status_code == 200 and r.json()["company"]["name"] == "Initech"
    bad = call(
        desk, "PATCH", f"/api/v1/customers/{customer}", tokens["ana"], json={"company": 999999}
    )
    assert bad.status_code == 404
    await v.close()
