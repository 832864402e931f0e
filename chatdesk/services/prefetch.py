"""What a writer batch's operations will read, read once for the whole batch.

Each operation used to ask on its own, one round trip after another: is this
client_msg_id stored already, lock the ticket, which is the visitor's current chat,
who is the visitor. On two cores every round trip wakes PostgreSQL and then waits
for the event loop again, and that, not the statements' work, capped the write path
(docs/performance.md). Operations that know up front what they will read say so
with a ``Hint``; the writer reads all of a batch's hints with one statement per
kind, the tickets locked in id order (so concurrent batches of several processes
cannot deadlock), and ``existing``, ``locked`` and ``current_chat`` then find the
answers in the session. Anything not hinted is read as before, on demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import event, func, inspect, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from chatdesk.services import timeline
from chatdesk.store.models import Customer, Event, Ticket

SENT = timeline.SENT
CURRENT = "chatdesk.prefetched_current"  # customer id -> id of its latest chat | None
# id -> Ticket loaded FOR UPDATE by the prefetch; held here because the session's
# identity map only keeps objects something else refers to.
TICKETS = "chatdesk.prefetched_tickets"
CUSTOMERS = "chatdesk.prefetched_customers"

SentKey = tuple[str, int, str]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Hint:
    """What one operation will read: its idempotency key, a ticket it locks, a visitor
    whose current chat it locks (and whose customer row it loads)."""

    sent_as: SentKey | None = None
    ticket: int | None = None
    visitor: int | None = None


def _padded(values: Sequence[T]) -> list[T]:
    """The list grown to the next power of two by repeating its last value: an IN list
    of any length then renders one of a few statements, which asyncpg keeps prepared."""
    size = 1
    while size < len(values):
        size *= 2
    return list(values) + [values[-1]] * (size - len(values))


async def prefetch(session: AsyncSession, hints: Iterable[Hint]) -> None:
    """Read what the hinted operations need: at most three statements for the batch."""
    hints = list(hints)
    if not hints:
        return
    info = session.sync_session.info
    no_flush = {timeline.NO_FLUSH: True}
    sent = sorted({h.sent_as for h in hints if h.sent_as is not None})
    if sent:
        columns = (Event.author_type, Event.author_id, Event.client_msg_id)
        rows = await session.execute(
            select(*columns, Event.ticket_id, Event.seq)
            .where(tuple_(*columns).in_(_padded(sent)))
            .execution_options(**no_flush)
        )
        found = {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}
        info[SENT] = {key: found.get(key) for key in sent}
    ids = sorted({h.ticket for h in hints if h.ticket is not None})
    visitors = sorted({h.visitor for h in hints if h.visitor is not None})
    if not ids and not visitors:
        return
    wanted = []
    if ids:
        wanted.append(Ticket.id.in_(_padded(ids)))
    if visitors:
        latest = (
            select(func.max(Ticket.id))
            .where(Ticket.customer_id.in_(_padded(visitors)), Ticket.kind == "customer")
            .group_by(Ticket.customer_id)
        )
        wanted.append(Ticket.id.in_(latest))
    tickets = (
        (
            await session.execute(
                select(Ticket)
                .where(or_(*wanted))
                .order_by(Ticket.id)
                .with_for_update()
                .execution_options(populate_existing=True, **no_flush)
            )
        )
        .scalars()
        .all()
    )
    current: dict[int, int | None] = dict.fromkeys(visitors)
    for ticket in tickets:
        timeline.locked_row(session, ticket)
        owner = ticket.customer_id
        if ticket.kind == "customer" and owner in current:
            current[owner] = max(current[owner] or 0, ticket.id)
    info.setdefault(TICKETS, {}).update((t.id, t) for t in tickets)
    info[CURRENT] = current
    if visitors:
        # Into the identity map: the operations' session.get() then costs no query.
        info[CUSTOMERS] = (
            (
                await session.execute(
                    select(Customer)
                    .where(Customer.id.in_(_padded(visitors)))
                    .execution_options(populate_existing=True, **no_flush)
                )
            )
            .scalars()
            .all()
        )


def sent(session: AsyncSession, key: SentKey) -> tuple[bool, tuple[int, int] | None]:
    """(known, (ticket, seq) or None): whether the prefetch answered for this key."""
    answers = session.sync_session.info.get(SENT)
    if answers is None or key not in answers:
        return False, None
    return True, answers[key]


def ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket if the prefetch locked and loaded it and it is still fully loaded."""
    found = session.sync_session.info.get(TICKETS, {}).get(ticket_id)
    if found is None or inspect(found).expired_attributes:
        return None
    return found


def current_chat(session: AsyncSession, customer_id: int) -> tuple[bool, Ticket | None]:
    """(known, ticket): the visitor's latest chat as the prefetch locked it."""
    current = session.sync_session.info.get(CURRENT)
    if current is None or customer_id not in current:
        return False, None
    ticket_id = current[customer_id]
    if ticket_id is None:
        return True, None
    found = ticket(session, ticket_id)
    return (found is not None), found


@event.listens_for(Session, "after_flush")
def _follow_new_chats(sync_session: Session, _context: Any) -> None:
    # A chat created in this batch is its visitor's current one for the batch's later
    # operations; a ticket moved to another customer makes the answers unreliable.
    current = sync_session.info.get(CURRENT)
    if not current:
        return
    for obj in sync_session.new:
        if isinstance(obj, Ticket) and obj.kind == "customer" and obj.customer_id in current:
            current[obj.customer_id] = max(current[obj.customer_id] or 0, obj.id)
            sync_session.info.setdefault(TICKETS, {})[obj.id] = obj
    for obj in sync_session.dirty:
        if isinstance(obj, Ticket) and inspect(obj).attrs.customer_id.history.has_changes():
            sync_session.info.pop(CURRENT, None)
            return


@event.listens_for(Session, "after_rollback")
def _forget(sync_session: Session) -> None:
    for key in (SENT, CURRENT, TICKETS, CUSTOMERS):
        sync_session.info.pop(key, None)


__all__ = ["Hint", "current_chat", "prefetch", "sent", "ticket"]
