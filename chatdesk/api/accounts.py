"""Account security over REST: invitations, password reset, TOTP, sessions (section 11).

Links go out by mail through the mail feature (``desk.ext["mail"]``). With
CHATDESK_DEBUG_MAIL_LINKS (tests only) the answer also carries the link.
A reset request answers the same whether or not the address is an agent's.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import (
    SESSION_COOKIE,
    current_agent,
    desk,
    json_body,
    path_id,
    require_admin,
    text_field,
)
from chatdesk.desk import Desk
from chatdesk.errors import BadRequest, Unauthorized
from chatdesk.ops import audit
from chatdesk.realtime import bus
from chatdesk.services import accounts
from chatdesk.services.agents import SESSION_DAYS, Principal
from chatdesk.services.team import agent_view
from chatdesk.store.models import Agent

log = logging.getLogger(__name__)


def _ip(request: Request) -> str:
    return request.client.host if request.client else "?"


async def _limit(request: Request, key: str) -> None:
    """Guessing tokens and codes is slowed like guessing passwords."""
    d = desk(request)
    assert d.rules is not None
    await d.limiter.hit(d.rules.logins, f"{key}|{_ip(request)}")
    await d.limiter.hit(d.rules.logins_per_ip, _ip(request))


async def _mail(d: Desk, to: str, subject: str, text: str) -> bool:
    mail = d.ext.get("mail")
    if mail is None:
        log.warning("no mail feature runs: %s was not sent", subject.lower())
        return False
    try:
        await mail.send_system_mail(to, subject, text)
        return True
    except Exception as exc:
        log.warning("%s could not be queued: %s", subject.lower(), type(exc).__name__)
        return False


def _link(request: Request, kind: str, token: str) -> str:
    # The token rides in the fragment: browsers never send it to a server or in a Referer.
    return f"{str(request.base_url).rstrip('/')}/console/#{kind}={token}"


def _with_link(d: Desk, answer: dict[str, Any], link: str | None) -> dict[str, Any]:
    if d.settings.debug_mail_links and link is not None:
        answer["link"] = link
    return answer


def _session_response(request: Request, token: str, agent: Agent) -> Response:
    """The answer of a completed login: the token, and the same secret as a cookie."""
    response = JSONResponse({"token": token, "agent": Principal.of(agent).wire()})
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=desk(request).settings.cookie_secure or request.url.scheme == "https",
        path="/",
    )
    return response


# ------------------------------------------------------------------ invitations


async def invite(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    body = await json_body(request)
    d = desk(request)
    async with d.writes() as session, session.begin():
        inv = await accounts.invite(
            session, admin, body.get("email"), body.get("name"), body.get("role")
        )
        await audit.record(
            session, admin, "agent.invite", "invitation", {"email": inv.email, "role": inv.role}
        )
    link = _link(request, "invite", inv.token)
    mailed = await _mail(
        d,
        inv.email,
        "Your invitation to chatdesk",
        f"Hello {inv.name},\n\n{admin.name} invites you to answer chats on chatdesk.\n"
        f"Choose your password here (the link works for 72 hours):\n\n{link}\n",
    )
    answer = {"email": inv.email, "name": inv.name, "role": inv.role,
              "expires_at": inv.expires_at, "mailed": mailed}  # fmt: skip
    return JSONResponse(_with_link(d, answer, link), status_code=201)


async def accept_invite(request: Request) -> Response:
    body = await json_body(request)
    token = text_field(body, "token", 200)
    password = text_field(body, "password", 1024)
    await _limit(request, "invite")
    async with desk(request).writes() as session, session.begin():
        agent = await accounts.accept_invite(session, token, password)
        await audit.record(session, Principal.of(agent), "agent.join", f"agent:{agent.id}")
    return JSONResponse({"agent": agent_view(agent)}, status_code=201)


# ------------------------------------------------------------------ password reset


async def reset(request: Request) -> Response:
    body = await json_body(request)
    email = text_field(body, "email", 320)
    await _limit(request, f"reset:{email.strip().lower()}")
    d = desk(request)
    base = _link(request, "reset", "")
    ops = d.ext.get("ops")
    if d.settings.debug_mail_links or ops is None:
        link = await _send_reset(d, base, email)
        return JSONResponse(_with_link(d, {"status": "sent"}, link), status_code=202)
    # Off the request's path, so neither the answer nor its timing tells whether an
    # agent has this address.
    ops.spawn(_send_reset(d, base, email))
    return JSONResponse({"status": "sent"}, status_code=202)


async def _send_reset(d: Desk, base: str, email: str) -> str | None:
    async with d.writes() as session, session.begin():
        found = await accounts.request_reset(session, email)
    if found is None:
        return None
    token, agent = found
    link = base + token
    await _mail(
        d,
        agent.email,
        "Reset your chatdesk password",
        f"Hello {agent.name},\n\nSomebody asked to reset your chatdesk password. If it was you,\n"
        f"choose a new one here (the link works for an hour):\n\n{link}\n\n"
        "If it was not you, ignore this mail: your password stays as it is.\n",
    )
    return link


async def reset_confirm(request: Request) -> Response:
    body = await json_body(request)
    token = text_field(body, "token", 200)
    password = text_field(body, "password", 1024)
    await _limit(request, "reset-confirm")
    d = desk(request)
    async with d.writes() as session, session.begin():
        agent = await accounts.confirm_reset(session, token, password)
        await audit.record(session, Principal.of(agent), "auth.password_reset", f"agent:{agent.id}")
    # Every session ended with the old password: close its live sockets everywhere too.
    d.broker.publish([bus.pack(bus.agent_topic(agent.id), bus.KickMsg(agent.id))])
    return JSONResponse({"status": "ok"})


# ------------------------------------------------------------------ TOTP


async def login_totp(request: Request) -> Response:
    body = await json_body(request)
    challenge = text_field(body, "challenge", 200)
    code = body.get("code")
    if not isinstance(code, str):
        raise BadRequest("'code' is the 6 digits of the authenticator, as a string")
    await _limit(request, "totp")
    async with desk(request).writes() as session, session.begin():
        done = await accounts.complete(session, challenge, code)
    if done is None:
        raise Unauthorized(accounts.WRONG_CODE)
    token, agent = done
    return _session_response(request, token, agent)


async def totp_setup(request: Request) -> Response:
    agent = await current_agent(request)
    async with desk(request).writes() as session, session.begin():
        return JSONResponse(await accounts.totp_setup(session, agent.id))


async def totp_enable(request: Request) -> Response:
    agent = await current_agent(request)
    body = await json_body(request)
    await _limit(request, f"totp-enable:{agent.id}")
    async with desk(request).writes() as session, session.begin():
        await accounts.totp_enable(session, agent.id, body.get("code"))
        await audit.record(session, agent, "auth.totp_enabled", f"agent:{agent.id}")
    return JSONResponse({"totp_enabled": True})


async def totp_disable(request: Request) -> Response:
    agent = await current_agent(request)
    body = await json_body(request)
    await _limit(request, f"totp-disable:{agent.id}")
    async with desk(request).writes() as session, session.begin():
        await accounts.totp_disable(session, agent.id, body.get("code"))
        await audit.record(session, agent, "auth.totp_disabled", f"agent:{agent.id}")
    return JSONResponse({"totp_enabled": False})


async def agent_totp(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    agent_id = path_id(request, "an agent id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        shown = await accounts.set_totp(session, agent_id, body)
        detail = {k: body[k] for k in ("required", "reset") if k in body}
        await audit.record(session, admin, "agent.totp", f"agent:{agent_id}", detail)
    return JSONResponse(shown)


# ------------------------------------------------------------------ sessions


async def sessions(request: Request) -> Response:
    agent = await current_agent(request)
    async with desk(request).reads() as session:
        items = await accounts.sessions(session, agent)
    return JSONResponse({"items": items, "next_cursor": None})


async def revoke_session(request: Request) -> Response:
    agent = await current_agent(request)
    session_id = path_id(request, "a session id")
    d = desk(request)
    async with d.writes() as session, session.begin():
        await accounts.revoke_session(session, agent, session_id)
    ops = d.ext.get("ops")
    if ops is not None:
        ops.revoke_sockets(session_id)
    return Response(status_code=204)


routes = [
    Route("/api/v1/agents/invite", invite, methods=["POST"]),
    Route("/api/v1/agents/{id}/totp", agent_totp, methods=["PUT"]),
    Route("/api/v1/auth/invite/accept", accept_invite, methods=["POST"]),
    Route("/api/v1/auth/reset", reset, methods=["POST"]),
    Route("/api/v1/auth/reset/confirm", reset_confirm, methods=["POST"]),
    Route("/api/v1/auth/login/totp", login_totp, methods=["POST"]),
    Route("/api/v1/auth/totp/setup", totp_setup, methods=["POST"]),
    Route("/api/v1/auth/totp/enable", totp_enable, methods=["POST"]),
    Route("/api/v1/auth/totp/disable", totp_disable, methods=["POST"]),
    Route("/api/v1/auth/sessions", sessions, methods=["GET"]),
    Route("/api/v1/auth/sessions/{id}", revoke_session, methods=["DELETE"]),
]
