"""The `system` event: automation says on the timeline what it did and why.

Internal, authored by `system`; its fields name the source ("trigger", "routing",
"autoclose"), a human ``detail``, and for triggers which one ran and each action's
outcome.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.realtime.protocol import SYSTEM, TicketEvent
from chatdesk.services import timeline
from chatdesk.services.ticketing import Changes, TicketService, locked
from chatdesk.store.models import Ticket

KIND = "system"


async def append_system(
    session: AsyncSession, changes: Changes, ticket: Ticket, source: str, detail: str, **fields: Any
) -> TicketEvent:
    """Store one `system` event inside the caller's operation and publish it after commit."""
    event = await timeline.append(
        session, ticket, KIND, "internal", SYSTEM, {"source": source, "detail": detail, **fields}
    )
    changes.event(event)
    return event


class SystemNotes(TicketService):
    async def record(self, ticket_id: int, source: str, detail: str, **fields: Any) -> int | None:
        """A `system` event on its own; none on a closed ticket (nothing may change there)."""

        async def op(session: AsyncSession, changes: Changes) -> int | None:
            ticket = await locked(session, ticket_id)
            if ticket.status == "closed":
                return None
            event = await append_system(session, changes, ticket, source, detail, **fields)
            return event.seq

        return await self._write(ticket_id, op)
