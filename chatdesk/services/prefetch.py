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

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    Integer,
    any_,
    bindparam,
    event,
    func,
    inspect,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
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
    of any length then renders one of a few statements, which SQLite keeps prepared
    (PostgreSQL takes arrays instead)."""
    size = 1
    while size < len(values):
        size *= 2
    return list(values) + [values[-1]] * (size - len(values))


async def prefetch(session: AsyncSession, hints: Iterable[Hint], look_up_sent: bool = True) -> None:
    """Read what the hinted operations need: at most two statements for the batch.

    Without ``look_up_sent`` the hinted client_msg_ids are taken as new, unread: the
    caller relies on the unique index to refuse a resend, and runs again with it.
    """
    hints = list(hints)
    if not hints:
        return
    info = session.sync_session.info
    sent = sorted({h.sent_as for h in hints if h.sent_as is not None})
    if sent and not look_up_sent:
        info[SENT] = dict.fromkeys(sent)
    elif sent:
        found = {(r[0], r[1], r[2]): (r[3], r[4]) for r in await _stored(session, sent)}
        info[SENT] = {key: found.get(key) for key in sent}
    ids = sorted({h.ticket for h in hints if h.ticket is not None})
    visitors = sorted({h.visitor for h in hints if h.visitor is not None})
    if not ids and not visitors:
        return
    # The visitors' customer rows come with their chats, into the identity map: the
    # operations' session.get() then costs no query (a visitor's very first message,
    # with no chat yet, still loads its customer on its own).
    postgres = session.bind.dialect.name == "postgresql"
    wanted: dict[str, Any] = {"ids": ids, "visitors": visitors}
    if not postgres:
        wanted = {"ids": json.dumps(ids), "visitors": json.dumps(visitors)}
    rows = (await session.execute(_TICKETS[postgres], wanted)).all()
    current: dict[int, int | None] = dict.fromkeys(visitors)
    tickets = info.setdefault(TICKETS, {})
    customers = info.setdefault(CUSTOMERS, [])
    for ticket, customer in rows:
        timeline.locked_row(session, ticket)
        tickets[ticket.id] = ticket
        customers.append(customer)
        owner = ticket.customer_id
        if ticket.kind == "customer" and owner in current:
            current[owner] = max(current[owner] or 0, ticket.id)
    info[CURRENT] = current


def _json_values(name: str) -> Any:
    """SQLite: the values of a JSON array bound as ``name``."""
    return select(literal_column("value")).select_from(func.json_each(bindparam(name)))


def _tickets_query(postgres: bool) -> Any:
    """Tickets by id (``ids``) and each visitor's latest chat (``visitors``), locked in
    id order, with their customers. Built once: building it cost more than running it."""
    if postgres:
        # id = ANY(array) is served by the primary key (an OR of IN lists made
        # PostgreSQL scan the whole table), and its text never changes with the counts.
        latest = (
            select(func.max(Ticket.id).label("id"))
            .where(
                Ticket.customer_id == any_(bindparam("visitors", type_=ARRAY(Integer))),
                Ticket.kind == "customer",
            )
            .group_by(Ticket.customer_id)
            .subquery()
        )
        # Concatenated, never alone: "= ANY (SELECT ...)" compares with each row.
        found = select(func.array_agg(latest.c.id)).scalar_subquery()
        wanted = Ticket.id == any_(func.array_cat(bindparam("ids", type_=ARRAY(Integer)), found))
    else:
        # SQLite: the lists as JSON arrays read by json_each, so the text never
        # changes either (an expanding IN is rendered anew on every execution).
        latest_ids = (
            select(func.max(Ticket.id))
            .where(Ticket.customer_id.in_(_json_values("visitors")), Ticket.kind == "customer")
            .group_by(Ticket.customer_id)
        )
        wanted = or_(Ticket.id.in_(_json_values("ids")), Ticket.id.in_(latest_ids))
    return (
        select(Ticket, Customer)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
        .where(wanted)
        .order_by(Ticket.id)
        .with_for_update(of=Ticket)
        .execution_options(populate_existing=True, **{timeline.NO_FLUSH: True})
    )


_TICKETS = {True: _tickets_query(True), False: _tickets_query(False)}
_STORED_KEYS = (Event.author_type, Event.author_id, Event.client_msg_id)
_STORED = (
    select(*_STORED_KEYS, Event.ticket_id, Event.seq)
    .where(tuple_(*_STORED_KEYS).in_(bindparam("keys", expanding=True)))
    .execution_options(**{timeline.NO_FLUSH: True})
)


_PG_STORED = """
SELECT author_type, author_id, client_msg_id, ticket_id, seq FROM events
WHERE (author_type, author_id, client_msg_id) IN
      (SELECT * FROM unnest($1::varchar[], $2::int[], $3::varchar[]))
"""


async def _stored(session: AsyncSession, keys: list[SentKey]) -> Sequence[Any]:
    """The events already stored under these idempotency keys."""
    if session.bind.dialect.name == "postgresql":
        # Arrays: one statement text whatever the number of keys (see timeline).
        columns = tuple(list(c) for c in zip(*keys, strict=True))
        connection = await session.connection()
        return (await connection.exec_driver_sql(_PG_STORED, columns)).all()
    return (await session.execute(_STORED, {"keys": _padded(keys)})).all()


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
