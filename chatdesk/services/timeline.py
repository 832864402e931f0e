"""Appending to and reading a ticket's timeline: seq assigned in the storing transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from chatdesk.realtime.protocol import Author, TicketEvent
from chatdesk.store.models import Event, Ticket, utcnow


def iso(dt: datetime) -> str:
    # SQLite hands back naive datetimes; everything chatdesk stores is UTC.
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat().replace("+00:00", "Z")


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
    """Store one event; its seq comes from the ticket row, incremented in this transaction.

    The UPDATE takes the ticket's row lock on PostgreSQL, so concurrent writers of one
    ticket queue up behind each other and seqs stay unique and gap-free.
    """
    ticket_id = ticket.id
    now = utcnow()
    seq = (
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(last_seq=Ticket.last_seq + 1, updated_at=now)
            .returning(Ticket.last_seq)
        )
    ).scalar_one()
    # Keep the loaded row in step without marking it dirty (the UPDATE above wrote it).
    set_committed_value(ticket, "last_seq", seq)
    set_committed_value(ticket, "updated_at", now)
    data = dict(fields or {})
    await session.execute(
        insert(Event).values(
            ticket_id=ticket_id,
            seq=seq,
            kind=kind,
            visibility=visibility,
            author_type=author.type,
            author_id=author.id,
            author_name=author.name,
            body=body,
            data=data,
            client_msg_id=client_msg_id,
            at=now,
        )
    )
    if body is not None:
        data = {"body": body, **data}
    if client_msg_id is not None:
        data["client_msg_id"] = client_msg_id
    return TicketEvent(ticket_id, seq, kind, visibility, author, iso(now), data)  # type: ignore[arg-type]


def to_event(row: Event) -> TicketEvent:
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
    session: AsyncSession,
    ticket_id: int,
    after_seq: int,
    up_to: int | None = None,
    *,
    public_only: bool = False,
    limit: int | None = None,
) -> list[TicketEvent]:
    query = select(Event).where(Event.ticket_id == ticket_id, Event.seq > after_seq)
    if up_to is not None:
        query = query.where(Event.seq <= up_to)
    if public_only:
        query = query.where(Event.visibility == "public")
    query = query.order_by(Event.seq)
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.execute(query)).scalars().all()
    return [to_event(r) for r in rows]
