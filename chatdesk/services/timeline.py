"""Appending to and reading a ticket's timeline: seq assigned in the storing transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.attributes import set_committed_value

from chatdesk.realtime.protocol import Author, TicketEvent
from chatdesk.store import raw
from chatdesk.store.models import Event, Ticket, utcnow


def iso(dt: datetime) -> str:
    # SQLite hands back naive datetimes; everything chatdesk stores is UTC.
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat().replace("+00:00", "Z")


PENDING = "chatdesk.pending_events"
SEQS = "chatdesk.seqs"
LOCKED = "chatdesk.locked_tickets"
# (ticket, seq, kind, author_type, author_id, at) of every event added: whom to notify
# is decided at commit, from the tickets as the transaction leaves them.
APPENDED = "chatdesk.appended"
# (author_type, author_id, client_msg_id) -> (ticket, seq) | None, as a batch's
# prefetch found them (services.prefetch); kept up to date as events are written.
SENT = "chatdesk.prefetched_sent"
NO_FLUSH = "chatdesk_no_flush"


def mark_locked(session: AsyncSession, ticket_id: int) -> None:
    """The ticket's row is locked in this transaction (SELECT ... FOR UPDATE was run)."""
    session.sync_session.info.setdefault(LOCKED, set()).add(ticket_id)


def locked_row(session: AsyncSession, ticket: Ticket) -> None:
    """A ticket just (re)loaded FOR UPDATE: note the lock, and put back a last_seq that
    events of this transaction, not yet written, have moved past the stored one."""
    mark_locked(session, ticket.id)
    ahead = session.sync_session.info.get(SEQS, {}).get(ticket.id)
    if ahead is not None and ahead > ticket.last_seq:
        set_committed_value(ticket, "last_seq", ahead)


async def append(
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    visibility: str,
    author: Author,
    fields: dict[str, Any] | None = None,
    *,
    body: str | None = None,
    client_msg_id: str | None = None,
) -> TicketEvent:
    """Add one event to the transaction; its seq follows the ticket's last one.

    The ticket's row is locked (FOR UPDATE on PostgreSQL; SQLite has one writer), so
    seqs stay unique and gap-free across processes. The INSERT and the ticket's
    new last_seq are written together with the batch's others, in one statement
    each, just before the next read or the commit (see ``flush_pending``): a
    round trip per message is what capped the write path.
    """
    info = session.sync_session.info
    ticket_id = ticket.id
    if ticket_id not in info.get(LOCKED, ()):
        current = (
            await session.execute(
                select(Ticket.last_seq)
                .where(Ticket.id == ticket_id)
                .with_for_update()
                .execution_options(**{NO_FLUSH: True})
            )
        ).scalar_one()
        mark_locked(session, ticket_id)
        base = current
    else:
        base = ticket.last_seq
    seqs: dict[int, int] = info.setdefault(SEQS, {})
    seq = max(seqs.get(ticket_id, 0), base) + 1
    seqs[ticket_id] = seq
    now = utcnow()
    # Keep the loaded row in step without marking it dirty (the flush writes it).
    set_committed_value(ticket, "last_seq", seq)
    set_committed_value(ticket, "updated_at", now)
    data = dict(fields or {})
    info.setdefault(PENDING, []).append(
        {
            "ticket_id": ticket_id,
            "seq": seq,
            "kind": kind,
            "visibility": visibility,
            "author_type": author.type,
            "author_id": author.id,
            "author_name": author.name,
            "body": body,
            "data": data,
            "client_msg_id": client_msg_id,
            "at": now,
        }
    )
    info.setdefault(APPENDED, []).append((ticket, seq, kind, author.type, author.id, now))
    if body is not None:
        data = {"body": body, **data}
    if client_msg_id is not None:
        data["client_msg_id"] = client_msg_id
    return TicketEvent(ticket_id, seq, kind, visibility, author, iso(now), data)  # type: ignore[arg-type]


def pending_event(session: AsyncSession, author_type: str, author_id: int, cmid: str) -> Any:
    """An event of this transaction not yet written, by its author's client_msg_id."""
    for row in session.sync_session.info.get(PENDING, ()):
        if (row["author_type"], row["author_id"], row["client_msg_id"]) == (
            author_type,
            author_id,
            cmid,
        ):
            return row
    return None


# On PostgreSQL a batch's events and its tickets' last_seqs go in one statement, its
# rows as arrays: the text never changes with the batch's size (so it stays prepared)
# and SQLAlchemy's per-statement work, a third of a batch's CPU, is paid once.
_STORE_EVENTS = """
    INSERT INTO events (ticket_id, seq, kind, visibility, author_type, author_id,
                        author_name, body, data, client_msg_id, at)
    SELECT * FROM unnest($1::int[], $2::int[], $3::varchar[], $4::varchar[],
                         $5::varchar[], $6::int[], $7::varchar[], $8::text[],
                         $9::text[]::json[], $10::varchar[], $11::timestamptz[])
"""
_MOVE_SEQS = """
    UPDATE tickets SET last_seq = moved.seq, updated_at = moved.at
    FROM unnest($12::int[], $13::int[], $14::timestamptz[]) AS moved(id, seq, at)
    WHERE tickets.id = moved.id
"""
_PG_APPEND = f"WITH stored AS ({_STORE_EVENTS}){_MOVE_SEQS}"
_COLUMNS = (
    "ticket_id",
    "seq",
    "kind",
    "visibility",
    "author_type",
    "author_id",
    "author_name",
    "body",
    "data",
    "client_msg_id",
    "at",
)


# The same with the batch's notifications, decided at commit: one round trip for
# both instead of two (services.notifications).
_PG_APPEND_NOTIFY = f"""WITH stored AS ({_STORE_EVENTS}), seqs AS ({_MOVE_SEQS})
INSERT INTO notifications (agent_id, ticket_id, seq, kind, read, at)
SELECT * FROM unnest($15::int[], $16::int[], $17::int[], $18::varchar[], $19::bool[],
                     $20::timestamptz[])
RETURNING id, ticket_id, seq
"""


def _write_pg(
    sync_session: Session,
    rows: list[dict[str, Any]],
    latest: dict,
    notifications: tuple[list[Any], ...] | None = None,
) -> list[Any]:
    columns = [[row[c] for row in rows] for c in _COLUMNS]
    columns[8] = [json.dumps(d) for d in columns[8]]
    ids = list(latest)
    moved = (ids, [latest[t][0] for t in ids], [latest[t][1] for t in ids])
    connection = sync_session.connection()
    if notifications is None:
        connection.exec_driver_sql(_PG_APPEND, (*columns, *moved))
        return []
    return connection.exec_driver_sql(_PG_APPEND_NOTIFY, (*columns, *moved, *notifications)).all()


# SQLite: the same two writes as plain statements run for many rows (executemany).
_SQLITE_EVENTS = (
    "INSERT INTO events (ticket_id, seq, kind, visibility, author_type, author_id,"
    " author_name, body, data, client_msg_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_SEQS = "UPDATE tickets SET last_seq = ?, updated_at = ? WHERE id = ?"


def _write_sqlite(sync_session: Session, rows: list[dict[str, Any]], latest: dict) -> None:
    connection = sync_session.connection()
    columns = Event.__table__.c
    data = raw.binder(columns.data, connection.dialect)
    at = raw.binder(columns.at, connection.dialect)
    events = [
        (
            r["ticket_id"], r["seq"], r["kind"], r["visibility"], r["author_type"],
            r["author_id"], r["author_name"], r["body"], data(r["data"]),
            r["client_msg_id"], at(r["at"]),
        )
        for r in rows
    ]  # fmt: skip
    connection.exec_driver_sql(_SQLITE_EVENTS, events)
    updated = raw.binder(Ticket.__table__.c.updated_at, connection.dialect)
    seqs = [(seq, updated(moved), ticket) for ticket, (seq, moved) in latest.items()]
    connection.exec_driver_sql(_SQLITE_SEQS, seqs)


def flush_pending_sync(sync_session: Session) -> None:
    """Write the transaction's waiting events and last_seqs: one or two statements."""
    _flush(sync_session, None)


def flush_with_notifications(sync_session: Session, columns: tuple[list[Any], ...]) -> Any:
    """PostgreSQL, at commit: the waiting events and these notification rows (as
    arrays: agent, ticket, seq, kind, read, at) in one statement. Returns the
    notifications' (id, ticket, seq) rows, or None when no event was waiting (the
    caller then inserts them itself)."""
    return _flush(sync_session, columns)


def _flush(sync_session: Session, notifications: tuple[list[Any], ...] | None) -> Any:
    info = sync_session.info
    rows = info.get(PENDING)
    if not rows or info.get("chatdesk.flushing"):
        return None
    info["chatdesk.flushing"] = True
    try:
        info[PENDING] = []
        latest: dict[int, tuple[int, datetime]] = {}
        for row in rows:
            latest[row["ticket_id"]] = (row["seq"], row["at"])
        made = None
        if sync_session.get_bind().dialect.name == "postgresql":
            made = _write_pg(sync_session, rows, latest, notifications)
        else:
            _write_sqlite(sync_session, rows, latest)
        answers = info.get(SENT)
        if answers is not None:
            for row in rows:
                if row["client_msg_id"] is not None:
                    key = (row["author_type"], row["author_id"], row["client_msg_id"])
                    answers[key] = (row["ticket_id"], row["seq"])
        return made if notifications is not None else None
    finally:
        info["chatdesk.flushing"] = False


async def flush_pending(session: AsyncSession) -> None:
    await session.run_sync(flush_pending_sync)


@event.listens_for(Session, "before_commit")
def _flush_before_commit(sync_session: Session) -> None:
    flush_pending_sync(sync_session)


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(sync_session: Session) -> None:
    for key in (PENDING, SEQS, LOCKED, APPENDED):
        sync_session.info.pop(key, None)


@event.listens_for(Session, "do_orm_execute")
def _flush_before_reading(state: ORMExecuteState) -> None:
    # Any statement but the few marked safe sees the events this transaction added.
    if state.execution_options.get(NO_FLUSH) or not state.session.info.get(PENDING):
        return
    flush_pending_sync(state.session)


def to_event(row: Any) -> TicketEvent:
    """A stored event (an Event or a row of the events table) as it travels."""
    fields: dict[str, Any] = {}
    if row.body is not None:
        fields["body"] = row.body
    fields.update(row.data or {})
    if row.client_msg_id is not None:
        fields["client_msg_id"] = row.client_msg_id
    return TicketEvent(
        ticket=row.ticket_id,
        seq=row.seq,
        kind=row.kind,
        visibility=row.visibility,  # type: ignore[arg-type]
        author=Author(row.author_type, row.author_id, row.author_name),  # type: ignore[arg-type]
        at=iso(row.at),
        fields=fields,
    )


async def events_between(
    session: AsyncSession | AsyncConnection,
    ticket_id: int,
    after_seq: int,
    up_to: int | None = None,
    *,
    public_only: bool = False,
    limit: int | None = None,
) -> list[TicketEvent]:
    query = _EVENTS[(up_to is not None, public_only, limit is not None)]
    values = {"ticket": ticket_id, "after": after_seq, "up_to": up_to, "limit": limit}
    rows = (await session.execute(query, values)).all()
    return [to_event(r) for r in rows]


def _events_query(bounded: bool, public_only: bool, limited: bool) -> Any:
    # Plain rows, not ORM objects: a catch-up only turns them into TicketEvents.
    query = select(*Event.__table__.columns).where(
        Event.ticket_id == bindparam("ticket"), Event.seq > bindparam("after")
    )
    if bounded:
        query = query.where(Event.seq <= bindparam("up_to"))
    if public_only:
        query = query.where(Event.visibility == "public")
    query = query.order_by(Event.seq)
    if limited:
        query = query.limit(bindparam("limit"))
    return query


# Every variant built once (reconnects and catch-ups run these all the time).
_EVENTS = {
    (b, p, lim): _events_query(b, p, lim)
    for b in (False, True)
    for p in (False, True)
    for lim in (False, True)
}
