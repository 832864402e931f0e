"""Retention: closed tickets older than CHATDESK_RETENTION_DAYS are deleted.

Off by default. Runs as an elected periodic job (chatdesk/jobs.py), so one process
of all does it each hour. A closed ticket never changes again, so its last
update is when it closed. Rows of other features that point at a deleted ticket
without a cascade are unlinked (nullable) or deleted with it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.ops import audit, schema
from chatdesk.store.models import Attachment, Event, Ticket, utcnow

if TYPE_CHECKING:
    from chatdesk.desk import Desk

log = logging.getLogger(__name__)

PERIOD_S = 3600.0
BATCH = 200


async def purge(desk: Desk, days: int) -> int:
    """Delete closed tickets last changed more than ``days`` ago; returns how many."""
    cutoff = utcnow() - timedelta(days=days)
    total = 0
    while True:
        async with desk.writes() as session, session.begin():
            ids = list(
                (
                    await session.execute(
                        select(Ticket.id)
                        .where(Ticket.status == "closed", Ticket.updated_at < cutoff)
                        .order_by(Ticket.id)
                        .limit(BATCH)
                    )
                ).scalars()
            )
            if not ids:
                break
            shas = await _delete_tickets(session, ids)
            await audit.record(
                session, None, "retention.purge", "tickets", {"tickets": len(ids), "days": days}
            )
        total += len(ids)
        ops = desk.ext.get("ops")
        if ops is not None:
            await ops.privacy.remove_unreferenced(sorted(shas))
    if total:
        log.info("retention deleted %d closed tickets older than %d days", total, days)
    return total


async def _delete_tickets(session: AsyncSession, ids: list[int]) -> set[str]:
    meta = await schema.metadata(session)
    tickets = meta.tables["tickets"]
    shas = set(
        (
            await session.execute(select(Attachment.sha256).where(Attachment.ticket_id.in_(ids)))
        ).scalars()
    )
    await session.execute(delete(Attachment).where(Attachment.ticket_id.in_(ids)))
    for name, table in meta.tables.items():
        for col in table.columns:
            for fk in col.foreign_keys:
                if fk.column.table is not tickets or (fk.ondelete or "").upper() == "CASCADE":
                    continue
                if col.nullable:
                    await session.execute(
                        update(table).where(col.in_(ids)).values({col.name: None})
                    )
                elif name != "tickets":
                    await session.execute(delete(table).where(col.in_(ids)))
    await session.execute(delete(Event).where(Event.ticket_id.in_(ids)))
    await session.execute(delete(tickets).where(tickets.c.id.in_(ids)))
    return shas
