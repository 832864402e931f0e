"""Hostile input and access: rate limits, origin checks, CSRF, security headers."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.client import agent, visitor
from tests.servers import Server


def cid() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def strict(request, make_backend) -> Iterator[Server]:
    """A desk with small limits, shared across processes through Redis on PostgreSQL."""
    backend = make_backend(request.param, f"strict-{request.param}")
    limits = {
        "CHATDESK_RATE_IP_CONNECTS": "20",
        "CHATDESK_MAX_CONNECTIONS_PER_IP": "8",
        "CHATDESK_RATE_VISITOR_MESSAGES": "5",
        "CHATDESK_RATE_LOGINS": "3",
        "CHATDESK_RATE_UPLOADS": "2",
    }
    server = Server(dataclasses.replace(backend, extra=limits)).start()
    yield server
    server.stop()


async def test_visitor_messages_are_rate_limited_with_retry_after(strict):
    v = await visitor(strict)
    replies = [
        await v.request({"type": "message", "client_msg_id": cid(), "body": f"m{i}"})
        for i in range(8)
    ]
    assert [r["type"] for r in replies[:5]] == ["ok"] * 5
    limited = [r for r in replies if r["type"] == "error"]
    assert limited and all(r["code"] == "rate_limited" for r in limited)
    assert 0 < limited[0]["retry_after"] <= 10
    # Refused messages stored nothing.
    token = strict.login()
    ticket = replies[0]["ticket"]
    events = strict.get(f"/api/v1/tickets/{ticket}/events", token).json()["items"]
    assert len([e for e in events if e["kind"] == "message"]) == 5
    await v.close()


async def test_logins_are_throttled(strict):
    body = {"email": "ghost@example.com", "password": "wrong-password"}
    codes = [httpx.post(strict.url + "/api/v1/auth/login", json=body).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    r = httpx.post(strict.url + "/api/v1/auth/login", json=body)
    assert r.json()["code"] == "rate_limited" and r.json()["retry_after"] > 0


async def test_open_connections_per_ip_are_capped(strict):
    held = [await visitor(strict) for _ in range(8)]
    with pytest.raises(InvalidStatus) as refused:
        await connect(strict.ws("/ws/visitor"))
    assert refused.value.response.status_code == 429
    for c in held:
        await c.close()


async def test_agent_socket_refuses_other_origins(desk, tokens):
    with pytest.raises(InvalidStatus) as refused:
        await connect(desk.ws("/ws/agent"), origin="https://evil.example")
    assert refused.value.response.status_code == 403
    host = desk.url.split("//")[1]
    ok = await connect(desk.ws("/ws/agent"), origin=f"http://{host}")
    await ok.close()


async def test_visitor_socket_checks_the_sites_origins(desk, tokens):
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    site = httpx.post(
        desk.url + "/api/v1/sites", headers=admin,
        json={"name": "Locked", "origins": ["https://shop.example.com"]},
    ).json()  # fmt: skip
    from tests.client import Client

    for origin, good in (("https://shop.example.com", True), ("https://evil.example", False)):
        c = await Client.open(desk.ws("/ws/visitor"), headers={"Origin": origin})
        await c.send({"type": "hello", "site": site["key"], "visitor_token": None})
        first = await c.push(lambda f: f["type"] in ("welcome", "error"))
        if good:
            assert first["type"] == "welcome"
        else:
            assert first["code"] == "unauthorized" and (await c.closed)[0] == 4401
        await c.close()
    # Sites are cached for hellos; an admin's change applies at once all the same.
    moved = httpx.patch(
        desk.url + f"/api/v1/sites/{site['id']}", headers=admin,
        json={"origins": ["https://new-shop.example.com"]},
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    c = await Client.open(desk.ws("/ws/visitor"), headers={"Origin": "https://shop.example.com"})
    await c.send({"type": "hello", "site": site["key"], "visitor_token": None})
    first = await c.push(lambda f: f["type"] in ("welcome", "error"))
    assert first["code"] == "unauthorized" and (await c.closed)[0] == 4401
    await c.close()


def test_cookie_writes_need_the_consoles_origin(desk):
    login = httpx.post(
        desk.url + "/api/v1/auth/login",
        json={"email": "ana@example.com", "password": "ana-password"},
    )
    cookies = {"chatdesk_session": login.cookies["chatdesk_session"]}
    host = desk.url.split("//")[1]
    body = {"body": "x"}
    forged = httpx.post(
        desk.url + "/api/v1/customers/1/notes", json=body, cookies=cookies,
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert forged.status_code == 403 and forged.json()["code"] == "forbidden"
    no_origin = httpx.post(desk.url + "/api/v1/auth/logout", cookies=cookies)
    assert no_origin.status_code == 403
    same = httpx.post(
        desk.url + "/api/v1/auth/logout", cookies=cookies, headers={"Origin": f"http://{host}"}
    )
    assert same.status_code == 204
    # Reads need no Origin; bearer tokens carry no ambient credential.
    assert httpx.get(desk.url + "/healthz", cookies=cookies).status_code == 200


def test_security_headers(desk):
    console = httpx.get(desk.url + "/console/")
    csp = console.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp
    assert console.headers["x-content-type-options"] == "nosniff"
    api = httpx.get(desk.url + "/healthz")
    assert api.headers["x-content-type-options"] == "nosniff"


async def test_rate_limited_agent_commands(strict):
    token = strict.login()
    a = await agent(strict, token)
    assert (await a.ok({"type": "ping"}))["type"] == "ok"
    await a.close()
