"""What every ticket-changing service shares: locking, permission checks, publishing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import Conflict, Forbidden, NotFound
from chatdesk.realtime import bus
from chatdesk.realtime.protocol import SYSTEM, Author, TicketEvent
from chatdesk.services import prefetch, timeline, views
from chatdesk.services.agents import Principal
from chatdesk.services.writer import Outcome, Writer
from chatdesk.store.models import Collaborator, Event, Ticket


@dataclass(frozen=True, slots=True)
class Written:
    """What a write answers: the ticket and, when one was stored, the event's seq."""

    ticket: int
    seq: int | None
    created: bool = False


class Changes:
    """Collects what one operation publishes after commit, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self.events: list[TicketEvent] = []

    def event(self, event: TicketEvent) -> None:
        self.events.append(event)
        self.items.append(
            (
                bus.ticket_topic(event.ticket),
                bus.pack(bus.ticket_topic(event.ticket), bus.EventMsg(event)),
            )
        )

    async def ticket_changed(self, session: AsyncSession, ticket: Ticket) -> None:
        visitor = await views.visitor_ticket(session, ticket)
        topic = bus.ticket_topic(ticket.id)
        self.items.append((topic, bus.pack(topic, bus.TicketMsg(ticket.id, visitor))))
        summary = await views.ticket_view(session, ticket)
        self.items.append((bus.AGENTS, bus.pack(bus.AGENTS, bus.QueueMsg(summary))))

    def raw(self, topic: str, msg: bus.BusMessage) -> None:
        self.items.append((topic, bus.pack(topic, msg)))

    def outcome(self, value: Any) -> Outcome:
        return Outcome(value, [payload for _, payload in self.items], list(self.events))


def author_of(agent: Principal) -> Author:
    if agent.is_system:
        return SYSTEM
    return Author("agent", agent.id, agent.name)


async def locked(session: AsyncSession, ticket_id: int) -> Ticket:
    """The ticket, its row locked for this transaction (seqs are assigned under it)."""
    ready = prefetch.ticket(session, ticket_id)
    if ready is not None:
        return ready
    ticket = (
        await session.execute(
            select(Ticket)
            .where(Ticket.id == ticket_id)
            .with_for_update()
            .execution_options(populate_existing=True, **{timeline.NO_FLUSH: True})
        )
    ).scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    timeline.locked_row(session, ticket)
    return ticket


async def is_collaborator(session: AsyncSession, ticket_id: int, agent_id: int) -> bool:
    found = await session.scalar(
        select(Collaborator.agent_id).where(
            Collaborator.ticket_id == ticket_id, Collaborator.agent_id == agent_id
        )
    )
    return found is not None


async def require_writer(session: AsyncSession, ticket: Ticket, agent: Principal) -> None:
    if agent.is_admin or ticket.assignee_id == agent.id:
        return
    if await is_collaborator(session, ticket.id, agent.id):
        return
    raise Forbidden(f"ticket {ticket.id} is not yours: ask its assignee with request_access")


def writable(ticket: Ticket) -> None:
    if ticket.status == "closed":
        raise Conflict(f"ticket {ticket.id} is closed; nothing on it can change")


async def existing(
    session: AsyncSession, author_type: str, author_id: int, client_msg_id: str
) -> Written | None:
    waiting = timeline.pending_event(session, author_type, author_id, client_msg_id)
    if waiting is not None:  # sent twice within one batch
        return Written(waiting["ticket_id"], waiting["seq"])
    known, answer = prefetch.sent(session, (author_type, author_id, client_msg_id))
    if known:
        return Written(*answer) if answer is not None else None
    row = (
        await session.execute(
            select(Event.ticket_id, Event.seq)
            .where(
                Event.author_type == author_type,
                Event.author_id == author_id,
                Event.client_msg_id == client_msg_id,
            )
            .execution_options(**{timeline.NO_FLUSH: True})
        )
    ).first()
    return Written(row.ticket_id, row.seq) if row is not None else None


SUBJECT_CHARS = 80


def subject_of(body: str) -> str:
    """A ticket's subject, taken from its first message."""
    return " ".join(body.split())[:SUBJECT_CHARS]


class TicketService:
    """Base of the services that change tickets through the batched writer."""

    def __init__(self, writer: Writer, reads: async_sessionmaker[AsyncSession]) -> None:
        self._writer = writer
        self._reads = reads

    async def _write(
        self,
        key: int,
        op: Callable[[AsyncSession, Changes], Awaitable[Any]],
        hint: prefetch.Hint | None = None,
    ) -> Any:
        async def run(session: AsyncSession) -> Outcome:
            changes = Changes()
            value = await op(session, changes)
            return changes.outcome(value)

        return await self._writer.run(run, key, hint)
