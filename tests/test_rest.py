"""REST: login, ticket lists with filters and cursors, events, health, OpenAPI."""

from __future__ import annotations

import uuid

import httpx

from tests.client import agent, visitor


def cid() -> str:
    return uuid.uuid4().hex


def test_login_sets_token_and_http_only_cookie(desk):
    r = httpx.post(
        desk.url + "/api/v1/auth/login",
        json={"email": "ANA@example.com", "password": "ana-password"},
    )
    assert r.status_code == 200
    assert r.json()["agent"]["email"] == "ana@example.com"
    cookie = r.headers["set-cookie"]
    assert (
        "chatdesk_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    )
    session = r.cookies["chatdesk_session"]
    me = httpx.get(desk.url + "/api/v1/tickets", cookies={"chatdesk_session": session})
    assert me.status_code == 200
    host = desk.url.split("//")[1]
    out = httpx.post(
        desk.url + "/api/v1/auth/logout",
        cookies={"chatdesk_session": session},
        headers={"Origin": f"http://{host}"},  # as the console's own page sends it
    )
    assert out.status_code == 204
    after = httpx.get(desk.url + "/api/v1/tickets", cookies={"chatdesk_session": session})
    assert after.status_code == 401 and after.json()["code"] == "unauthorized"


def test_bad_logins_are_refused_alike(desk):
    for body in (
        {"email": "ana@example.com", "password": "wrong-password"},
        {"email": "nobody@example.com", "password": "whatever1"},
    ):
        r = httpx.post(desk.url + "/api/v1/auth/login", json=body)
        assert r.status_code == 401
        assert r.json() == {"code": "unauthorized", "detail": "wrong e-mail or password"}
    for raw in (b"{", b"[]", b'{"email": 5, "password": "x"}', b'{"email": "a@b.c"}'):
        r = httpx.post(desk.url + "/api/v1/auth/login", content=raw)
        assert r.status_code == 400 and r.json()["code"] == "bad_request"


def test_rest_needs_an_agent(desk):
    assert httpx.get(desk.url + "/api/v1/tickets").status_code == 401
    r = httpx.get(desk.url + "/api/v1/tickets", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"


async def test_ticket_list_filters_and_pages(desk, tokens):
    tag = uuid.uuid4().hex[:8]
    ana = await agent(desk, tokens["ana"])
    ids = []
    for i in range(5):
        v = await visitor(desk)
        body = f"needle-{tag} number {i}"
        ids.append(
            (await v.ok({"type": "message", "client_msg_id": cid(), "body": body}))["ticket"]
        )
        await v.close()
    await ana.ok({"type": "claim", "ticket": ids[0]})
    await ana.ok({"type": "labels", "ticket": ids[0], "add": [f"L-{tag}"]})
    admin = tokens["admin"]

    found = desk.get("/api/v1/tickets", admin, q=f"needle-{tag}").json()
    assert sorted(t["id"] for t in found["items"]) == sorted(ids)
    assert [t["id"] for t in found["items"]] == sorted(ids, reverse=True)  # stable: newest first
    page1 = desk.get("/api/v1/tickets", admin, q=f"needle-{tag}", limit=2).json()
    page2 = desk.get(
        "/api/v1/tickets", admin, q=f"needle-{tag}", limit=2, cursor=page1["next_cursor"]
    ).json()
    page3 = desk.get(
        "/api/v1/tickets", admin, q=f"needle-{tag}", limit=2, cursor=page2["next_cursor"]
    ).json()
    paged = [t["id"] for p in (page1, page2, page3) for t in p["items"]]
    assert paged == sorted(ids, reverse=True) and page3["next_cursor"] is None

    by_label = desk.get("/api/v1/tickets", admin, label=f"l-{tag}").json()["items"]
    assert [t["id"] for t in by_label] == [ids[0]] and by_label[0]["labels"] == [f"l-{tag}"]
    mine = desk.get("/api/v1/tickets", tokens["ana"], assignee="me", status="open").json()
    assert ids[0] in [t["id"] for t in mine["items"]]
    new = desk.get("/api/v1/tickets", admin, status="new", q=f"needle-{tag}").json()["items"]
    assert sorted(t["id"] for t in new) == sorted(ids[1:])

    for params in (
        {"status": "flying"},
        {"assignee": "x"},
        {"created_after": "yesterday"},
        {"cursor": "abc"},
    ):
        r = desk.get("/api/v1/tickets", admin, **params)
        assert r.status_code == 400 and r.json()["code"] == "bad_request", params
    await ana.close()


async def test_ticket_and_events(desk, tokens):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "one"}))["ticket"]
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "two"})
    admin = tokens["admin"]
    shown = desk.get(f"/api/v1/tickets/{ticket}", admin).json()
    assert shown["status"] == "new" and shown["last_seq"] == 2 and shown["subject"] == "one"
    events = desk.get(f"/api/v1/tickets/{ticket}/events", admin, after_seq=1).json()
    assert [e["body"] for e in events["items"]] == ["two"]
    assert desk.get("/api/v1/tickets/999999", admin).status_code == 404
    assert desk.get("/api/v1/tickets/abc", admin).json()["code"] == "bad_request"
    assert desk.get("/api/v1/tickets/999999/events", admin).status_code == 404
    await v.close()


def test_health_ready_and_openapi(desk):
    assert httpx.get(desk.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(desk.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    doc = httpx.get(desk.url + "/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/api/v1/tickets" in doc["paths"]


def test_nul_and_lone_surrogates_are_bad_requests(desk, tokens):
    r = desk.get("/api/v1/tickets", tokens["admin"], q="a\x00b")
    assert r.status_code == 400 and r.json()["code"] == "bad_request"
    raw = b'{"email": "\\ud800@example.com", "password": "x"}'
    r = httpx.post(desk.url + "/api/v1/auth/login", content=raw)
    assert r.status_code == 400 and r.json()["code"] == "bad_request"


def test_timestamps_are_utc_with_z(desk, tokens):
    items = desk.get("/api/v1/tickets", tokens["admin"]).json()["items"]
    assert items and all(t["created_at"].endswith("Z") for t in items)
