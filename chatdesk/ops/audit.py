"""The audit log: who did what as an admin, and every access decision.

One function writes it, ``record``, inside the transaction of the action it
describes, so an action and its entry commit together. Access and masking
decisions are events on tickets already; ``from_events`` turns them into
entries after their commit. Entries are only ever inserted. Details name ids
and field names, never message text, passwords or a customer's personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest
from chatdesk.realtime.protocol import TicketEvent
from chatdesk.services.agents import Principal
from chatdesk.services.timeline import iso
from chatdesk.store.models import utcnow
from chatdesk.store.models_ops import AuditEntry

MAX_PAGE = 100
AUDITED_EVENTS = ("access", "masked", "unmasked")


def _actor(actor: Principal | None) -> dict[str, Any]:
    if actor is None or actor.is_system:
        return {"actor_type": "system", "actor_id": None, "actor_name": "chatdesk"}
    return {"actor_type": "agent", "actor_id": actor.id, "actor_name": actor.name}


async def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry in the caller's transaction."""
    await session.execute(
        insert(AuditEntry).values(
            at=utcnow(), action=action, target=target, detail=detail or {}, **_actor(actor)
        )
    )


def changes(body: dict[str, Any], shown: tuple[str, ...] = ("role", "active")) -> dict[str, Any]:
    """What a PATCH changed, for an entry: field names, and values only of ``shown`` ones."""
    fields = sorted(k[:40] for k in body)[:20]
    values = {k: body[k] for k in shown if isinstance(body.get(k), bool | str)}
    return {"fields": fields, **values}


def from_events(events: list[TicketEvent]) -> list[dict[str, Any]]:
    """Entries for the access and masking decisions among committed events."""
    rows = []
    for e in events:
        if e.kind not in AUDITED_EVENTS:
            continue
        f = e.fields
        if e.kind == "access":
            action = f"access.{f.get('state', 'unknown')}"
            agent = f.get("agent") or {}
            who = {"id": agent.get("id"), "name": agent.get("name")}
            detail: dict[str, Any] = {"seq": e.seq, "agent": who}
        elif e.kind == "masked":
            action = "mask"
            detail = {"seq": f.get("target_seq"), "ranges": f.get("ranges", [])}
        else:
            action = "unmask"
            detail = {"seq": f.get("target_seq")}
        try:
            at = datetime.fromisoformat(e.at.replace("Z", "+00:00"))
        except ValueError:
            at = utcnow()
        agent_author = e.author.type == "agent"
        rows.append(
            {
                "at": at,
                "actor_type": "agent" if agent_author else "system",
                "actor_id": e.author.id if agent_author else None,
                "actor_name": e.author.name,
                "action": action,
                "target": f"ticket:{e.ticket}",
                "detail": detail,
            }
        )
    return rows


def view(row: AuditEntry) -> dict[str, Any]:
    actor = {"type": row.actor_type, "id": row.actor_id, "name": row.actor_name}
    return {
        "id": row.id,
        "at": iso(row.at),
        "actor": actor,
        "action": row.action,
        "target": row.target,
        "detail": row.detail or {},
    }


def _time(name: str, raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{name}' must be an ISO 8601 date or time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # SQLite stores UTC without an offset and compares text: bind UTC too.
    return value.astimezone(UTC)


def _int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number") from None
    if not 0 < value < 2**63:
        raise BadRequest(f"'{name}' is out of range")
    return value


async def listing(
    session: AsyncSession, params: dict[str, str], limit: int = 50
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first. ``actor``: an agent id or ``system``; ``action``: exact, or a
    prefix ending in ``*`` (``access.*``); ``after``/``before``: ISO times."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"'limit' is 1 to {MAX_PAGE}")
    query = select(AuditEntry)
    actor = params.get("actor") or None
    if actor == "system":
        query = query.where(AuditEntry.actor_type == "system")
    elif actor is not None:
        query = query.where(
            AuditEntry.actor_type == "agent", AuditEntry.actor_id == _int("actor", actor)
        )
    action = params.get("action") or None
    if action is not None:
        if len(action) > 64:
            raise BadRequest("'action' is at most 64 characters")
        if action.endswith("*"):
            prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(AuditEntry.action.like(prefix + "%", escape="\\"))
        else:
            query = query.where(AuditEntry.action == action)
    after = _time("after", params.get("after"))
    if after is not None:
        query = query.where(AuditEntry.at > after)
    before = _time("before", params.get("before"))
    if before is not None:
        query = query.where(AuditEntry.at < before)
    cursor = params.get("cursor") or None
    if cursor is not None:
        query = query.where(AuditEntry.id < _int("cursor", cursor))
    rows = (
        (await session.execute(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
        .scalars()
        .all()
    )
    page = rows[:limit]
    next_cursor = str(page[-1].id) if len(rows) > limit else None
    return [view(r) for r in page], next_cursor
