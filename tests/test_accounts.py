"""Agent accounts: invitations, password reset, TOTP, sessions, deactivation everywhere."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest

from tests.client import TIMEOUT, agent
from tests.servers import Server
from tests.sql import sql


def call(server: Server, method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, server.url + path, headers=headers, timeout=TIMEOUT, **kw)


def login(server: Server, email: str, password: str) -> httpx.Response:
    return call(server, "POST", "/api/v1/auth/login", json={"email": email, "password": password})


def new_email() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture(scope="module", params=["sqlite+redis", "postgres"])
def pair(request, make_backend):
    """Two processes of one desk (one database, one Redis), mail links in answers."""
    base = make_backend(request.param, f"accounts-{request.param.replace('+', '-')}")
    backend = dataclasses.replace(base, extra={"CHATDESK_DEBUG_MAIL_LINKS": "1"})
    a = Server(backend).start()
    b = Server(backend).start()
    b.site_key, b.admin_password = a.site_key, a.admin_password
    yield a, b
    a.stop()
    b.stop()


def add_agent(server: Server, admin: str, password: str = "first-password") -> tuple[str, int]:
    email = new_email()
    body = {"email": email, "name": "Tess", "password": password, "role": "agent"}
    r = call(server, "POST", "/api/v1/agents", admin, json=body)
    assert r.status_code == 201, r.text
    return email, r.json()["id"]


def token_of(link: str) -> str:
    return link.rsplit("=", 1)[1]


async def test_invitation_link_sets_a_password_once_and_expires(pair):
    a, _ = pair
    admin = a.login()
    email = new_email()
    body = {"email": email, "name": "Ina", "role": "agent"}
    ana_email, _ = add_agent(a, admin)
    plain = login(a, ana_email, "first-password").json()["token"]
    assert call(a, "POST", "/api/v1/agents/invite", plain, json=body).status_code == 403
    for bad in ({"email": "nope", "name": "x"}, {"name": "x"}, {"email": email, "name": " "},
                {"email": email, "name": "x", "role": "owner"}):  # fmt: skip
        r = call(a, "POST", "/api/v1/agents/invite", admin, json=bad)
        assert r.status_code == 400 and r.json()["code"] == "bad_request", r.text
    taken = call(a, "POST", "/api/v1/agents/invite", admin, json={**body, "email": ana_email})
    assert taken.status_code == 409
    r = call(a, "POST", "/api/v1/agents/invite", admin, json=body)
    assert r.status_code == 201, r.text
    invited = r.json()
    assert invited["email"] == email and "#invite=" in invited["link"]
    expires = datetime.fromisoformat(invited["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=71) < expires - datetime.now(UTC) <= timedelta(hours=72)
    token = token_of(invited["link"])
    accept = "/api/v1/auth/invite/accept"
    short = call(a, "POST", accept, json={"token": token, "password": "short"})
    assert short.status_code == 400  # refused before the invitation is used up
    wrong = call(a, "POST", accept, json={"token": "x" * 43, "password": "long-enough-1"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
    assert call(a, "POST", accept, json={"token": token}).status_code == 400
    done = call(a, "POST", accept, json={"token": token, "password": "long-enough-1"})
    assert done.status_code == 201, done.text
    assert done.json()["agent"]["email"] == email and done.json()["agent"]["role"] == "agent"
    assert login(a, email, "long-enough-1").status_code == 200
    again = call(a, "POST", accept, json={"token": token, "password": "long-enough-2"})
    assert again.status_code == 401
    assert login(a, email, "long-enough-1").status_code == 200  # the second try changed nothing
    # An invitation older than 72 hours opens nothing.
    late_email = new_email()
    late = call(a, "POST", "/api/v1/agents/invite", admin, json={**body, "email": late_email})
    sql(a.backend, "UPDATE account_tokens SET expires_at = :t WHERE email = :e",
        t=datetime.now(UTC) - timedelta(minutes=1), e=late_email)  # fmt: skip
    expired = call(
        a, "POST", accept, json={"token": token_of(late.json()["link"]), "password": "pw-123456"}
    )
    assert expired.status_code == 401
    assert login(a, late_email, "pw-123456").status_code == 401
    audit = call(a, "GET", "/api/v1/audit", admin, params={"action": "agent.invite"}).json()
    assert any(e["detail"]["email"] == email for e in audit["items"])


async def test_password_reset_reveals_nothing_and_logs_out_everywhere(pair):
    a, b = pair
    admin = a.login()
    email, _ = add_agent(a, admin, "old-password")
    old = login(a, email, "old-password").json()["token"]
    ws = await agent(b, old)  # a live socket on the other process
    assert ws.welcome["type"] == "welcome"
    known = call(a, "POST", "/api/v1/auth/reset", json={"email": email})
    unknown = call(a, "POST", "/api/v1/auth/reset", json={"email": new_email()})
    assert known.status_code == unknown.status_code == 202
    assert known.json()["status"] == unknown.json()["status"] == "sent"
    assert "link" not in unknown.json()  # only the debug setting shows a link at all
    assert call(a, "POST", "/api/v1/auth/reset", json={}).status_code == 400
    token = token_of(known.json()["link"])
    confirm = "/api/v1/auth/reset/confirm"
    assert call(a, "POST", confirm, json={"token": token, "password": "x"}).status_code == 400
    assert login(a, email, "old-password").status_code == 200  # nothing changed yet
    bad = call(a, "POST", confirm, json={"token": "nope-" * 8, "password": "new-password"})
    assert bad.status_code == 401
    ok = call(a, "POST", confirm, json={"token": token, "password": "new-password"})
    assert ok.status_code == 200, ok.text
    code, _ = await ws.closed
    assert code == 4401
    assert call(a, "GET", "/api/v1/auth/sessions", old).status_code == 401
    assert login(a, email, "old-password").status_code == 401
    assert login(a, email, "new-password").status_code == 200
    reused = call(a, "POST", confirm, json={"token": token, "password": "newer-password"})
    assert reused.status_code == 401


def code_at(secret: str, offset_s: float) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset_s)


def clear_of_step_edge(margin_s: float = 3.0) -> None:
    """Wait out the end of a 30 s step: a code for the step before this one is still
    accepted now, but not once the next step has begun on the server's side."""
    left = 30 - time.time() % 30
    if left < margin_s:
        time.sleep(left + 0.1)


async def test_totp_login_refuses_replayed_expired_and_guessed_codes(pair):
    a, _ = pair
    admin = a.login()
    email, _ = add_agent(a, admin, "totp-password")
    token = login(a, email, "totp-password").json()["token"]
    setup = call(a, "POST", "/api/v1/auth/totp/setup", token)
    assert setup.status_code == 200
    secret, uri = setup.json()["secret"], setup.json()["uri"]
    assert uri.startswith("otpauth://totp/") and secret in uri
    enable = "/api/v1/auth/totp/enable"
    assert call(a, "POST", enable, token, json={"code": "000000x"}).status_code == 400
    assert call(a, "POST", enable, token, json={}).status_code == 400
    digits = "\u0661\u0662\u0663\u0664\u0665\u0666"  # not ASCII digits
    assert call(a, "POST", enable, token, json={"code": digits}).status_code == 400
    clear_of_step_edge()
    assert call(a, "POST", enable, token, json={"code": code_at(secret, -30)}).status_code == 200
    assert call(a, "POST", enable, token, json={"code": code_at(secret, 0)}).status_code == 409
    assert call(a, "POST", "/api/v1/auth/totp/setup", token).status_code == 409

    first = login(a, email, "totp-password")
    assert first.status_code == 200 and first.json()["totp_required"] is True
    assert "token" not in first.json() and "setup" not in first.json()
    challenge = first.json()["challenge"]
    step = "/api/v1/auth/login/totp"
    expired = call(a, "POST", step, json={"challenge": challenge, "code": code_at(secret, -90)})
    assert expired.status_code == 401 and expired.json()["code"] == "unauthorized"
    assert call(a, "POST", step, json={"challenge": challenge, "code": 123}).status_code == 400
    now = code_at(secret, 0)
    done = call(a, "POST", step, json={"challenge": challenge, "code": now})
    assert done.status_code == 200, done.text
    assert done.json()["agent"]["email"] == email
    assert call(a, "GET", "/api/v1/auth/sessions", done.json()["token"]).status_code == 200
    assert call(a, "POST", step, json={"challenge": challenge, "code": now}).status_code == 401
    replay = login(a, email, "totp-password").json()["challenge"]
    replayed = call(a, "POST", step, json={"challenge": replay, "code": now})
    assert replayed.status_code == 401  # the same code, a fresh challenge: still refused
    ahead = call(a, "POST", step, json={"challenge": replay, "code": code_at(secret, 30)})
    assert ahead.status_code == 200

    guessed = login(a, email, "totp-password").json()["challenge"]
    for _ in range(5):
        wrong = call(a, "POST", step, json={"challenge": guessed, "code": "000000"})
        assert wrong.status_code == 401
    spent = call(a, "POST", step, json={"challenge": guessed, "code": code_at(secret, 30)})
    assert spent.status_code == 401  # five wrong codes end a challenge
    assert login(a, email, "wrong-password").status_code == 401


async def test_an_admin_requires_totp_and_the_login_enrols(pair):
    a, _ = pair
    admin = a.login()
    email, agent_id = add_agent(a, admin, "enrol-password")
    plain = login(a, email, "enrol-password").json()["token"]
    path = f"/api/v1/agents/{agent_id}/totp"
    assert call(a, "PUT", path, plain, json={"required": True}).status_code == 403
    assert call(a, "PUT", path, admin, json={"required": "yes"}).status_code == 400
    assert call(a, "PUT", path, admin, json={}).status_code == 400
    assert (
        call(a, "PUT", "/api/v1/agents/999999/totp", admin, json={"required": True}).status_code
        == 404
    )
    shown = call(a, "PUT", path, admin, json={"required": True})
    assert shown.status_code == 200 and shown.json()["totp_required"] is True
    answer = login(a, email, "enrol-password").json()
    assert answer["totp_required"] is True and answer["setup"]["uri"].startswith("otpauth://")
    secret = answer["setup"]["secret"]
    done = call(
        a, "POST", "/api/v1/auth/login/totp",
        json={"challenge": answer["challenge"], "code": code_at(secret, 0)},
    )  # fmt: skip
    assert done.status_code == 200, done.text
    token = done.json()["token"]
    refused = call(
        a, "POST", "/api/v1/auth/totp/disable", token, json={"code": code_at(secret, 30)}
    )
    assert refused.status_code == 409  # required by an admin
    again = login(a, email, "enrol-password").json()
    assert "setup" not in again  # enrolled now: a code, not a new secret
    entries = call(a, "GET", "/api/v1/audit", admin, params={"action": "agent.totp"}).json()
    assert entries["items"][0]["target"] == f"agent:{agent_id}"


async def test_sessions_are_listed_and_revoked_with_their_sockets(pair):
    a, b = pair
    admin = a.login()
    email, _ = add_agent(a, admin, "session-password")
    one = login(a, email, "session-password").json()["token"]
    two = login(a, email, "session-password").json()["token"]
    listed = call(a, "GET", "/api/v1/auth/sessions", one).json()["items"]
    assert len(listed) == 2 and [s["current"] for s in listed].count(True) == 1
    mine = next(s for s in listed if s["current"])
    other = next(s for s in listed if not s["current"])
    ws = await agent(b, two)
    keep = await agent(b, one)
    admin_sessions = call(a, "GET", "/api/v1/auth/sessions", admin).json()["items"]
    foreign = admin_sessions[0]["id"]
    assert call(a, "DELETE", f"/api/v1/auth/sessions/{foreign}", one).status_code == 404
    assert call(a, "DELETE", "/api/v1/auth/sessions/abc", one).status_code == 400
    assert call(a, "DELETE", f"/api/v1/auth/sessions/{other['id']}", one).status_code == 204
    code, _ = await ws.closed
    assert code == 4401
    assert call(a, "GET", "/api/v1/auth/sessions", two).status_code == 401
    assert call(a, "DELETE", f"/api/v1/auth/sessions/{other['id']}", one).status_code == 404
    left = call(a, "GET", "/api/v1/auth/sessions", one).json()["items"]
    assert [s["id"] for s in left] == [mine["id"]]
    await keep.ok({"type": "ping"})  # the other session's socket stays
    await keep.close()


async def test_deactivated_agent_is_closed_on_every_process(pair):
    a, b = pair
    admin = a.login()
    email, agent_id = add_agent(a, admin, "leaving-password")
    token = login(b, email, "leaving-password").json()["token"]
    ws = await agent(b, token)  # on process B
    assert ws.welcome["type"] == "welcome"
    r = call(a, "PATCH", f"/api/v1/agents/{agent_id}", admin, json={"active": False})  # on A
    assert r.status_code == 200 and r.json()["active"] is False
    started = time.monotonic()
    code, _ = await ws.closed
    assert code == 4401
    # Measured, not asserted (shared CI machines): it is well under a second here.
    print(f"deactivated socket closed after {time.monotonic() - started:.3f}s")
    assert call(b, "GET", "/api/v1/auth/sessions", token).status_code == 401
    assert login(b, email, "leaving-password").status_code == 401
    entries = call(a, "GET", "/api/v1/audit", admin, params={"action": "agent.deactivate"})
    assert any(e["target"] == f"agent:{agent_id}" for e in entries.json()["items"])
