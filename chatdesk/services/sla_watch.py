"""The SLA watch: each newly breached due time is pushed to the ticket's assignee, once."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.realtime import bus
from chatdesk.services.sla import aware
from chatdesk.services.ticketing import Changes, TicketService
from chatdesk.store.models import Ticket, utcnow


class SlaWatch(TicketService):
    async def check_breaches(self) -> int:
        """Push each newly breached due time to the assignee, once; returns how many."""
        now = utcnow()

        async def op(session: AsyncSession, changes: Changes) -> int:
            rows = (
                await session.execute(
                    select(Ticket).where(
                        Ticket.status.not_in(("solved", "closed", "spam")),
                        or_(
                            (Ticket.due_first_response_at < now)
                            & Ticket.first_response_at.is_(None),
                            Ticket.due_resolution_at < now,
                        ),
                    )
                )
            ).scalars()
            pushed = 0
            for ticket in rows:
                breaches = list(ticket.sla_breaches or [])
                fresh = []
                due_first = aware(ticket.due_first_response_at)
                due_res = aware(ticket.due_resolution_at)
                if due_first and due_first < now and ticket.first_response_at is None:
                    fresh.append("first_response")
                if due_res and due_res < now:
                    fresh.append("resolution")
                fresh = [b for b in fresh if b not in breaches]
                if not fresh:
                    continue
                ticket.sla_breaches = breaches + fresh
                if ticket.assignee_id is not None:
                    for breach in fresh:
                        frame = {"type": "sla", "ticket": ticket.id, "breach": breach}
                        changes.raw(
                            bus.agent_topic(ticket.assignee_id),
                            bus.AgentPushMsg(ticket.assignee_id, frame),
                        )
                        pushed += 1
            await session.flush()
            return pushed

        return await self._write(0, op)

    async def check_breaches_quietly(self) -> None:
        await self.check_breaches()
