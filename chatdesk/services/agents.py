"""Agents, their passwords and their login sessions."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, Unauthorized
from chatdesk.services.secrets_ import new_token, token_hash
from chatdesk.store.models import Agent, AgentToken, utcnow

_hasher = PasswordHasher()
SESSION_DAYS = 30
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Verified against when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("chatdesk-no-such-agent")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated agent as handlers see it."""

    id: int
    name: str
    email: str
    role: str
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role in ("admin", "system")

    @property
    def is_system(self) -> bool:
        """Automation (triggers, jobs, mail): acts with admin rights, recorded as `system`."""
        return self.role == "system"

    def wire(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "email": self.email, "role": self.role}

    @classmethod
    def of(cls, agent: Agent, token_id: int | None = None) -> Principal:
        return cls(agent.id, agent.name, agent.email, agent.role, token_id)


SYSTEM_PRINCIPAL = Principal(0, "chatdesk", "", "system")


def check_email(email: str) -> str:
    # Lower-case first: it can lengthen text, and the column holds 320 characters.
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise BadRequest(f"not an e-mail address: {email[:80]!r}")
    return email


async def hash_password(password: str) -> str:
    if len(password) < 8:
        raise BadRequest("a password needs at least 8 characters")
    return await asyncio.to_thread(_hasher.hash, password)


async def create_agent(
    session: AsyncSession, email: str, name: str, password: str, admin: bool = False
) -> Agent:
    email = check_email(email)
    if not name.strip():
        raise BadRequest("an agent needs a name")
    existing = await session.scalar(select(Agent).where(Agent.email == email))
    if existing is not None:
        raise Conflict(f"an agent with e-mail {email} exists already")
    agent = Agent(
        email=email,
        name=name.strip(),
        password_hash=await hash_password(password),
        role="admin" if admin else "agent",
        active=True,
    )
    session.add(agent)
    await session.flush()
    return agent


class SecondFactor(Exception):
    """The password was right, but the agent must also give a TOTP code (no token yet)."""

    def __init__(self, agent_id: int) -> None:
        super().__init__("a TOTP code is required")
        self.agent_id = agent_id  # an id: the raising transaction rolls back its rows


async def login(session: AsyncSession, email: str, password: str) -> tuple[str, Agent]:
    """Check a password; returns a new session token (only its hash is stored).

    Raises SecondFactor instead when the agent uses (or must set up) TOTP: the
    login is completed by chatdesk.services.accounts with a code.
    """
    agent = await session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    stored = agent.password_hash if agent is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong e-mail or password") from None
    if agent is None or not agent.active:
        raise Unauthorized("wrong e-mail or password")
    if agent.totp_enabled or agent.totp_required:
        raise SecondFactor(agent.id)
    return await open_session(session, agent), agent


async def open_session(session: AsyncSession, agent: Agent) -> str:
    """A new session token for an agent who proved who they are."""
    token = new_token()
    session.add(
        AgentToken(
            token_hash=token_hash(token),
            agent_id=agent.id,
            expires_at=utcnow() + timedelta(days=SESSION_DAYS),
        )
    )
    await session.flush()
    return token


async def authenticate(session: AsyncSession, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("log in first")
    row = (
        await session.execute(
            select(AgentToken, Agent)
            .join(Agent, Agent.id == AgentToken.agent_id)
            .where(AgentToken.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        raise Unauthorized("unknown or expired session")
    tok, agent = row
    expires = (
        tok.expires_at if tok.expires_at.tzinfo else tok.expires_at.replace(tzinfo=utcnow().tzinfo)
    )
    if tok.revoked or expires < utcnow() or not agent.active:
        raise Unauthorized("unknown or expired session")
    return Principal.of(agent, tok.id)


async def logout(session: AsyncSession, token: str) -> None:
    await session.execute(
        update(AgentToken).where(AgentToken.token_hash == token_hash(token)).values(revoked=True)
    )
