"""Data protection and the audit log: a customer's export, erasure, retention, who did what."""

from __future__ import annotations

import dataclasses
import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.client import TIMEOUT, agent, visitor
from tests.servers import Server
from tests.sql import everything, sql


def cid() -> str:
    return uuid.uuid4().hex


def call(server: Server, method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, server.url + path, headers=headers, timeout=TIMEOUT, **kw)


def upload(server: Server, visitor_token: str, name: str, data: bytes) -> dict:
    r = httpx.post(
        server.url + "/api/v1/visitor/uploads",
        headers={"Authorization": f"Visitor {visitor_token}"},
        files={"file": (name, io.BytesIO(data), "text/plain")},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def chat_with_secrets(server: Server, tokens: dict[str, str], secret: str) -> dict:
    """A customer who leaves their name, address, words and a file everywhere they can."""
    v = await visitor(server, page_url=f"https://shop.example.com/{secret}-page")
    token = v.welcome["visitor_token"]
    email = f"{secret}@example.org"
    await v.ok({"type": "profile", "name": f"Name {secret}", "email": email})
    file_bytes = f"file of {secret}\n".encode()
    att = upload(server, token, f"{secret}.txt", file_bytes)
    body = f"my card is {secret}-4111 and I live at {secret} street"
    first = await v.ok(
        {"type": "message", "client_msg_id": cid(), "body": body, "attachments": [att["id"]]}
    )
    ticket = first["ticket"]
    ana = await agent(server, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    reply = f"thanks {secret}, noted"
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": reply})
    note = f"internal: {secret} is a VIP"
    await ana.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": note})
    await ana.ok({"type": "mask", "ticket": ticket, "seq": 1, "ranges": [[11, 15]]})
    customer = v.welcome["customer"]["id"]
    r = call(server, "POST", f"/api/v1/customers/{customer}/notes", tokens["ana"],
             json={"body": f"customer note {secret}"})  # fmt: skip
    assert r.status_code == 201
    await v.ok({"type": "message", "client_msg_id": cid(), "body": f"still {secret}?"})
    return {
        "visitor": v, "agent": ana, "token": token, "ticket": ticket, "customer": customer,
        "email": email, "attachment": att, "file_bytes": file_bytes,
    }  # fmt: skip


async def test_export_holds_everything_about_the_customer(desk, tokens):
    secret = f"exp{uuid.uuid4().hex[:10]}"
    got = await chat_with_secrets(desk, tokens, secret)
    path = f"/api/v1/customers/{got['customer']}/export"
    assert call(desk, "GET", path, tokens["ana"]).status_code == 403
    assert call(desk, "GET", path).status_code == 401
    assert call(desk, "GET", "/api/v1/customers/999999/export", tokens["admin"]).status_code == 404
    assert call(desk, "GET", "/api/v1/customers/x/export", tokens["admin"]).status_code == 400
    r = call(desk, "GET", path, tokens["admin"])
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    doc = r.json()
    assert doc["customer"]["email"] == got["email"] and "token_hash" not in doc["customer"]
    assert doc["customer"]["page_url"].endswith(f"{secret}-page")
    [ticket] = doc["tickets"]
    bodies = [e.get("body", "") for e in ticket["events"]]
    assert any(f"thanks {secret}" in b for b in bodies)
    assert any(f"internal: {secret}" in b for b in bodies)  # internal notes too: all is held
    assert [n["body"] for n in doc["notes"]] == [f"customer note {secret}"]
    assert [a["filename"] for a in doc["attachments"]] == [f"{secret}.txt"]
    entries = call(desk, "GET", "/api/v1/audit", tokens["admin"],
                   params={"action": "customer.export"}).json()["items"]  # fmt: skip
    assert entries[0]["target"] == f"customer:{got['customer']}"
    assert entries[0]["actor"]["type"] == "agent"
    await got["visitor"].close()
    await got["agent"].close()


async def test_erasure_removes_the_customer_everywhere_but_keeps_ticket_counts(desk, tokens):
    secret = f"era{uuid.uuid4().hex[:10]}"
    got = await chat_with_secrets(desk, tokens, secret)
    customer, ticket = got["customer"], got["ticket"]
    backend = desk.backend
    stored = [t for t, text in everything(backend).items() if secret in text]
    assert {"customers", "events", "tickets", "attachments", "customer_notes"} <= set(stored)
    tickets_before = sql(backend, "SELECT count(*) FROM tickets")[0][0]
    seqs_before = sql(backend, "SELECT seq, kind FROM events WHERE ticket_id = :t ORDER BY seq",
                      t=ticket)  # fmt: skip
    sha = sql(backend, "SELECT sha256 FROM attachments WHERE id = :i", i=got["attachment"]["id"])
    file_path = backend.data_dir / "uploads" / sha[0][0][:2] / sha[0][0]
    assert file_path.read_bytes() == got["file_bytes"]

    path = f"/api/v1/customers/{customer}"
    assert call(desk, "DELETE", path, tokens["ana"]).status_code == 403
    assert call(desk, "DELETE", "/api/v1/customers/999999", tokens["admin"]).status_code == 404
    assert call(desk, "DELETE", "/api/v1/customers/0", tokens["admin"]).status_code == 400
    assert secret in everything(backend)["events"]  # refusals changed nothing

    r = call(desk, "DELETE", path, tokens["admin"])
    assert r.status_code == 200, r.text
    erased = r.json()["erased"]
    assert erased["tickets"] == 1 and erased["files"] == 1 and erased["files_removed"] == 1

    left = {t: text for t, text in everything(backend).items() if secret in text}
    assert left == {}, f"still found in {sorted(left)}"
    assert not file_path.exists()
    assert sql(backend, "SELECT count(*) FROM tickets")[0][0] == tickets_before
    assert sql(backend, "SELECT seq, kind FROM events WHERE ticket_id = :t ORDER BY seq",
               t=ticket) == seqs_before  # fmt: skip
    shell = call(desk, "GET", f"/api/v1/tickets/{ticket}", tokens["admin"]).json()
    assert shell["status"] == "open" and shell["subject"] == "[erased]"
    events = call(desk, "GET", f"/api/v1/tickets/{ticket}/events", tokens["admin"]).json()
    messages = [e for e in events["items"] if e["kind"] in ("message", "note")]
    assert {e["body"] for e in messages} == {"[erased]"}
    assert all(e["attachments"] == [] for e in messages)
    person = call(desk, "GET", path, tokens["admin"]).json()
    assert person["name"] is None and person["email"] is None and person["notes"] == []
    assert [t["id"] for t in person["tickets"]] == [ticket]

    # The visitor's live socket is closed and the token opens nothing any more.
    code, _ = await got["visitor"].closed
    assert code == 4401
    again = await visitor(desk, token=got["token"])
    assert again.welcome["type"] == "error" and again.welcome["code"] == "unauthorized"
    assert (await again.closed)[0] == 4401
    shown = got["attachment"]["url"]
    assert httpx.get(desk.url + shown).status_code == 404
    entries = call(desk, "GET", "/api/v1/audit", tokens["admin"],
                   params={"action": "customer.erase"}).json()["items"]  # fmt: skip
    assert entries[0]["target"] == f"customer:{customer}"
    assert secret not in str(entries)
    await got["agent"].close()


async def test_audit_log_lists_admin_actions_and_access_decisions(desk, tokens):
    admin = tokens["admin"]
    name = f"audit-{uuid.uuid4().hex[:6]}"
    label = call(desk, "POST", "/api/v1/labels", admin, json={"name": name}).json()
    assert call(desk, "PATCH", f"/api/v1/labels/{label['id']}", admin,
                json={"name": name + "-b"}).status_code == 200  # fmt: skip
    refused = call(desk, "POST", "/api/v1/labels", tokens["ana"], json={"name": "nope"})
    assert refused.status_code == 403
    article = call(desk, "POST", "/api/v1/kb/articles", admin, json={"title": name}).json()
    canned = call(desk, "POST", "/api/v1/canned", admin,
                  json={"scope": "company", "shortcut": f"/{name}", "title": "t",
                        "body": "b"}).json()  # fmt: skip
    assert call(desk, "DELETE", f"/api/v1/canned/{canned['id']}", admin).status_code == 204
    group = call(desk, "POST", "/api/v1/groups", admin, json={"name": name}).json()

    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "help"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    bo = await agent(desk, tokens["bo"])
    await ana.ok({"type": "claim", "ticket": ticket})
    await bo.ok({"type": "request_access", "ticket": ticket})
    bo_id = bo.welcome["agent"]["id"]
    await ana.ok({"type": "answer_access", "ticket": ticket, "agent": bo_id, "grant": True})
    await ana.ok({"type": "mask", "ticket": ticket, "seq": 1, "ranges": [[0, 2]]})

    def listed(**params) -> list[dict]:
        r = call(desk, "GET", "/api/v1/audit", admin, params=params)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    mine = listed(action="label.*")
    assert [e["action"] for e in mine[:2]] == ["label.rename", "label.create"]
    assert mine[1]["detail"] == {"name": name} and mine[1]["actor"]["name"] == "Admin"
    assert listed(action="kb.create")[0]["target"] == f"article:{article['id']}"
    assert listed(action="canned.delete")[0]["target"] == f"canned:{canned['id']}"
    assert listed(action="group.create")[0]["target"] == f"group:{group['id']}"
    for _ in range(100):  # access decisions are written right after their events commit
        access = [e for e in listed(action="access.*") if e["target"] == f"ticket:{ticket}"]
        masked = [e for e in listed(action="mask") if e["target"] == f"ticket:{ticket}"]
        if len(access) == 2 and masked:
            break
        await ana.quiet(0.1)
    assert [(e["action"], e["actor"]["id"]) for e in access] == [
        ("access.granted", ana.welcome["agent"]["id"]),
        ("access.requested", bo_id),
    ]
    assert access[0]["detail"]["agent"]["id"] == bo_id
    assert masked[0]["detail"]["ranges"] == [[0, 2]]
    ana_id = str(ana.welcome["agent"]["id"])
    assert all(e["actor"]["id"] == int(ana_id) for e in listed(actor=ana_id))
    page = call(desk, "GET", "/api/v1/audit", admin, params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    nxt = listed(limit=1, cursor=page["next_cursor"])
    assert nxt[0]["id"] < page["items"][0]["id"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert listed(after=future) == []
    assert listed(before="2000-01-01T00:00:00Z") == []
    assert call(desk, "GET", "/api/v1/audit", tokens["ana"]).status_code == 403
    for bad in ({"after": "soon"}, {"actor": "bob"}, {"limit": "0"}, {"cursor": "-1"}):
        r = call(desk, "GET", "/api/v1/audit", admin, params=bad)
        assert r.status_code == 400 and r.json()["code"] == "bad_request", bad
    for c in (v, ana, bo):
        await c.close()


@pytest.fixture(params=["sqlite", "postgres"])
def retention_backend(request, make_backend):
    return make_backend(request.param, f"retention-{request.param}-{uuid.uuid4().hex[:4]}")


async def test_retention_deletes_old_closed_tickets_once(retention_backend):
    first = Server(retention_backend).start()  # retention off
    admin = first.login()
    v = await visitor(first)
    token = v.welcome["visitor_token"]
    old_file = upload(first, token, "old.txt", f"old {uuid.uuid4().hex}\n".encode())
    msg = {
        "type": "message",
        "client_msg_id": cid(),
        "body": "old",
        "attachments": [old_file["id"]],
    }
    old = (await v.ok(msg))["ticket"]
    boss = await agent(first, admin)
    await boss.ok({"type": "claim", "ticket": old})
    await boss.ok({"type": "status", "ticket": old, "to": "solved"})
    await boss.ok({"type": "status", "ticket": old, "to": "closed"})
    # Writing again after the close starts a follow-up that links to the old ticket.
    follow = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "again"}))["ticket"]
    assert follow != old
    recent = await visitor(first)
    kept = (await recent.ok({"type": "message", "client_msg_id": cid(), "body": "x"}))["ticket"]
    await boss.ok({"type": "claim", "ticket": kept})
    await boss.ok({"type": "status", "ticket": kept, "to": "solved"})
    await boss.ok({"type": "status", "ticket": kept, "to": "closed"})
    for c in (v, recent, boss):
        await c.close()
    sha = sql(retention_backend, "SELECT sha256 FROM attachments WHERE id = :i", i=old_file["id"])
    path = retention_backend.data_dir / "uploads" / sha[0][0][:2] / sha[0][0]
    assert path.exists()
    sql(retention_backend, "UPDATE tickets SET updated_at = :t WHERE id = :i",
        t=datetime.now(UTC) - timedelta(days=10), i=old)  # fmt: skip
    first.stop()

    backend = dataclasses.replace(retention_backend, extra={"CHATDESK_RETENTION_DAYS": "5"})
    second = Server(backend).start()  # the job runs once at start, then hourly
    second.admin_password = first.admin_password
    admin = second.login()
    try:
        for _ in range(200):
            if call(second, "GET", f"/api/v1/tickets/{old}", admin).status_code == 404:
                break
            await v.quiet(0.05)
        assert call(second, "GET", f"/api/v1/tickets/{old}", admin).status_code == 404
        assert call(second, "GET", f"/api/v1/tickets/{kept}", admin).status_code == 200
        shown = call(second, "GET", f"/api/v1/tickets/{follow}", admin).json()
        assert shown["status"] == "new" and shown.get("follow_up_of") is None
        assert sql(backend, "SELECT count(*) FROM events WHERE ticket_id = :i", i=old)[0][0] == 0
        assert not path.exists()
        entries = call(second, "GET", "/api/v1/audit", admin,
                       params={"action": "retention.purge"}).json()["items"]  # fmt: skip
        assert entries[0]["actor"]["type"] == "system" and entries[0]["detail"]["tickets"] == 1
    finally:
        second.stop()
