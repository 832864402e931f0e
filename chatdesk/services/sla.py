"""Service levels: per-priority targets give each ticket its due times; breaches are pushed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest
from chatdesk.services.statuses import PRIORITIES
from chatdesk.services.timeline import iso
from chatdesk.store.models import Ticket, utcnow
from chatdesk.store.models_backoffice import SlaTarget

SOON = timedelta(minutes=15)  # "close to due" in lists


def aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=utcnow().tzinfo)
    return dt


async def targets(session: AsyncSession) -> dict[str, dict[str, int | None]]:
    rows = {t.priority: t for t in (await session.execute(select(SlaTarget))).scalars()}
    return {
        p: {
            "first_response_minutes": rows[p].first_response_minutes if p in rows else None,
            "resolution_minutes": rows[p].resolution_minutes if p in rows else None,
        }
        for p in PRIORITIES
    }


async def set_targets(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    for priority, value in body.items():
        if priority not in PRIORITIES or not isinstance(value, dict):
            raise BadRequest(f"SLA keys are {', '.join(PRIORITIES)}, each a map")
        for key in ("first_response_minutes", "resolution_minutes"):
            v = value.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise BadRequest(f"{priority}.{key} is a positive whole number or null")
    for priority, value in body.items():
        row = await session.get(SlaTarget, priority)
        if row is None:
            row = SlaTarget(priority=priority)
            session.add(row)
        row.first_response_minutes = value.get("first_response_minutes")
        row.resolution_minutes = value.get("resolution_minutes")
    await session.flush()
    return await targets(session)


async def apply_due(session: AsyncSession, ticket: Ticket) -> None:
    """Set a ticket's due times from its priority's targets, counted from its creation."""
    row = await session.get(SlaTarget, ticket.priority or "normal")
    start = aware(ticket.created_at) or utcnow()
    if row is None:
        ticket.due_first_response_at = ticket.due_resolution_at = None
        return
    ticket.due_first_response_at = (
        start + timedelta(minutes=row.first_response_minutes)
        if row.first_response_minutes
        else None
    )
    ticket.due_resolution_at = (
        start + timedelta(minutes=row.resolution_minutes) if row.resolution_minutes else None
    )


def due_view(ticket: Ticket, now: datetime | None = None) -> dict[str, Any] | None:
    """Due times and how they stand: ok, soon (within 15 minutes), met or breached."""
    first, resolution = aware(ticket.due_first_response_at), aware(ticket.due_resolution_at)
    if first is None and resolution is None:
        return None
    now = now or utcnow()

    def state(due: datetime | None, done: bool) -> str | None:
        if due is None:
            return None
        if done:
            return "met"
        if due < now:
            return "breached"
        return "soon" if due - now < SOON else "ok"

    resolved = ticket.status in ("solved", "closed")
    return {
        "first_response_at": iso(first) if first else None,
        "resolution_at": iso(resolution) if resolution else None,
        "first_response": state(first, ticket.first_response_at is not None),
        "resolution": state(resolution, resolved),
    }
