"""Customers, customer notes, the label catalogue, admin pages' REST, and search filters."""

from __future__ import annotations

import uuid

import httpx

from tests.client import agent, visitor


def cid() -> str:
    return uuid.uuid4().hex


def call(desk, method: str, path: str, token: str, **kw) -> httpx.Response:
    return httpx.request(
        method, desk.url + path, headers={"Authorization": f"Bearer {token}"}, **kw
    )


async def test_customer_details_edit_and_earlier_tickets(desk, tokens):
    v = await visitor(desk, page_url="https://shop.example.com/cart")
    await v.ok({"type": "profile", "name": "Kim", "email": "kim@example.com"})
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    customer = v.welcome["customer"]["id"]
    ana = await agent(desk, tokens["ana"])
    shown = call(desk, "GET", f"/api/v1/customers/{customer}", tokens["ana"]).json()
    assert shown["name"] == "Kim" and shown["email"] == "kim@example.com"
    assert shown["ip"] == "127.0.0.1" and shown["page_url"] == "https://shop.example.com/cart"
    assert "websockets" in shown["user_agent"].lower()
    assert [t["id"] for t in shown["tickets"]] == [ticket]
    r = call(
        desk, "PATCH", f"/api/v1/customers/{customer}", tokens["ana"],
        json={"name": "Kim Lee", "email": "KIM.LEE@example.com"},
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["email"] == "kim.lee@example.com"
    queued = await ana.push(
        lambda f: f["type"] == "queue" and (f["ticket"]["customer"] or {}).get("name") == "Kim Lee"
    )
    assert queued["ticket"]["id"] == ticket
    for body, code in (({"email": "not-an-address"}, 400), ({}, 400), ({"name": 5}, 400)):
        r = call(desk, "PATCH", f"/api/v1/customers/{customer}", tokens["ana"], json=body)
        assert r.status_code == code and r.json()["code"] == "bad_request"
    assert call(desk, "GET", "/api/v1/customers/999999", tokens["ana"]).status_code == 404
    assert httpx.get(desk.url + f"/api/v1/customers/{customer}").status_code == 401
    await v.close()
    await ana.close()


async def test_customer_notes_show_on_every_ticket_and_never_to_the_visitor(desk, tokens):
    v = await visitor(desk)
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"})
    customer = v.welcome["customer"]["id"]
    r = call(
        desk, "POST", f"/api/v1/customers/{customer}/notes", tokens["ana"],
        json={"body": "VIP-NOTE prefers e-mail"},
    )  # fmt: skip
    assert r.status_code == 201 and r.json()["author"]["name"] == "Ana"
    notes = call(desk, "GET", f"/api/v1/customers/{customer}/notes", tokens["bo"]).json()
    assert [n["body"] for n in notes["items"]] == ["VIP-NOTE prefers e-mail"]
    assert call(desk, "GET", f"/api/v1/customers/{customer}", tokens["bo"]).json()["notes"]
    bad = call(desk, "POST", f"/api/v1/customers/{customer}/notes", tokens["ana"], json={})
    assert bad.status_code == 400
    again = await visitor(desk, token=v.welcome["visitor_token"], after_seq=0)
    synced = await again.ok({"type": "sync", "after_seq": 0})
    assert "VIP-NOTE" not in str(again.welcome) + str(synced) + str(v.pushes)
    visitor_auth = {"Authorization": f"Visitor {v.welcome['visitor_token']}"}
    for path in (f"/api/v1/customers/{customer}", f"/api/v1/customers/{customer}/notes"):
        assert httpx.get(desk.url + path, headers=visitor_auth).status_code == 401
    await v.close()
    await again.close()


async def test_label_catalogue_and_search_by_label(desk, tokens):
    name = f"refund-{uuid.uuid4().hex[:6]}"
    created = call(desk, "POST", "/api/v1/labels", tokens["admin"], json={"name": name})
    assert created.status_code == 201
    label = created.json()
    assert (
        call(desk, "POST", "/api/v1/labels", tokens["ana"], json={"name": "x"}).status_code == 403
    )
    dup = call(desk, "POST", "/api/v1/labels", tokens["admin"], json={"name": name.upper()})
    assert dup.status_code == 409
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "refund?"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    r = call(desk, "POST", f"/api/v1/tickets/{ticket}/labels", tokens["ana"], json={"add": [name]})
    assert r.status_code == 200 and r.json()["labels"] == [name]
    assert (await ana.event(ticket, "labels"))["added"] == [name]
    forbidden = call(
        desk, "POST", f"/api/v1/tickets/{ticket}/labels", tokens["bo"], json={"add": ["x"]}
    )
    assert forbidden.status_code == 403
    await ana.ok({"type": "status", "ticket": ticket, "to": "solved"})
    solved = desk.get("/api/v1/tickets", tokens["bo"], status="solved", label=name).json()
    assert [t["id"] for t in solved["items"]] == [ticket]
    renamed = f"{name}-2"
    r = call(
        desk, "PATCH", f"/api/v1/labels/{label['id']}", tokens["admin"], json={"name": renamed}
    )
    assert r.status_code == 200
    assert desk.get(f"/api/v1/tickets/{ticket}", tokens["ana"]).json()["labels"] == [renamed]
    listed = call(desk, "GET", "/api/v1/labels", tokens["ana"]).json()["items"]
    assert {"id": label["id"], "name": renamed, "tickets": 1} in listed
    assert call(desk, "DELETE", f"/api/v1/labels/{label['id']}", tokens["ana"]).status_code == 403
    assert call(desk, "DELETE", f"/api/v1/labels/{label['id']}", tokens["admin"]).status_code == 204
    assert desk.get(f"/api/v1/tickets/{ticket}", tokens["ana"]).json()["labels"] == []
    await v.close()
    await ana.close()


async def test_admin_manages_agents_groups_and_sites(desk, tokens):
    admin = tokens["admin"]
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    body = {"email": email, "name": "Nia", "password": "nia-password", "role": "agent"}
    assert call(desk, "POST", "/api/v1/agents", tokens["ana"], json=body).status_code == 403
    created = call(desk, "POST", "/api/v1/agents", admin, json=body)
    assert created.status_code == 201
    nia = created.json()
    assert call(desk, "POST", "/api/v1/agents", admin, json=body).status_code == 409
    weak = call(
        desk, "POST", "/api/v1/agents", admin, json={**body, "email": "x@y.zz", "password": "1"}
    )
    assert weak.status_code == 400
    token = desk.login(email, "nia-password")
    live = await agent(desk, token)
    r = call(desk, "PATCH", f"/api/v1/agents/{nia['id']}", admin, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await live.closed)[0] == 4401
    assert desk.get("/api/v1/tickets", token).status_code == 401

    group = call(
        desk,
        "POST",
        "/api/v1/groups",
        admin,
        json={"name": f"Billing {email}", "agents": [nia["id"]]},
    )
    assert group.status_code == 201 and group.json()["agents"] == [nia["id"]]
    missing = call(
        desk, "PATCH", f"/api/v1/groups/{group.json()['id']}", admin, json={"agents": [999999]}
    )
    assert missing.status_code == 404

    site = call(
        desk,
        "POST",
        "/api/v1/sites",
        admin,
        json={"name": "Shop", "origins": ["https://shop.example.com"]},
    )
    assert site.status_code == 201
    assert site.json()["origins"] == ["https://shop.example.com"] and site.json()["key"]
    bad = call(
        desk, "PATCH", f"/api/v1/sites/{site.json()['id']}", admin, json={"origins": ["nope"]}
    )
    assert bad.status_code == 400
    assert call(desk, "GET", "/api/v1/sites", tokens["ana"]).status_code == 403
    await live.close()


async def test_search_by_customer_priority_and_group(desk, tokens):
    tag = uuid.uuid4().hex[:8]
    v = await visitor(desk)
    await v.ok({"type": "profile", "name": f"Zed {tag}", "email": f"zed-{tag}@example.com"})
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    for params in ({"customer": f"zed-{tag}@"}, {"customer": f"Zed {tag}"}):
        found = desk.get("/api/v1/tickets", tokens["ana"], **params).json()["items"]
        assert [t["id"] for t in found] == [ticket], params
    normal = desk.get("/api/v1/tickets", tokens["ana"], priority="normal", customer=tag).json()
    assert [t["id"] for t in normal["items"]] == [ticket]
    assert (
        desk.get("/api/v1/tickets", tokens["ana"], priority="urgent", customer=tag).json()["items"]
        == []
    )
    assert desk.get("/api/v1/tickets", tokens["ana"], priority="meh").status_code == 400
    assert desk.get("/api/v1/tickets", tokens["ana"], group="x").status_code == 400
    await v.close()
