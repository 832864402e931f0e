"""Tickets made by hand: customer tickets from phone or mail, back-office and tracker tickets,
their links to customer chats, and solving a tracker's linked tickets at once."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from chatdesk.realtime.protocol import Author
from chatdesk.services import ticket_fields, ticket_types, timeline
from chatdesk.services.agents import Principal, check_email
from chatdesk.services.sla import apply_due
from chatdesk.services.ticket_ops import PRIORITIES, do_fields, set_status_event
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
from chatdesk.store.models import Agent, Collaborator, Customer, Group, Site, Ticket, utcnow
from chatdesk.store.models_backoffice import TicketLink

CHANNELS = ("chat", "email", "phone", "other")
MAX_DESCRIPTION = 20_000
_PHONE = re.compile(r"^[0-9+()./ -]{3,40}$")


def _text(body: dict[str, Any], name: str, max_chars: int, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"'{name}' is required")
        return None
    if not isinstance(value, str) or len(value) > max_chars or (required and not value.strip()):
        raise BadRequest(f"'{name}' is text of 1 to {max_chars} characters")
    return value


def _id(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise BadRequest(f"'{name}' is an id")
    return value


def _ids(body: dict[str, Any], name: str) -> list[int]:
    value = body.get(name, [])
    if not isinstance(value, list) or len(value) > 500:
        raise BadRequest(f"'{name}' is a list of ticket ids")
    return [_id({"x": v}, "x") or 0 for v in value]


async def _people(
    session: AsyncSession, body: dict[str, Any], creator: Principal
) -> tuple[int | None, int | None]:
    assignee, group = _id(body, "assignee"), _id(body, "group")
    if assignee is not None:
        agent = await session.get(Agent, assignee)
        if agent is None or not agent.active:
            raise NotFound(f"no active agent {assignee}")
    if group is not None and await session.get(Group, group) is None:
        raise NotFound(f"no group {group}")
    return assignee, group


async def link_pair(
    session: AsyncSession, changes: Changes, a: Ticket, b: Ticket, author: Author
) -> None:
    if a.id == b.id:
        raise BadRequest("a ticket cannot be linked to itself")
    exists = await session.scalar(
        select(TicketLink.ticket_id).where(
            TicketLink.ticket_id == a.id, TicketLink.other_id == b.id
        )
    )
    if exists is not None:
        raise Conflict(f"tickets {a.id} and {b.id} are linked already")
    await session.execute(insert(TicketLink).values(ticket_id=a.id, other_id=b.id))
    await session.execute(insert(TicketLink).values(ticket_id=b.id, other_id=a.id))
    for one, other in ((a, b), (b, a)):
        relation = other.kind if other.kind != "customer" else one.kind
        if relation == "customer":
            relation = "related"
        changes.event(
            await timeline.append(
                session,
                one,
                "linked",
                "internal",
                author,
                {"other": other.id, "relation": relation},
            )
        )


class Backoffice(TicketService):
    async def create(self, agent: Principal, body: dict[str, Any]) -> int:
        kind = body.get("kind", "customer")
        if kind not in ("customer", "backoffice", "tracker"):
            raise BadRequest("'kind' is customer, backoffice or tracker")
        title = _text(body, "title", 200, required=True) or ""
        description = _text(body, "description", MAX_DESCRIPTION)
        priority = body.get("priority", "normal")
        if priority not in PRIORITIES:
            raise BadRequest(f"priority is one of {', '.join(PRIORITIES)}")
        links = _ids(body, "links")

        async def op(session: AsyncSession, changes: Changes) -> int:
            assignee, group = await _people(session, body, agent)
            ticket = Ticket(
                kind=kind,
                status="new",
                subject=subject_of(title),
                title=title,
                description=description,
                priority=priority,
                assignee_id=assignee,
                group_id=group,
                last_seq=0,
                attributes={},
            )
            if kind == "customer":
                first = await self._customer_ticket(session, ticket, body)
            else:
                ttype = await ticket_types.get_type(session, body.get("type"))
                if ttype.kind != kind:
                    raise BadRequest(f"ticket type {ttype.name!r} is for {ttype.kind} tickets")
                ticket.type_id = ttype.id
                ticket.attributes = ticket_types.check_values(ttype, body.get("attributes"))
                ticket.channel = "other"
                first = None
            await apply_due(session, ticket)
            session.add(ticket)
            await session.flush()
            author = author_of(agent)
            if first is not None:
                text, customer = first
                who = Author("visitor", customer.id, customer.name or customer.email or "Customer")
                changes.event(
                    await timeline.append(
                        session,
                        ticket,
                        "message",
                        "public",
                        who,
                        {"attachments": [], "via": ticket.channel, "recorded_by": agent.id},
                        body=text,
                    )
                )
            else:
                if not agent.is_system and agent.id != assignee:
                    # The front-line agent who files it follows it and may add notes.
                    await session.execute(
                        insert(Collaborator).values(ticket_id=ticket.id, agent_id=agent.id)
                    )
                changes.event(
                    await timeline.append(
                        session,
                        ticket,
                        "created",
                        "internal",
                        author,
                        {"ticket_kind": kind, "title": title},
                    )
                )
            for other_id in links:
                other = await locked(session, other_id)
                writable(other)
                await link_pair(session, changes, ticket, other, author)
            if assignee is not None and kind == "customer":
                await set_status_event(session, changes, ticket, "open", author)
            await changes.ticket_changed(session, ticket)
            return ticket.id

        return await self._write(0, op)

    async def _customer_ticket(
        self, session: AsyncSession, ticket: Ticket, body: dict[str, Any]
    ) -> tuple[str, Customer]:
        channel = body.get("channel")
        if channel not in CHANNELS:
            raise BadRequest(f"'channel' is one of {', '.join(CHANNELS)}")
        text = _text(body, "body", 10_000, required=True) or ""
        raw = body.get("customer")
        if not isinstance(raw, dict):
            raise BadRequest("'customer' is {email?, name?, phone?}")
        email = check_email(raw["email"]) if isinstance(raw.get("email"), str) else None
        name = _text(raw, "name", 200)
        phone = _text(raw, "phone", 40)
        if phone is not None and not _PHONE.match(phone):
            raise BadRequest("'phone' has digits, spaces and + ( ) - . / only")
        if email is None and name is None and phone is None:
            raise BadRequest("'customer' needs an email, a name or a phone")
        site_id = _id(body, "site")
        site = (
            await session.get(Site, site_id)
            if site_id
            else await session.scalar(select(Site).order_by(Site.id).limit(1))
        )
        if site is None:
            raise NotFound("no such site")
        customer = None
        if email is not None:
            customer = await session.scalar(
                select(Customer).where(Customer.site_id == site.id, Customer.email == email)
            )
        if customer is None:
            customer = Customer(site_id=site.id, email=email, name=name, phone=phone)
            session.add(customer)
            await session.flush()
        elif phone and not customer.phone:
            customer.phone = phone
        ticket.customer_id = customer.id
        ticket.site_id = site.id
        ticket.channel = channel
        return text, customer

    async def link(self, agent: Principal, ticket_id: int, other_id: int) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            first, second = sorted((ticket_id, other_id))
            a = await locked(session, first)
            b = await locked(session, second)
            for t in (a, b):
                writable(t)
            await require_writer(session, a if a.id == ticket_id else b, agent)
            await link_pair(session, changes, a, b, author_of(agent))
            for t in (a, b):
                await changes.ticket_changed(session, t)
            return Written(ticket_id, None)

        return await self._write(min(ticket_id, other_id), op)

    async def unlink(self, agent: Principal, ticket_id: int, other_id: int) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            first, second = sorted((ticket_id, other_id))
            a = await locked(session, first)
            b = await locked(session, second)
            await require_writer(session, a if a.id == ticket_id else b, agent)
            gone = await session.execute(
                delete(TicketLink).where(
                    ((TicketLink.ticket_id == a.id) & (TicketLink.other_id == b.id))
                    | ((TicketLink.ticket_id == b.id) & (TicketLink.other_id == a.id))
                )
            )
            if not gone.rowcount:
                raise NotFound(f"tickets {a.id} and {b.id} are not linked")
            for one, other in ((a, b), (b, a)):
                changes.event(
                    await timeline.append(
                        session, one, "unlinked", "internal", author_of(agent), {"other": other.id}
                    )
                )
                await changes.ticket_changed(session, one)
            return Written(ticket_id, None)

        return await self._write(min(ticket_id, other_id), op)

    async def solve_tracker(
        self, agent: Principal, ticket_id: int, reply: str, reason: str | None
    ) -> Written:
        """Solve a tracker and every live customer ticket linked to it, with one public reply."""
        if not reply.strip() or len(reply) > 10_000:
            raise BadRequest("'reply.body' is 1 to 10000 characters")

        async def op(session: AsyncSession, changes: Changes) -> Written:
            tracker = await locked(session, ticket_id)
            writable(tracker)
            await require_writer(session, tracker, agent)
            if tracker.kind != "tracker":
                raise BadRequest("a reply with the solve is for tracker tickets")
            if tracker.status == "solved":
                raise Conflict(f"ticket {tracker.id} is solved already")
            author = author_of(agent)
            links = select(TicketLink.other_id).where(TicketLink.ticket_id == tracker.id)
            for other_id in sorted((await session.execute(links)).scalars()):
                other = await locked(session, other_id)
                if other.kind != "customer" or other.status in ("closed", "spam", "solved"):
                    continue
                changes.event(
                    await timeline.append(
                        session,
                        other,
                        "message",
                        "public",
                        author,
                        {"attachments": [], "via": "chat", "tracker": tracker.id},
                        body=reply,
                    )
                )
                if other.first_response_at is None:
                    other.first_response_at = utcnow()
                if other.status == "new" and other.assignee_id is None:
                    other.assignee_id = agent.id if not agent.is_system else None
                other.resolve_reason = reason
                await set_status_event(session, changes, other, "solved", author)
                await changes.ticket_changed(session, other)
            tracker.resolve_reason = reason
            event = await set_status_event(session, changes, tracker, "solved", author)
            await changes.ticket_changed(session, tracker)
            return Written(tracker.id, event.seq)

        return await self._write(ticket_id, op)

    async def patch(self, agent: Principal, ticket_id: int, body: dict[str, Any]) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            values = await ticket_fields.check(session, ticket, body)
            return await do_fields(session, changes, agent, ticket_id, values)

        return await self._write(ticket_id, op)

    async def delete_spam(self, agent: Principal, ticket_id: int) -> None:
        async def op(session: AsyncSession, changes: Changes) -> None:
            if not agent.is_admin:
                raise Forbidden("only an admin may delete a ticket")
            ticket = await locked(session, ticket_id)
            if ticket.status != "spam":
                raise Conflict("only a ticket in spam can be deleted")
            await session.delete(ticket)

        await self._write(ticket_id, op)
