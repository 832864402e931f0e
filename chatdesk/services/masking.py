"""Masking personal data in a stored message: rewritten in the database itself."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, NotFound
from chatdesk.realtime import bus
from chatdesk.services import timeline
from chatdesk.services.agents import Principal
from chatdesk.services.ticketing import (
    Changes,
    TicketService,
    Written,
    author_of,
    locked,
    require_writer,
    subject_of,
    writable,
)
from chatdesk.store.models import Event

MASKABLE = ("message", "note")


def apply_mask(body: str, ranges: tuple[tuple[int, ...], ...]) -> str:
    """Replace each [start, end) range of ``body`` with '*'; BadRequest for a bad range."""
    if not ranges:
        raise BadRequest("'ranges' needs at least one [start, end] pair")
    chars = list(body)
    for pair in ranges:
        if len(pair) != 2:
            raise BadRequest("each range is [start, end]")
        start, end = pair
        if not 0 <= start < end <= len(chars):
            raise BadRequest(f"range [{start}, {end}] is outside the body (0..{len(chars)})")
        chars[start:end] = "*" * (end - start)
    return "".join(chars)


class Masking(TicketService):
    async def mask(
        self, agent: Principal, ticket_id: int, seq: int, ranges: tuple[tuple[int, ...], ...]
    ) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            target = await session.scalar(
                select(Event).where(Event.ticket_id == ticket.id, Event.seq == seq)
            )
            if target is None:
                raise NotFound(f"ticket {ticket.id} has no event {seq}")
            if target.kind not in MASKABLE or target.body is None:
                raise BadRequest(f"only messages and notes can be masked, not {target.kind}")
            original = target.body
            masked = apply_mask(original, ranges)
            await session.execute(update(Event).where(Event.id == target.id).values(body=masked))
            if ticket.subject == subject_of(original):
                # The subject was cut from this message: it must not keep what was masked.
                ticket.subject = subject_of(masked)
                await session.flush()
                await changes.ticket_changed(session, ticket)
            changes.raw(bus.ticket_topic(ticket.id), bus.EventUpdatedMsg(timeline.to_event(target)))
            event = await timeline.append(
                session, ticket, "masked", "internal", author_of(agent),
                {"target_seq": seq, "ranges": [list(r) for r in ranges]},
            )  # fmt: skip
            changes.event(event)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)
