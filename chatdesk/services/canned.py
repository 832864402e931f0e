"""Canned responses: reply templates an agent inserts by shortcut, with placeholders.

Personal ones belong to their owner alone: to anybody else, admins included,
they do not exist (`not_found`, never `forbidden`, so ids reveal nothing).
Company ones every agent may use; only admins create, change or delete them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import and_, case, delete, literal_column, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from chatdesk.services.agents import Principal
from chatdesk.services.timeline import iso
from chatdesk.store.models import Agent, CannedResponse, Customer, Ticket, utcnow

Scope = Literal["personal", "company"]
SCOPES: tuple[Scope, ...] = ("personal", "company")
SHORTCUT = re.compile(r"/[a-z0-9_-]{1,32}")
MAX_TITLE = 200
MAX_BODY = 10_000  # a message body's limit: a rendered reply must still be sendable
MAX_PAGE = 100
MAX_QUERY = 200

# `{{ name }}` with anything but braces inside; unknown names render empty too.
_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_shortcut(value: Any) -> str:
    if not isinstance(value, str) or not SHORTCUT.fullmatch(value):
        raise BadRequest(
            "'shortcut' must be '/' then 1 to 32 of a-z, 0-9, '_' or '-', like /refund"
        )
    return value


def _text(body: dict[str, Any], name: str, max_chars: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise BadRequest(f"'{name}' must be a non-blank string of at most {max_chars} characters")
    if "\x00" in value or _SURROGATE.search(value):
        # JSON may smuggle lone surrogates ("\\ud800"), which no database can store.
        raise BadRequest(f"'{name}' must be valid text: no NUL, no lone surrogates")
    return value


def _stamp(dt: datetime) -> str:
    # SQLite hands back naive datetimes; everything chatdesk stores is UTC.
    return iso(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def wire(row: CannedResponse, owner: Agent | Principal | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "scope": row.scope,
        "shortcut": row.shortcut,
        "title": row.title,
        "body": row.body,
        "owner": {"id": owner.id, "name": owner.name} if owner is not None else None,
        "created_at": _stamp(row.created_at),
        "updated_at": _stamp(row.updated_at),
    }


def _visible_to(agent: Principal) -> Any:
    return or_(
        CannedResponse.scope == "company",
        and_(CannedResponse.scope == "personal", CannedResponse.owner_id == agent.id),
    )


async def _usable(session: AsyncSession, agent: Principal, canned_id: int) -> CannedResponse:
    row = await session.scalar(
        select(CannedResponse).where(CannedResponse.id == canned_id, _visible_to(agent))
    )
    if row is None:
        raise NotFound(f"no canned response {canned_id}")
    return row


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _owners(session: AsyncSession, rows: list[CannedResponse]) -> dict[int, Agent]:
    ids = {r.owner_id for r in rows if r.owner_id is not None}
    if not ids:
        return {}
    found = await session.execute(select(Agent).where(Agent.id.in_(ids)))
    return {a.id: a for a in found.scalars()}


async def list_canned(
    session: AsyncSession,
    agent: Principal,
    q: str | None = None,
    scope: str | None = None,
    cursor: str | None = None,
    limit: int = MAX_PAGE,
) -> tuple[list[dict[str, Any]], str | None]:
    """What the agent may use, shortcut order; with `q`, shortcut-prefix hits first.

    `q` starting with '/' is a shortcut prefix only (the composer's `/ref`);
    otherwise it matches a shortcut prefix or text in the title or body.
    The cursor is `rank:shortcut:id` of the last item, a keyset over that order.
    """
    limit = max(1, min(limit, MAX_PAGE))
    query = select(CannedResponse).where(_visible_to(agent))
    if scope is not None:
        if scope not in SCOPES:
            raise BadRequest("'scope' must be 'personal' or 'company'")
        query = query.where(CannedResponse.scope == scope)
    rank: Any = None  # 0 for a shortcut-prefix hit, 1 for a text hit; only with a text `q`
    q = (q or "").strip()
    if len(q) > MAX_QUERY or "\x00" in q:
        # PostgreSQL refuses NUL in any text, a LIKE pattern included: a 500 otherwise.
        raise BadRequest(f"'q' must be at most {MAX_QUERY} characters, without NUL")
    if q:
        term = q.lstrip("/")
        prefix = CannedResponse.shortcut.like("/" + _escape_like(term.lower()) + "%", escape="\\")
        if q.startswith("/"):
            query = query.where(prefix)
        else:
            pattern = f"%{_escape_like(term)}%"
            query = query.where(
                or_(
                    prefix,
                    CannedResponse.title.ilike(pattern, escape="\\"),
                    CannedResponse.body.ilike(pattern, escape="\\"),
                )
            )
            rank = case((prefix, literal_column("0")), else_=literal_column("1"))
    if cursor:
        after_rank, after_shortcut, after_id = _cursor(cursor)
        after = or_(
            CannedResponse.shortcut > after_shortcut,
            and_(CannedResponse.shortcut == after_shortcut, CannedResponse.id > after_id),
        )
        if rank is not None:
            after = or_(rank > after_rank, and_(rank == after_rank, after))
        query = query.where(after)
    order = [CannedResponse.shortcut, CannedResponse.id]
    if rank is not None:
        query = query.add_columns(rank.label("rank"))
        order.insert(0, rank)
    found = (await session.execute(query.order_by(*order).limit(limit + 1))).all()
    page = found[:limit]
    rows = [r[0] for r in page]
    owners = await _owners(session, rows)
    items = [wire(r, owners.get(r.owner_id) if r.owner_id else None) for r in rows]
    next_cursor = None
    if len(found) > limit:
        last = page[-1]
        last_rank = last[1] if rank is not None else 0
        next_cursor = f"{last_rank}:{last[0].shortcut}:{last[0].id}"
    return items, next_cursor


def _cursor(raw: str) -> tuple[int, str, int]:
    parts = raw.split(":")
    try:
        rank, shortcut, ident = int(parts[0]), parts[1], int(parts[2])
    except (IndexError, ValueError):
        raise BadRequest("'cursor' is not one this server gave") from None
    if len(parts) != 3:
        raise BadRequest("'cursor' is not one this server gave")
    return rank, shortcut, ident


async def get_canned(session: AsyncSession, agent: Principal, canned_id: int) -> dict[str, Any]:
    row = await _usable(session, agent, canned_id)
    owner = await session.get(Agent, row.owner_id) if row.owner_id else None
    return wire(row, owner)


async def _taken(session: AsyncSession, owner_id: int | None, shortcut: str, but: int) -> bool:
    owner = (
        CannedResponse.owner_id.is_(None)
        if owner_id is None
        else CannedResponse.owner_id == owner_id
    )
    found = await session.scalar(
        select(CannedResponse.id).where(
            owner, CannedResponse.shortcut == shortcut, CannedResponse.id != but
        )
    )
    return found is not None


async def _flush_unique(session: AsyncSession, shortcut: str) -> None:
    # The pre-check gives the usual answer; the unique index settles races.
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"the shortcut {shortcut} is taken already") from None


async def create_canned(
    session: AsyncSession, agent: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    scope = body.get("scope", "personal")
    if scope not in SCOPES:
        raise BadRequest("'scope' must be 'personal' or 'company'")
    if scope == "company" and not agent.is_admin:
        raise Forbidden("only admins create company canned responses")
    shortcut = check_shortcut(body.get("shortcut"))
    title = _text(body, "title", MAX_TITLE)
    text = _text(body, "body", MAX_BODY)
    owner_id = agent.id if scope == "personal" else None
    if await _taken(session, owner_id, shortcut, 0):
        raise Conflict(f"the shortcut {shortcut} is taken already")
    now = utcnow()
    row = CannedResponse(
        scope=scope,
        owner_id=owner_id,
        shortcut=shortcut,
        title=title,
        body=text,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await _flush_unique(session, shortcut)
    return wire(row, agent if owner_id else None)


async def _writable(session: AsyncSession, agent: Principal, canned_id: int) -> CannedResponse:
    row = await _usable(session, agent, canned_id)
    if row.scope == "company" and not agent.is_admin:
        raise Forbidden("only admins change company canned responses")
    return row


async def update_canned(
    session: AsyncSession, agent: Principal, canned_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    row = await _writable(session, agent, canned_id)
    if "scope" in body and body["scope"] != row.scope:
        raise BadRequest("'scope' cannot change; create a new canned response instead")
    if "shortcut" in body:
        shortcut = check_shortcut(body["shortcut"])
        if await _taken(session, row.owner_id, shortcut, row.id):
            raise Conflict(f"the shortcut {shortcut} is taken already")
        row.shortcut = shortcut
    if "title" in body:
        row.title = _text(body, "title", MAX_TITLE)
    if "body" in body:
        row.body = _text(body, "body", MAX_BODY)
    row.updated_at = utcnow()
    await _flush_unique(session, row.shortcut)
    owner = await session.get(Agent, row.owner_id) if row.owner_id else None
    return wire(row, owner)


async def delete_canned(session: AsyncSession, agent: Principal, canned_id: int) -> None:
    row = await _writable(session, agent, canned_id)
    await session.execute(delete(CannedResponse).where(CannedResponse.id == row.id))


def fill(template: str, values: dict[str, str | None]) -> str:
    """Every `{{...}}` replaced by its value; missing or unknown ones by nothing."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1).strip()) or "", template)


async def render(
    session: AsyncSession, agent: Principal, canned_id: int, ticket_id: int | None
) -> str:
    """The body as it would be sent on that ticket by this agent (plain text)."""
    row = await _usable(session, agent, canned_id)
    return await render_text(session, agent, row.body, ticket_id)


async def render_text(
    session: AsyncSession, agent: Principal, template: str, ticket_id: int | None
) -> str:
    """Any text with placeholders filled for a ticket and agent (replies are previewed so)."""
    values: dict[str, str | None] = {"agent.name": agent.name}
    if ticket_id is not None:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}")
        values["ticket.id"] = str(ticket.id)
        if ticket.customer_id is not None:
            customer = await session.get(Customer, ticket.customer_id)
            if customer is not None:
                values["customer.name"] = customer.name
                values["customer.email"] = customer.email
    return fill(template, values)
