"""Webhooks over real servers: signed deliveries, retries with backoff, admin REST."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.client import TIMEOUT, agent, visitor
from tests.servers import Server

SECRET = "whsec-" + "k" * 26


def cid() -> str:
    return uuid.uuid4().hex


def call(desk, method: str, path: str, token: str, **kw) -> httpx.Response:
    return httpx.request(
        method, desk.url + path, headers={"Authorization": f"Bearer {token}"}, **kw
    )


class Receiver:
    """A tiny HTTP endpoint in a thread: answers from a script, records every request."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signed_ok(headers: dict[str, str], body: bytes, secret: str) -> bool:
    timestamp = headers["x-chatdesk-timestamp"]
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["x-chatdesk-signature"], "sha256=" + mac.hexdigest())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def quick(request, make_backend) -> Iterator[Server]:
    """A desk whose webhook retries start after one second instead of ten."""
    backend = make_backend(request.param, f"hooks-{request.param}")
    server = Server(dataclasses.replace(backend, extra={"CHATDESK_WEBHOOK_BACKOFF_S": "1"}))
    server.start()
    yield server
    server.stop()


async def wait_for(check, what: str, timeout: float = TIMEOUT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_failing_receiver_gets_the_event_three_times_signed_while_chats_go_on(quick):
    token = quick.login()
    receiver = Receiver([500, 500, 200])
    created = call(
        quick, "POST", "/api/v1/webhooks", token,
        json={"url": receiver.url, "events": ["ticket.created"], "secret": SECRET},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["active"] is True and hook["secret"] == SECRET
    boss = await agent(quick, token)
    v = await visitor(quick)
    first = await v.ok({"type": "message", "client_msg_id": cid(), "body": "hello hooks"})
    ticket = first["ticket"]
    await boss.ok({"type": "claim", "ticket": ticket})
    # The chat goes on while the receiver fails and deliveries wait for their retry.
    for i in range(5):
        await v.ok({"type": "message", "client_msg_id": cid(), "body": f"more {i}"})
        await boss.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": f"r{i}"})
    await wait_for(lambda: len(receiver.requests) >= 3, "three attempts", max(TIMEOUT, 30))

    def delivered() -> list[dict[str, Any]]:
        r = call(quick, "GET", f"/api/v1/webhooks/{hook['id']}/deliveries", token)
        return r.json()["items"]

    await wait_for(lambda: delivered()[0]["delivered_at"] is not None, "the delivery recorded")
    await asyncio.sleep(1.5)  # a fourth attempt would be due by now if one were coming
    assert len(receiver.requests) == 3
    ids = {h["x-chatdesk-delivery"] for h, _ in receiver.requests}
    assert len(ids) == 1
    bodies = {b for _, b in receiver.requests}
    assert len(bodies) == 1  # every retry sends the same bytes
    assert all(signed_ok(h, b, SECRET) for h, b in receiver.requests)
    assert not signed_ok(receiver.requests[0][0], receiver.requests[0][1], "another-secret-xx")
    payload = json.loads(receiver.requests[0][1])
    assert payload["id"] == ids.pop() and payload["type"] == "ticket.created"
    assert payload["ticket"]["id"] == ticket and payload["event"]["seq"] == 1
    assert payload["event"]["body"] == "hello hooks" and payload["at"]
    (only,) = delivered()
    assert only["id"] == payload["id"] and only["event"] == "ticket.created"
    assert only["attempts"] == 3 and only["last_status"] == 200
    # Every message was acknowledged and stored in order meanwhile.
    stored = call(quick, "GET", f"/api/v1/tickets/{ticket}/events", token).json()["items"]
    assert len([e for e in stored if e["kind"] == "message"]) == 11
    assert call(quick, "DELETE", f"/api/v1/webhooks/{hook['id']}", token).status_code == 204
    receiver.close()
    await v.close()
    await boss.close()


async def test_events_by_kind_and_an_inactive_webhook_gets_nothing(quick):
    token = quick.login()
    receiver = Receiver([])
    idle = Receiver([])
    hook = call(
        quick, "POST", "/api/v1/webhooks", token,
        json={"url": receiver.url, "events": ["note", "status"]},
    ).json()  # fmt: skip
    assert len(hook["secret"]) >= 32  # made up when not given
    off = call(
        quick, "POST", "/api/v1/webhooks", token,
        json={"url": idle.url, "events": ["note", "status", "message"], "active": False},
    ).json()  # fmt: skip
    assert off["active"] is False
    boss = await agent(quick, token)
    v = await visitor(quick)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    await boss.ok({"type": "claim", "ticket": ticket})
    await boss.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": "internal"})
    await wait_for(lambda: len(receiver.requests) >= 2, "note and status deliveries")
    kinds = sorted(json.loads(b)["event"]["kind"] for _, b in receiver.requests)
    assert kinds == ["note", "status"]  # not the message or the assignment: not asked for
    assert all(signed_ok(h, b, hook["secret"]) for h, b in receiver.requests)
    assert idle.requests == []
    listed = call(quick, "GET", f"/api/v1/webhooks/{off['id']}/deliveries", token).json()
    assert listed == {"items": [], "next_cursor": None}
    for r in (receiver, idle):
        r.close()
    for w in (hook, off):
        assert call(quick, "DELETE", f"/api/v1/webhooks/{w['id']}", token).status_code == 204
    await v.close()
    await boss.close()


async def test_bad_webhooks_are_refused_and_change_nothing(desk, tokens):
    admin = tokens["admin"]
    before = call(desk, "GET", "/api/v1/webhooks", admin).json()
    good = {"url": "https://example.com/hook", "events": ["message"]}
    bad = [
        {**good, "url": "ftp://example.com/hook"},
        {**good, "url": "not a url"},
        {**good, "url": 5},
        {**good, "events": []},
        {**good, "events": ["messages"]},
        {**good, "events": "message"},
        {**good, "secret": "short"},
        {**good, "active": "yes"},
        {"events": ["message"]},
        {"url": "https://example.com/hook"},
    ]
    for body in bad:
        r = call(desk, "POST", "/api/v1/webhooks", admin, json=body)
        assert r.status_code == 400 and r.json()["code"] == "bad_request", (body, r.text)
    assert call(desk, "POST", "/api/v1/webhooks", tokens["ana"], json=good).status_code == 403
    assert call(desk, "GET", "/api/v1/webhooks", tokens["ana"]).status_code == 403
    assert httpx.get(desk.url + "/api/v1/webhooks").status_code == 401
    assert call(desk, "GET", "/api/v1/webhooks", admin).json() == before
    made = call(desk, "POST", "/api/v1/webhooks", admin, json={**good, "active": False}).json()
    for body in ({}, {"events": ["nope"]}, {"url": "mailto:x@example.com"}):
        r = call(desk, "PATCH", f"/api/v1/webhooks/{made['id']}", admin, json=body)
        assert r.status_code == 400
    assert call(desk, "GET", f"/api/v1/webhooks/{made['id']}", admin).json() == made
    changed = call(
        desk, "PATCH", f"/api/v1/webhooks/{made['id']}", admin, json={"events": ["status"]}
    )
    assert changed.status_code == 200 and changed.json()["events"] == ["status"]
    deliveries = f"/api/v1/webhooks/{made['id']}/deliveries"
    assert call(desk, "GET", deliveries, admin, params={"cursor": "garbage"}).status_code == 400
    assert call(desk, "GET", deliveries, tokens["bo"]).status_code == 403
    assert call(desk, "GET", "/api/v1/webhooks/999999/deliveries", admin).status_code == 404
    assert call(desk, "DELETE", f"/api/v1/webhooks/{made['id']}", admin).status_code == 204
    assert call(desk, "DELETE", f"/api/v1/webhooks/{made['id']}", admin).status_code == 404
