"""IDOR: a visitor reaches only their own ticket, and an agent without access only reads.

Covers every visitor-reachable way in (issue 7): the /ws/visitor frames, visitor
uploads, signed file links, and every agent REST route (listed from the app
itself, so a new route is checked the day it is added), which must refuse a
visitor's token. Then the agent side: a teammate who is neither assignee,
collaborator nor admin gets `forbidden` for every write command and can still
watch, sync and read over REST.
"""

from __future__ import annotations

import io
import re
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from tests.client import Client, agent, visitor

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
# REST routes for callers who are not logged-in agents: public ones and visitors'.
NOT_AGENT_ROUTES = {
    "/api/v1/auth/invite/accept",
    "/api/v1/auth/login",
    "/api/v1/auth/login/totp",
    "/api/v1/auth/logout",
    "/api/v1/auth/reset",
    "/api/v1/auth/reset/confirm",
    "/api/v1/visitor/uploads",
    "/api/v1/openapi.json",
}
# What a visitor may see of a ticket and of an event (contract section 3, docs/protocol.md).
VISITOR_TICKET_KEYS = {"id", "status", "subject", "assignee", "created_at", "updated_at"}
VISITOR_EVENT_KEYS = {"ticket", "seq", "kind", "visibility", "author", "at"} | {
    "body",
    "attachments",
    "client_msg_id",
    "from",
    "to",
    "via",
}
# Keys of internal state that must appear nowhere in what a visitor receives.
INTERNAL_KEYS = {
    "labels",
    "priority",
    "group",
    "collaborators",
    "visitor_read_seq",
    "last_seq",
    "cross_posted_to",
    "target_seq",
    "ranges",
    "added",
    "removed",
    "state",
    "follow_up_of",
}


def cid() -> str:
    return uuid.uuid4().hex


def tag() -> str:
    return uuid.uuid4().hex[:10]


def call(desk, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method, desk.url + path, headers={"Authorization": f"Bearer {token}"}, **kw
    )


def upload(desk, auth: str, path: str | None = None) -> httpx.Response:
    if path is None:
        path = "/api/v1/visitor/uploads" if auth.startswith("Visitor") else "/api/v1/uploads"
    return httpx.post(
        desk.url + path,
        headers={"Authorization": auth},
        files={"file": ("dot.png", io.BytesIO(PNG), "image/png")},
    )


def ticket_of(desk, token: str, ticket: int) -> dict[str, Any]:
    r = desk.get(f"/api/v1/tickets/{ticket}", token)
    assert r.status_code == 200, r.text
    return r.json()


def events_of(desk, token: str, ticket: int) -> list[dict[str, Any]]:
    r = desk.get(f"/api/v1/tickets/{ticket}/events", token, limit=1000)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def walk(value: Any) -> Iterator[tuple[str | None, Any]]:
    """Every (key, value) pair in a decoded frame, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def events_in(frame: dict[str, Any]) -> list[dict[str, Any]]:
    if frame.get("type") in ("event", "event_updated"):
        return [frame["event"]]
    return list(frame.get("events") or [])


class Seen:
    """Everything one visitor received: welcome, replies and pushes."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.frames: list[dict[str, Any]] = [client.welcome]

    async def ok(self, frame: dict[str, Any]) -> dict[str, Any]:
        reply = await self.client.ok(frame)
        self.frames.append(reply)
        return reply

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        reply = await self.client.request(frame)
        self.frames.append(reply)
        return reply

    async def event(self, ticket: int, kind: str, author: str | None = None) -> dict[str, Any]:
        got = await self.client.event(ticket, kind, author)
        self.frames.append({"type": "event", "event": got})
        return got

    def all(self) -> list[dict[str, Any]]:
        return self.frames + self.client.pushes

    def text(self) -> str:
        return repr(self.all())


def assert_visitor_view(seen: Seen, ticket: int) -> None:
    """Only the visitor's own ticket, public events, and no internal field anywhere."""
    for frame in seen.all():
        for key, _ in walk(frame):
            assert key not in INTERNAL_KEYS, f"internal '{key}' sent to a visitor: {frame}"
        if frame.get("type") in ("welcome", "ticket") and frame.get("ticket") is not None:
            shown = frame["ticket"]
            assert shown["id"] == ticket, frame
            assert set(shown) <= VISITOR_TICKET_KEYS, frame
            assert shown["assignee"] is None or set(shown["assignee"]) == {"name"}, frame
        if frame.get("type") == "ok" and "ticket" in frame:
            assert frame["ticket"] == ticket, frame
        for event in events_in(frame):
            assert event["ticket"] == ticket, frame
            assert event["visibility"] == "public", frame
            assert set(event) <= VISITOR_EVENT_KEYS, frame
            if event["author"]["type"] == "agent":
                assert event["author"]["id"] is None, frame


# --------------------------------------------------------------------------- REST


def api_routes() -> list[tuple[str, str]]:
    """(method, path) of every /api/v1 route of the app, read from its route table."""
    from starlette.routing import Mount

    from chatdesk.app import create_app
    from chatdesk.settings import Settings

    env = {"CHATDESK_DATA_DIR": tempfile.gettempdir(), "CHATDESK_SECRET_KEY": "k" * 32}
    app = create_app(Settings.from_environ(env))
    found: list[tuple[str, str]] = []

    def collect(routes: list[Any], prefix: str) -> None:
        for route in routes:
            path = prefix + getattr(route, "path", "")
            if isinstance(route, Mount):
                collect(route.routes, path)
            elif path.startswith("/api/v1/") and getattr(route, "methods", None):
                found.extend((m, path) for m in sorted(route.methods) if m != "HEAD")

    collect(app.routes, "")
    return found


def fill(path: str, ticket: int, customer: int) -> str:
    def value(match: re.Match[str]) -> str:
        if match.group(1) == "id" and path.startswith("/api/v1/tickets/"):
            return str(ticket)
        if match.group(1) == "id" and path.startswith("/api/v1/customers/"):
            return str(customer)
        return "1"

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


async def test_every_agent_route_refuses_a_visitor_token(desk, tokens):
    v = await visitor(desk)
    token = v.welcome["visitor_token"]
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "mine"}))["ticket"]
    customer = v.welcome["customer"]["id"]
    routes = [(m, p) for m, p in api_routes() if p not in NOT_AGENT_ROUTES]
    assert ("GET", "/api/v1/tickets") in routes and len(routes) > 20, routes
    callers = {
        "Visitor": {"headers": {"Authorization": f"Visitor {token}"}},
        "Bearer": {"headers": {"Authorization": f"Bearer {token}"}},
        # Same-origin, so the CSRF check lets it through to authentication.
        "cookie": {"cookies": {"chatdesk_session": token}, "headers": {"Origin": desk.url}},
        "nobody": {},
    }
    wrong = []
    for who, auth in callers.items():
        async with httpx.AsyncClient(base_url=desk.url, **auth) as http:
            for method, template in routes:
                path = fill(template, ticket, customer)
                body = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
                r = await http.request(method, path, **body)
                if r.status_code != 401 or r.json().get("code") != "unauthorized":
                    wrong.append(f"{method} {template} as {who}: {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)
    await v.close()


async def test_visitor_uploads_and_file_links(desk, tokens):
    a = await visitor(desk)
    b = await visitor(desk)
    a_auth = f"Visitor {a.welcome['visitor_token']}"
    mine = upload(desk, a_auth)
    assert mine.status_code == 201, mine.text
    att = mine.json()
    # The visitor upload route takes visitor tokens only.
    for auth in (f"Bearer {tokens['ana']}", f"Bearer {a.welcome['visitor_token']}", "Visitor x"):
        assert upload(desk, auth, "/api/v1/visitor/uploads").status_code == 401, auth
    assert httpx.post(desk.url + "/api/v1/visitor/uploads").status_code == 401
    # B cannot attach A's upload, before or after A used it; A cannot attach an agent's.
    b_ticket = (await b.ok({"type": "message", "client_msg_id": cid(), "body": "b"}))["ticket"]
    before = events_of(desk, tokens["admin"], b_ticket)
    steal = {"type": "message", "client_msg_id": cid(), "body": "x", "attachments": [att["id"]]}
    assert (await b.request(dict(steal, client_msg_id=cid())))["code"] == "not_found"
    sent = {"type": "message", "client_msg_id": cid(), "body": "a", "attachments": [att["id"]]}
    a_ticket = (await a.ok(sent))["ticket"]
    assert (await b.request(dict(steal, client_msg_id=cid())))["code"] == "not_found"
    agents_file = upload(desk, f"Bearer {tokens['ana']}").json()
    borrow = {"type": "message", "client_msg_id": cid(), "body": "y"}
    reply = await a.request({**borrow, "attachments": [agents_file["id"]]})
    assert reply["code"] == "not_found", reply
    assert events_of(desk, tokens["admin"], b_ticket) == before
    assert att["id"] not in repr(b.pushes)
    # A link is signed for one file: its exp and sig open nothing else.
    url = desk.url + att["url"]
    assert httpx.get(url).status_code == 200
    _, _, query = att["url"].partition("?")
    other = agents_file["id"]
    r = httpx.get(f"{desk.url}/files/{other}?{query}", headers={"Authorization": a_auth})
    assert r.status_code == 403
    r = httpx.get(f"{desk.url}/files/{att['id']}", headers={"Authorization": a_auth})
    assert r.status_code == 403, "a visitor token is no substitute for a signed link"
    assert a_ticket != b_ticket
    await a.close()
    await b.close()


# --------------------------------------------------------------------------- visitor channel


async def test_a_visitor_cannot_reach_another_visitors_ticket(desk, tokens):
    mark_a, mark_b = f"A-{tag()}", f"B-{tag()}"
    a = await visitor(desk)
    b = await visitor(desk)
    seen = Seen(a)
    ta = (await seen.ok({"type": "message", "client_msg_id": cid(), "body": mark_a}))["ticket"]
    tb = (await b.ok({"type": "message", "client_msg_id": cid(), "body": mark_b}))["ticket"]
    await b.ok({"type": "profile", "name": f"Bee {mark_b}", "email": f"{mark_b}@example.com"})
    ana = await agent(desk, tokens["ana"])
    for ticket in (ta, tb):
        await ana.ok({"type": "claim", "ticket": ticket})
    to_b = f"reply-to-{mark_b}"
    await ana.ok({"type": "send", "ticket": tb, "client_msg_id": cid(), "body": to_b})
    await b.event(tb, "message", author="agent")
    b_customer = b.welcome["customer"]["id"]
    b_before = ticket_of(desk, tokens["ana"], tb)
    b_events = events_of(desk, tokens["ana"], tb)

    # Visitor frames have no ticket field: naming B's ticket or customer is ignored.
    elsewhere = {"ticket": tb, "ticket_id": tb, "customer": b_customer, "id": b_customer}
    wrote = await seen.ok({"type": "message", "client_msg_id": cid(), "body": "hi", **elsewhere})
    assert wrote["ticket"] == ta
    for after in (0, -1, 2**31 - 1):
        await seen.ok({"type": "sync", "after_seq": after, **elsewhere})
    await seen.ok({"type": "read", "seq": 2**31 - 1, **elsewhere})
    await seen.ok({"type": "profile", "name": "Mallory", **elsewhere})
    # Agent commands do not exist on the visitor channel.
    for kind in ("watch", "claim", "send", "note", "status", "labels", "mask", "transfer"):
        command = {"type": kind, "after_seq": 0, "client_msg_id": cid(), "body": "x", **elsewhere}
        reply = await seen.request(command)
        assert reply["type"] == "error" and reply["code"] == "bad_request", reply
    # Reconnecting, even naming B's ticket in hello, resumes A's own ticket only.
    again = await visitor(desk, token=a.welcome["visitor_token"], after_seq=0, ticket=tb)
    seen.frames.append(again.welcome)
    await ana.ok({"type": "send", "ticket": tb, "client_msg_id": cid(), "body": f"more {mark_b}"})
    await ana.ok({"type": "send", "ticket": ta, "client_msg_id": cid(), "body": "for A"})
    await seen.event(ta, "message", author="agent")

    assert mark_b not in seen.text() and to_b not in seen.text()
    assert_visitor_view(seen, ta)
    assert a.welcome["customer"]["id"] != b_customer
    after = ticket_of(desk, tokens["ana"], tb)
    assert after["visitor_read_seq"] == b_before["visitor_read_seq"]
    assert after["customer"] == b_before["customer"], "A's profile frame changed B"
    assert events_of(desk, tokens["ana"], tb)[: len(b_events)] == b_events
    assert [e["body"] for e in events_of(desk, tokens["ana"], tb) if e["kind"] == "message"] == [
        mark_b,
        to_b,
        f"more {mark_b}",
    ]
    for c in (a, b, again, ana):
        await c.close()


async def test_a_read_with_a_huge_seq_marks_only_the_own_ticket(desk, tokens):
    a = await visitor(desk)
    b = await visitor(desk)
    ta = (await a.ok({"type": "message", "client_msg_id": cid(), "body": "a"}))["ticket"]
    tb = (await b.ok({"type": "message", "client_msg_id": cid(), "body": "b"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "watch", "ticket": tb})
    before = ticket_of(desk, tokens["ana"], tb)["visitor_read_seq"]
    for seq in (-5, 2**31 - 1):
        await a.ok({"type": "read", "seq": seq})
    shown = ticket_of(desk, tokens["ana"], ta)
    assert shown["visitor_read_seq"] == shown["last_seq"], "capped at the ticket's last seq"
    assert ticket_of(desk, tokens["ana"], tb)["visitor_read_seq"] == before
    assert not [p for p in ana.pushes if p["type"] == "read" and p["ticket"] == tb]
    for c in (a, b, ana):
        await c.close()


async def test_tokens_open_only_their_own_door(desk, tokens):
    """A visitor token is bound to its site and is no agent token, nor the reverse."""
    a = await visitor(desk)
    token = a.welcome["visitor_token"]
    site = call(desk, "POST", "/api/v1/sites", tokens["admin"], json={"name": f"Other {tag()}"})
    assert site.status_code == 201, site.text
    other = await visitor(desk, token=token, site=site.json()["key"])
    assert other.welcome["code"] == "unauthorized" and (await other.closed)[0] == 4401
    as_agent = await agent(desk, token)
    assert as_agent.welcome["code"] == "unauthorized" and (await as_agent.closed)[0] == 4401
    as_visitor = await visitor(desk, token=tokens["ana"])
    assert as_visitor.welcome["code"] == "unauthorized" and (await as_visitor.closed)[0] == 4401
    # A guessed token close to a real one opens nothing.
    near = await visitor(desk, token=token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert near.welcome["code"] == "unauthorized" and (await near.closed)[0] == 4401
    # An identity without a valid hmac does not make A someone else.
    b = await visitor(desk)
    identity = {"external_id": f"user-{b.welcome['customer']['id']}", "hmac": "0" * 64}
    forged = await visitor(desk, token=token, identity=identity)
    assert forged.welcome["customer"]["id"] == a.welcome["customer"]["id"]
    for c in (a, b, forged, other, as_agent, as_visitor, near):
        await c.close()


async def test_a_visitor_sees_no_internal_event_or_field(desk, tokens):
    secret = f"INTERNAL-{tag()}"
    label = f"vip-{tag()}"
    v = await visitor(desk)
    seen = Seen(v)
    first = await seen.ok({"type": "message", "client_msg_id": cid(), "body": "card 4111 1111"})
    ticket = first["ticket"]
    ana = await agent(desk, tokens["ana"])
    bo = await agent(desk, tokens["bo"])
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.ok({"type": "labels", "ticket": ticket, "add": [label]})
    await ana.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": secret})
    await ana.ok({"type": "mask", "ticket": ticket, "seq": first["seq"], "ranges": [[5, 14]]})
    await bo.ok({"type": "request_access", "ticket": ticket})
    await ana.ok({"type": "answer_access", "ticket": ticket, "agent": bo_id(bo), "grant": True})
    await bo.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "Bo here"})
    await ana.ok({"type": "status", "ticket": ticket, "to": "pending"})
    await seen.ok({"type": "message", "client_msg_id": cid(), "body": "still there?"})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "done"})
    await seen.event(ticket, "message", author="agent")
    again = await visitor(desk, token=v.welcome["visitor_token"], after_seq=0)
    seen.frames.append(again.welcome)
    await seen.ok({"type": "sync", "after_seq": 0})

    text = seen.text()
    for hidden in (secret, label, "ana@example.com", "bo@example.com"):
        assert hidden not in text, hidden
    # The masked digits are gone from storage: history read back shows only the mask.
    assert "4111 1111" not in repr(again.welcome) + repr(seen.frames[-1])
    assert_visitor_view(seen, ticket)
    kinds = {e["kind"] for f in seen.all() for e in events_in(f)}
    assert kinds <= {"message", "status"}, kinds
    names = {e["author"]["name"] for f in seen.all() for e in events_in(f)}
    assert {"Ana", "Bo"} <= names
    for c in (v, again, ana, bo):
        await c.close()


def bo_id(client: Client) -> int:
    return client.welcome["agent"]["id"]


# --------------------------------------------------------------------------- agents


async def test_an_agent_without_access_can_only_read(desk, tokens):
    v = await visitor(desk)
    first = await v.ok({"type": "message", "client_msg_id": cid(), "body": "call me 555 0100"})
    ticket = first["ticket"]
    ana = await agent(desk, tokens["ana"])
    bo = await agent(desk, tokens["bo"])
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "hello"})
    ana_id, me = ana.welcome["agent"]["id"], bo_id(bo)
    state = ticket_of(desk, tokens["admin"], ticket)
    history = events_of(desk, tokens["admin"], ticket)

    writes = [
        ({"type": "send", "client_msg_id": cid(), "body": "hijack"}, "forbidden"),
        ({"type": "note", "client_msg_id": cid(), "body": "n"}, "forbidden"),
        ({"type": "status", "to": "pending"}, "forbidden"),
        ({"type": "status", "to": "solved"}, "forbidden"),
        ({"type": "labels", "add": ["mine-now"]}, "forbidden"),
        ({"type": "labels", "remove": ["x"]}, "forbidden"),
        ({"type": "mask", "seq": first["seq"], "ranges": [[0, 4]]}, "forbidden"),
        ({"type": "release"}, "forbidden"),
        ({"type": "transfer", "agent": me}, "forbidden"),
        ({"type": "transfer", "agent": ana_id}, "forbidden"),
        ({"type": "revoke_access", "agent": ana_id}, "forbidden"),
        ({"type": "answer_access", "agent": me, "grant": True}, "forbidden"),
        ({"type": "claim"}, "conflict"),  # taken already: nobody claims it twice
    ]
    for frame, code in writes:
        reply = await bo.request({**frame, "ticket": ticket})
        assert reply["type"] == "error" and reply["code"] == code, (frame, reply)
    await bo.send({"type": "typing", "ticket": ticket, "on": True})  # dropped, no answer

    # The REST twins of writes on a ticket refuse too, whatever the route.
    rest_writes = [
        (m, p)
        for m, p in api_routes()
        if p.startswith("/api/v1/tickets/{id}")
        and m in ("POST", "PATCH", "PUT", "DELETE")
        and not p.endswith("/preview")
    ]
    assert ("POST", "/api/v1/tickets/{id}/labels") in rest_writes
    for method, template in rest_writes:
        path = fill(template, ticket, 0)
        body = {"add": ["mine-now"], "title": "mine", "ticket": ticket, "priority": "urgent"}
        r = call(desk, method, path, tokens["bo"], json=body)
        assert 400 <= r.status_code < 500, (method, template, r.status_code, r.text)
        if template == "/api/v1/tickets/{id}/labels":
            assert r.status_code == 403 and r.json()["code"] == "forbidden"

    # Nothing changed.
    assert ticket_of(desk, tokens["admin"], ticket) == state
    assert events_of(desk, tokens["admin"], ticket) == history
    assert not [p for p in v.pushes if p["type"] == "typing"]

    # Reading is open to every agent.
    watched = await bo.ok({"type": "watch", "ticket": ticket})
    assert [e["seq"] for e in watched["events"]] == [e["seq"] for e in history]
    synced = await bo.ok({"type": "sync", "ticket": ticket, "after_seq": 0})
    assert synced["events"] == watched["events"]
    assert desk.get(f"/api/v1/tickets/{ticket}", tokens["bo"]).status_code == 200
    assert events_of(desk, tokens["bo"], ticket) == history

    # Asking is allowed; asking is not getting, and Bo cannot answer his own request.
    await bo.ok({"type": "request_access", "ticket": ticket})
    asked = await ana.push(lambda f: f["type"] == "access_request" and f["ticket"] == ticket)
    assert asked["agent"]["id"] == me
    grant = {"type": "answer_access", "ticket": ticket, "agent": me, "grant": True}
    assert (await bo.request(grant))["code"] == "forbidden"
    send = {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "now?"}
    assert (await bo.request(send))["code"] == "forbidden"
    await ana.ok({**grant, "grant": False})
    assert (await bo.request({**send, "client_msg_id": cid()}))["code"] == "forbidden"
    assert ticket_of(desk, tokens["admin"], ticket)["collaborators"] == []
    for c in (v, ana, bo):
        await c.close()
