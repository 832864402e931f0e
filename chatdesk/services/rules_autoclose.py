"""Auto-close: a ticket solved for CHATDESK_AUTOCLOSE_DAYS becomes closed (final).

Run by an elected periodic job (chatdesk/jobs.py), so one process of all does it
per period; each close also re-checks the ticket under its row lock, so a ticket
reopened meanwhile, or closed by an overlapping run, is left alone.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.realtime.protocol import SYSTEM
from chatdesk.services import timeline
from chatdesk.services.rules_system import append_system
from chatdesk.services.ticketing import Changes, TicketService, locked
from chatdesk.services.writer import Writer
from chatdesk.store.models import Ticket, utcnow

log = logging.getLogger(__name__)
BATCH = 500
TOGETHER = 50  # closes handed to the writer at once, to share its transactions


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class AutoClose(TicketService):
    def __init__(self, writer: Writer, reads: async_sessionmaker[AsyncSession], days: int) -> None:
        super().__init__(writer, reads)
        self.days = days
        self.closed = 0

    async def run(self) -> int:
        """Close every ticket solved (and untouched) for ``days``; returns how many."""
        total = 0
        while True:
            cutoff = utcnow() - timedelta(days=self.days)
            async with self._reads() as session:
                ids = list(
                    (
                        await session.execute(
                            select(Ticket.id)
                            # updated_at moves with every event, so it is never before the
                            # solve: a ticket found here has been solved at least that long.
                            .where(Ticket.status == "solved", Ticket.updated_at < cutoff)
                            .order_by(Ticket.id)
                            .limit(BATCH)
                        )
                    ).scalars()
                )
            done = 0
            for start in range(0, len(ids), TOGETHER):
                chunk = ids[start : start + TOGETHER]
                results = await asyncio.gather(*(self.close(t, cutoff) for t in chunk))
                done += sum(results)
            total += done
            if len(ids) < BATCH or done == 0:
                break
        if total:
            log.info("auto-closed %d ticket(s)", total)
        return total

    async def close(self, ticket_id: int, cutoff: datetime) -> bool:
        async def op(session: AsyncSession, changes: Changes) -> bool:
            ticket = await locked(session, ticket_id)
            if ticket.status != "solved" or _aware(ticket.updated_at) >= cutoff:
                return False
            ticket.status = "closed"
            await session.flush()
            changes.event(
                await timeline.append(
                    session, ticket, "status", "public", SYSTEM, {"from": "solved", "to": "closed"}
                )
            )
            await append_system(
                session,
                changes,
                ticket,
                "autoclose",
                f"Closed automatically after {self.days} day(s) solved",
                days=self.days,
            )
            await changes.ticket_changed(session, ticket)
            return True

        closed = await self._write(ticket_id, op)
        self.closed += int(closed)
        return closed
