"""Data protection: everything held about a customer, and erasing it.

Erasure keeps the customer's tickets as anonymous shells (their number, status,
seqs, assignee and times) so reports still count them, and removes what the
customer wrote or is: message and note bodies, the subject, names, addresses,
uploads (rows, and files no other upload shares), customer notes, the visitor
token, and the content of rows other features linked to them. It runs as one
writer operation, so it commits whole or not at all.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Table, delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from chatdesk.errors import NotFound
from chatdesk.ops import audit, schema
from chatdesk.ops.scrub import (
    ERASED,
    VISITOR,
    link_conditions,
    scrub_event_fields,
    scrub_linked,
)
from chatdesk.realtime import bus
from chatdesk.services import timeline, views
from chatdesk.services.agents import Principal
from chatdesk.services.files import view as file_view
from chatdesk.services.ticketing import Changes, TicketService, locked
from chatdesk.services.timeline import iso
from chatdesk.store.models import Attachment, Customer, CustomerNote, Event, Site, Ticket

if TYPE_CHECKING:
    from chatdesk.desk import Desk

log = logging.getLogger(__name__)

# Erased explicitly below; every other table is handled by what links it to the customer.
EXPLICIT = {"customers", "tickets", "events", "attachments", "customer_notes"}
# Columns of a customer that stay: keys and when the row was made.
CUSTOMER_KEPT = {"id", "site_id", "created_at"}
# Ticket columns holding what the customer wrote; the empty value each becomes.
TICKET_TEXT: dict[str, Any] = {
    "subject": ERASED, "title": None, "description": None, "attributes": {}, "cc": [],
}  # fmt: skip
# Process-level topic on which an erasure tells every process to drop the visitor's sockets.
ERASED_TOPIC = "ops:erased"


class Privacy(TicketService):
    def __init__(self, desk: Desk) -> None:
        super().__init__(desk.writer, desk.reads)
        self.desk = desk

    # ---------------------------------------------------------------- export

    async def export(self, customer_id: int) -> dict[str, Any]:
        async with self._reads() as session:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"no customer {customer_id}")
            meta = await schema.metadata(session)
            row = (
                await session.execute(
                    select(meta.tables["customers"]).where(
                        meta.tables["customers"].c.id == customer_id
                    )
                )
            ).one()
            person = {k: schema.plain(v) for k, v in row._mapping.items() if k != "token_hash"}
            site = await session.get(Site, customer.site_id)
            ticket_ids = await _ticket_ids(session, customer_id)
            tickets = []
            for tid in ticket_ids:
                ticket = await session.get(Ticket, tid)
                if ticket is None:
                    continue
                shown = await views.ticket_view(session, ticket)
                events = await timeline.events_between(session, tid, 0)
                tickets.append({**shown, "events": [e.wire() for e in events]})
            files = (
                (
                    await session.execute(
                        select(Attachment).where(_attachments_of(customer_id, ticket_ids, []))
                    )
                )
                .scalars()
                .all()
            )
            other = {}
            links = _links(customer_id, ticket_ids, await _event_ids(session, ticket_ids))
            for name, table in sorted(meta.tables.items()):
                if name in EXPLICIT:
                    continue
                conds = link_conditions(table, links)
                if not conds:
                    continue
                rows = (await session.execute(select(table).where(or_(*conds)))).all()
                if rows:
                    other[name] = [
                        {k: schema.plain(v) for k, v in r._mapping.items()} for r in rows
                    ]
        return {
            "customer": person,
            "site": {"id": site.id, "name": site.name} if site else None,
            "tickets": tickets,
            "notes": await self.desk.profiles.notes(customer_id),
            "attachments": [{**file_view(a), "created_at": iso(a.created_at)} for a in files],
            "other": other,
        }

    # ---------------------------------------------------------------- erasure

    async def erase(self, actor: Principal, customer_id: int) -> dict[str, Any]:
        async def op(session: AsyncSession, changes: Changes) -> tuple[dict[str, Any], list[str]]:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"no customer {customer_id}")
            meta = await schema.metadata(session)
            sqlite = session.bind.dialect.name == "sqlite" if session.bind else False
            if sqlite:
                # Freed pages are zeroed, so old text is not left in the file either.
                await session.execute(text("PRAGMA secure_delete = ON"))
            ticket_ids = await _ticket_ids(session, customer_id)
            for tid in ticket_ids:
                await locked(session, tid)  # in id order, like every writer
            event_ids = await _event_ids(session, ticket_ids)
            counts = {"tickets": len(ticket_ids)}
            counts["events"] = await _erase_events(session, changes, ticket_ids)
            await _erase_tickets(session, meta.tables["tickets"], ticket_ids)
            note_files = [
                f
                for files in (
                    await session.execute(
                        select(CustomerNote.attachments).where(
                            CustomerNote.customer_id == customer_id
                        )
                    )
                ).scalars()
                for f in files or []
            ]
            cond = _attachments_of(customer_id, ticket_ids, note_files)
            shas = set((await session.execute(select(Attachment.sha256).where(cond))).scalars())
            counts["files"] = (await session.execute(delete(Attachment).where(cond))).rowcount
            counts["notes"] = (
                await session.execute(
                    delete(CustomerNote).where(CustomerNote.customer_id == customer_id)
                )
            ).rowcount
            links = _links(customer_id, ticket_ids, event_ids)
            other = 0
            for name, table in meta.tables.items():
                if name not in EXPLICIT:
                    other += await scrub_linked(session, table, links)
            counts["other_rows"] = other
            await _erase_customer(session, meta.tables["customers"], customer_id)
            for tid in ticket_ids:
                ticket = await session.get(Ticket, tid, populate_existing=True)
                if ticket is not None:
                    await changes.ticket_changed(session, ticket)
            changes.raw(ERASED_TOPIC, bus.KickMsg(customer_id))
            await audit.record(session, actor, "customer.erase", f"customer:{customer_id}", counts)
            if sqlite:
                for fts in await session.run_sync(lambda s: schema.fts_tables(s.connection())):
                    # Merge the index so deleted terms are gone from its segments too.
                    await session.execute(
                        text(f'INSERT INTO "{fts}"("{fts}") VALUES (\'optimize\')')
                    )
                await session.execute(text("PRAGMA secure_delete = OFF"))
            return counts, sorted(shas)

        counts, shas = await self._write(customer_id, op)
        counts["files_removed"] = await self.remove_unreferenced(shas)
        return counts

    async def remove_unreferenced(self, shas: list[str]) -> int:
        """Delete stored files no upload row points at any more."""
        if not shas:
            return 0
        async with self._reads() as session:
            kept = set(
                (
                    await session.execute(
                        select(Attachment.sha256).where(Attachment.sha256.in_(shas))
                    )
                ).scalars()
            )
        removed = 0
        for sha in shas:
            if sha in kept:
                continue
            path = self.desk.files.path(sha)
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not delete an erased file: %s", exc.strerror)
        return removed


async def _ticket_ids(session: AsyncSession, customer_id: int) -> list[int]:
    own = select(Ticket.id).where(Ticket.customer_id == customer_id)
    wrote = select(Event.ticket_id).where(
        Event.author_type == "visitor", Event.author_id == customer_id
    )
    ids = set((await session.execute(own)).scalars()) | set(
        (await session.execute(wrote)).scalars()
    )
    return sorted(ids)


async def _event_ids(session: AsyncSession, ticket_ids: list[int]) -> list[int]:
    if not ticket_ids:
        return []
    return list(
        (await session.execute(select(Event.id).where(Event.ticket_id.in_(ticket_ids)))).scalars()
    )


def _attachments_of(customer_id: int, ticket_ids: list[int], extra: list[str]) -> Any:
    conds = [(Attachment.uploader_type == "visitor") & (Attachment.uploader_id == customer_id)]
    if ticket_ids:
        conds.append(Attachment.ticket_id.in_(ticket_ids))
    if extra:
        conds.append(Attachment.id.in_(extra))
    return or_(*conds)


def _links(
    customer_id: int, ticket_ids: list[int], event_ids: list[int]
) -> dict[str, tuple[str, list[Any]]]:
    return {
        "customers": ("customer_id", [customer_id]),
        "tickets": ("ticket_id", ticket_ids),
        "events": ("event_id", event_ids),
    }


async def _erase_events(session: AsyncSession, changes: Changes, ticket_ids: list[int]) -> int:
    if not ticket_ids:
        return 0
    rows = (
        (await session.execute(select(Event).where(Event.ticket_id.in_(ticket_ids))))
        .scalars()
        .all()
    )
    changed = 0
    for row in rows:
        body = ERASED if row.body is not None else None
        name = VISITOR if row.author_type == "visitor" else row.author_name
        data = scrub_event_fields(row.kind, dict(row.data or {}))
        if (body, name, data) == (row.body, row.author_name, row.data):
            continue
        await session.execute(
            update(Event).where(Event.id == row.id).values(body=body, author_name=name, data=data)
        )
        for attr, value in (("body", body), ("author_name", name), ("data", data)):
            set_committed_value(row, attr, value)  # written above; not dirty again
        changed += 1
        if row.kind in ("message", "note"):
            topic = bus.ticket_topic(row.ticket_id)
            changes.raw(topic, bus.EventUpdatedMsg(timeline.to_event(row)))
    return changed


async def _erase_tickets(session: AsyncSession, table: Table, ticket_ids: list[int]) -> None:
    if not ticket_ids:
        return
    values = {k: v for k, v in TICKET_TEXT.items() if k in table.c}
    await session.execute(update(table).where(table.c.id.in_(ticket_ids)).values(**values))


async def _erase_customer(session: AsyncSession, table: Table, customer_id: int) -> None:
    values: dict[str, Any] = {}
    for col in table.columns:
        if col.name in CUSTOMER_KEPT or col.primary_key or col.foreign_keys:
            continue
        if col.name.endswith("_id") and col.name != "external_id":
            continue  # links (a company), not personal data
        if col.nullable:
            values[col.name] = None
        elif isinstance(col.type, String):
            values[col.name] = ERASED
    await session.execute(update(table).where(table.c.id == customer_id).values(**values))
