"""Agent accounts: invitations, password resets, TOTP, and an agent's own sessions.

Every link or challenge is a one-time secret of which only the SHA-256 is kept
(``account_tokens``). A TOTP code is accepted once: its time step must be later
than the last one accepted for the agent, so a replayed code is refused, and a
code more than one step (30 s) away from now is refused as expired.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, NotFound, Unauthorized
from chatdesk.services.agents import (
    Principal,
    check_email,
    create_agent,
    hash_password,
    open_session,
)
from chatdesk.services.secrets_ import new_token, token_hash
from chatdesk.services.timeline import iso
from chatdesk.store.models import Agent, AgentToken, utcnow
from chatdesk.store.models_ops import AccountToken

INVITE_TTL = timedelta(hours=72)
RESET_TTL = timedelta(hours=1)
CHALLENGE_TTL = timedelta(minutes=5)
CHALLENGE_ATTEMPTS = 5
ISSUER = "chatdesk"
ROLES = ("agent", "admin")
WRONG_CODE = "the code is wrong, expired or used already"


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)  # SQLite hands back naive UTC


async def _issue(session: AsyncSession, kind: str, ttl: timedelta, **fields: Any) -> str:
    token = new_token()
    session.add(
        AccountToken(
            kind=kind, token_hash=token_hash(token), expires_at=utcnow() + ttl,
            attempts=0, **fields,
        )
    )  # fmt: skip
    await session.flush()
    return token


async def _redeem(session: AsyncSession, kind: str, token: str, what: str) -> AccountToken:
    """The live token of this kind, locked; one answer for unknown, used and expired."""
    row = await session.scalar(
        select(AccountToken)
        .where(AccountToken.token_hash == token_hash(token), AccountToken.kind == kind)
        .with_for_update()
    )
    if row is None or row.used_at is not None or _aware(row.expires_at) < utcnow():
        raise Unauthorized(f"this {what} is not valid or has expired")
    return row


async def _retire(session: AsyncSession, kind: str, **match: Any) -> None:
    """Earlier open tokens of the same purpose stop working when a new one is made."""
    conds = [getattr(AccountToken, k) == v for k, v in match.items()]
    await session.execute(
        update(AccountToken)
        .where(AccountToken.kind == kind, AccountToken.used_at.is_(None), *conds)
        .values(used_at=utcnow())
    )


# ------------------------------------------------------------------ invitations


@dataclass(frozen=True, slots=True)
class Invitation:
    token: str
    email: str
    name: str
    role: str
    expires_at: str


async def invite(
    session: AsyncSession, by: Principal, email: Any, name: Any, role: Any
) -> Invitation:
    if not isinstance(email, str) or not isinstance(name, str):
        raise BadRequest("an invitation needs 'email' and 'name'")
    email = check_email(email)
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise BadRequest("'name' is 1 to 200 characters")
    role = "agent" if role is None else role
    if role not in ROLES:
        raise BadRequest("'role' is agent or admin")
    if await session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise Conflict(f"an agent with e-mail {email} exists already")
    await _retire(session, "invite", email=email)
    token = await _issue(
        session, "invite", INVITE_TTL, email=email, name=name, role=role,
        created_by=by.id if not by.is_system else None,
    )  # fmt: skip
    return Invitation(token, email, name, role, iso(utcnow() + INVITE_TTL))


async def accept_invite(session: AsyncSession, token: str, password: str) -> Agent:
    row = await _redeem(session, "invite", token, "invitation")
    # A refused password raises before the commit: the invitation stays usable.
    agent = await create_agent(
        session, row.email or "", row.name or "", password, admin=row.role == "admin"
    )
    row.used_at = utcnow()
    row.agent_id = agent.id
    await session.flush()
    return agent


# ------------------------------------------------------------------ password reset


async def request_reset(session: AsyncSession, email: str) -> tuple[str, Agent] | None:
    """A reset token for an active agent; None (and nothing stored) for anybody else."""
    try:
        email = check_email(email)
    except BadRequest:
        return None
    agent = await session.scalar(select(Agent).where(Agent.email == email))
    if agent is None or not agent.active:
        return None
    await _retire(session, "reset", agent_id=agent.id)
    return await _issue(session, "reset", RESET_TTL, agent_id=agent.id), agent


async def confirm_reset(session: AsyncSession, token: str, password: str) -> Agent:
    row = await _redeem(session, "reset", token, "reset link")
    agent = await session.get(Agent, row.agent_id) if row.agent_id else None
    if agent is None or not agent.active:
        raise Unauthorized("this reset link is not valid or has expired")
    agent.password_hash = await hash_password(password)
    row.used_at = utcnow()
    await revoke_all(session, agent.id)  # whoever knew the old password is logged out
    await session.flush()
    return agent


async def revoke_all(session: AsyncSession, agent_id: int) -> None:
    await session.execute(
        update(AgentToken)
        .where(AgentToken.agent_id == agent_id, AgentToken.revoked.is_(False))
        .values(revoked=True)
    )


# ------------------------------------------------------------------ TOTP


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def provisioning(agent: Agent) -> dict[str, str]:
    assert agent.totp_secret is not None
    uri = _totp(agent.totp_secret).provisioning_uri(name=agent.email, issuer_name=ISSUER)
    return {"secret": agent.totp_secret, "uri": uri}


def matching_step(secret: str, code: Any, last_step: int, now: float | None = None) -> int | None:
    """The time step ``code`` is valid for (now, or one step either side), if later than
    ``last_step``; None when wrong, expired or replayed."""
    if not isinstance(code, str) or len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = _totp(secret)
    current = int((time.time() if now is None else now) // totp.interval)
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def _agent(session: AsyncSession, agent_id: int) -> Agent:
    agent = await session.get(Agent, agent_id, with_for_update=True)
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    return agent


async def totp_setup(session: AsyncSession, agent_id: int) -> dict[str, str]:
    agent = await _agent(session, agent_id)
    if agent.totp_enabled:
        raise Conflict("TOTP is on already; turn it off first to set up a new secret")
    agent.totp_secret = pyotp.random_base32()
    await session.flush()
    return provisioning(agent)


async def totp_enable(session: AsyncSession, agent_id: int, code: Any) -> None:
    """Turn TOTP on with a first code from the authenticator."""
    agent = await _agent(session, agent_id)
    if agent.totp_enabled:
        raise Conflict("TOTP is on already")
    if agent.totp_secret is None:
        raise Conflict("call totp/setup first")
    step = matching_step(agent.totp_secret, code, agent.totp_last_step)
    if step is None:
        raise BadRequest(WRONG_CODE)
    agent.totp_enabled = True
    agent.totp_last_step = step
    await session.flush()


async def totp_disable(session: AsyncSession, agent_id: int, code: Any) -> None:
    agent = await _agent(session, agent_id)
    if not agent.totp_enabled or agent.totp_secret is None:
        raise Conflict("TOTP is not on")
    if agent.totp_required:
        raise Conflict("an admin requires TOTP for this account")
    step = matching_step(agent.totp_secret, code, agent.totp_last_step)
    if step is None:
        raise BadRequest(WRONG_CODE)
    agent.totp_enabled = False
    agent.totp_secret = None
    agent.totp_last_step = step
    await session.flush()


async def set_totp(session: AsyncSession, agent_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Admin: require TOTP of an agent, or reset it (a lost phone)."""
    agent = await _agent(session, agent_id)
    if "required" not in body and "reset" not in body:
        raise BadRequest("send 'required' and/or 'reset'")
    for key in ("required", "reset"):
        if key in body and not isinstance(body[key], bool):
            raise BadRequest(f"'{key}' is true or false")
    if body.get("reset"):
        agent.totp_enabled = False
        agent.totp_secret = None
    if "required" in body:
        agent.totp_required = body["required"]
    await session.flush()
    return security_view(agent)


def security_view(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "totp_enabled": agent.totp_enabled,
        "totp_required": agent.totp_required,
    }


# ------------------------------------------------------------------ second step of a login


async def challenge(session: AsyncSession, agent_id: int) -> dict[str, Any]:
    """The answer to a right password when a code is needed too."""
    agent = await _agent(session, agent_id)
    await _retire(session, "challenge", agent_id=agent.id)
    answer: dict[str, Any] = {"totp_required": True}
    if not agent.totp_enabled:
        # Required but never set up: the login itself enrols, with the first code.
        if agent.totp_secret is None:
            agent.totp_secret = pyotp.random_base32()
        answer["setup"] = provisioning(agent)
    answer["challenge"] = await _issue(session, "challenge", CHALLENGE_TTL, agent_id=agent.id)
    return answer


async def complete(
    session: AsyncSession, challenge_token: str, code: Any
) -> tuple[str, Agent] | None:
    """A session token once the code matches; None when it does not (the attempt counts)."""
    row = await _redeem(session, "challenge", challenge_token, "login challenge")
    if row.attempts >= CHALLENGE_ATTEMPTS:
        raise Unauthorized("too many wrong codes: log in again")
    agent = await _agent(session, row.agent_id or 0)
    if not agent.active or agent.totp_secret is None:
        raise Unauthorized("this login challenge is not valid or has expired")
    step = matching_step(agent.totp_secret, code, agent.totp_last_step)
    if step is None:
        row.attempts += 1
        await session.flush()
        return None
    row.used_at = utcnow()
    agent.totp_last_step = step
    agent.totp_enabled = True
    await session.flush()
    return await open_session(session, agent), agent


# ------------------------------------------------------------------ sessions


async def sessions(session: AsyncSession, agent: Principal) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(AgentToken)
            .where(AgentToken.agent_id == agent.id, AgentToken.revoked.is_(False))
            .order_by(AgentToken.id.desc())
        )
    ).scalars()
    now = utcnow()
    return [
        {
            "id": t.id,
            "created_at": iso(t.created_at),
            "expires_at": iso(t.expires_at),
            "current": t.id == agent.token_id,
        }
        for t in rows
        if _aware(t.expires_at) > now
    ]


async def revoke_session(session: AsyncSession, agent: Principal, session_id: int) -> None:
    done = await session.execute(
        update(AgentToken)
        .where(
            AgentToken.id == session_id,
            AgentToken.agent_id == agent.id,
            AgentToken.revoked.is_(False),
        )
        .values(revoked=True)
    )
    if not done.rowcount:
        raise NotFound(f"no session {session_id} of yours")
