"""The ticket aggregate: every change to a ticket, for visitors and agents alike.

REST routes and WebSocket handlers call these methods and nothing else writes.
Each write runs inside the batched writer, stores its events with their seqs,
and names what is published once the batch commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from chatdesk.realtime import bus
from chatdesk.realtime.protocol import Author, TicketEvent
from chatdesk.services import timeline, views
from chatdesk.services.agents import Principal
from chatdesk.services.files import claim_for_ticket
from chatdesk.services.ticketing import (
    Changes,
    TicketService,
    Written,
    author_of,
    existing,
    locked,
    require_writer,
    subject_of,
    writable,
)
from chatdesk.store.models import (
    Agent,
    Collaborator,
    Customer,
    Group,
    Label,
    Ticket,
    TicketLabel,
    utcnow,
)

STATUSES = ("new", "open", "pending", "solved", "closed", "spam")
PRIORITIES = ("low", "normal", "high", "urgent")
# Status changes an agent may make with the `status` command (claim and release have
# their own commands); closing by hand is for admins.
AGENT_MOVES = {
    ("open", "pending"),
    ("open", "solved"),
    ("pending", "solved"),
    ("pending", "open"),
    ("solved", "open"),
}
ADMIN_MOVES = AGENT_MOVES | {("solved", "closed")}
MAX_LABEL_CHARS = 64


def label_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > MAX_LABEL_CHARS:
        raise BadRequest(f"a label is 1 to {MAX_LABEL_CHARS} characters")
    return name.lower()


class Tickets(TicketService):
    # ------------------------------------------------------------------ visitors

    async def visitor_message(
        self, customer_id: int, client_msg_id: str, body: str, attachments: tuple[str, ...] = ()
    ) -> Written:
        body = _message_body(body)

        async def op(session: AsyncSession, changes: Changes) -> Written:
            done = await existing(session, "visitor", customer_id, client_msg_id)
            if done is not None:
                return done
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound("unknown visitor")
            author = Author("visitor", customer.id, customer.name or "Visitor")
            current = await _current_ticket(session, customer.id, for_update=True)
            created = False
            if current is None or current.status == "closed":
                ticket = Ticket(
                    kind="customer",
                    status="new",
                    subject=subject_of(body),
                    site_id=customer.site_id,
                    customer_id=customer.id,
                    priority="normal",
                    last_seq=0,
                    follow_up_of=current.id if current is not None else None,
                )
                session.add(ticket)
                await session.flush()
                created = True
            else:
                ticket = current
            files = await claim_for_ticket(
                session, attachments, ("visitor", customer.id), ticket.id
            )
            event = await timeline.append(
                session,
                ticket,
                "message",
                "public",
                author,
                {"attachments": files, "via": "chat"},
                body=body,
                client_msg_id=client_msg_id,
            )
            changes.event(event)
            if created and ticket.follow_up_of is not None:
                await _link_follow_up(session, changes, ticket)
            if ticket.status in ("pending", "solved"):
                changes.event(await _set_status(session, ticket, "open", author))
                await changes.ticket_changed(session, ticket)
            elif created:
                await changes.ticket_changed(session, ticket)
            return Written(ticket.id, event.seq, created)

        return await self._write(customer_id, op)

    async def visitor_read(self, customer_id: int, seq: int) -> int | None:
        async def op(session: AsyncSession, changes: Changes) -> int | None:
            ticket = await _current_ticket(session, customer_id)
            if ticket is None:
                return None
            seq_ = min(seq, ticket.last_seq)
            if seq_ <= ticket.visitor_read_seq:
                return ticket.id
            await session.execute(
                update(Ticket).where(Ticket.id == ticket.id).values(visitor_read_seq=seq_)
            )
            topic = bus.ticket_topic(ticket.id)
            changes.raw(topic, bus.ReadMsg(ticket.id, seq_))
            return ticket.id

        return await self._write(customer_id, op)

    async def visitor_profile(
        self, customer_id: int, name: str | None, email: str | None
    ) -> dict[str, Any]:
        from chatdesk.services.agents import check_email

        if email is not None and email != "":
            email = check_email(email)

        async def op(session: AsyncSession, changes: Changes) -> dict[str, Any]:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound("unknown visitor")
            if name is not None:
                customer.name = " ".join(name.split()) or None
            if email is not None:
                customer.email = email or None
            await session.flush()
            ticket = await _current_ticket(session, customer_id)
            if ticket is not None:
                summary = await views.ticket_view(session, ticket)
                changes.raw(bus.AGENTS, bus.QueueMsg(summary))
            return views.customer_ref(customer) or {}

        return await self._write(customer_id, op)

    async def visitor_state(
        self, customer_id: int, after_seq: int
    ) -> tuple[dict[str, Any] | None, list[TicketEvent], int | None]:
        """The visitor's current ticket, its public events after ``after_seq``, and its last seq."""
        async with self._reads() as session:
            ticket = await _current_ticket(session, customer_id)
            if ticket is None:
                return None, [], None
            events = await timeline.events_between(
                session, ticket.id, after_seq, ticket.last_seq, public_only=True
            )
            return await views.visitor_ticket(session, ticket), events, ticket.last_seq

    async def current_ticket_id(self, customer_id: int) -> int | None:
        async with self._reads() as session:
            ticket = await _current_ticket(session, customer_id)
            return ticket.id if ticket is not None else None

    # ------------------------------------------------------------------ agents

    async def send(
        self,
        agent: Principal,
        ticket_id: int,
        client_msg_id: str,
        body: str,
        attachments: tuple[str, ...] = (),
    ) -> Written:
        body = _message_body(body)

        async def op(session: AsyncSession, changes: Changes) -> Written:
            done = await existing(session, "agent", agent.id, client_msg_id)
            if done is not None:
                return done
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            if ticket.status == "spam":
                raise Conflict(f"ticket {ticket.id} is in spam; restore it first")
            files = await claim_for_ticket(session, attachments, ("agent", agent.id), ticket.id)
            event = await timeline.append(
                session,
                ticket,
                "message",
                "public",
                author_of(agent),
                {"attachments": files, "via": "chat"},
                body=body,
                client_msg_id=client_msg_id,
            )
            changes.event(event)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)

    async def note(
        self,
        agent: Principal,
        ticket_id: int,
        client_msg_id: str,
        body: str,
        attachments: tuple[str, ...] = (),
    ) -> Written:
        body = _message_body(body)

        async def op(session: AsyncSession, changes: Changes) -> Written:
            done = await existing(session, "agent", agent.id, client_msg_id)
            if done is not None:
                return done
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            files = await claim_for_ticket(session, attachments, ("agent", agent.id), ticket.id)
            event = await timeline.append(
                session,
                ticket,
                "note",
                "internal",
                author_of(agent),
                {"attachments": files, "cross_posted_to": []},
                body=body,
                client_msg_id=client_msg_id,
            )
            changes.event(event)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)

    async def claim(self, agent: Principal, ticket_id: int) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            if ticket.status != "new":
                who = ""
                if ticket.assignee_id is not None:
                    owner = await session.get(Agent, ticket.assignee_id)
                    who = f" by {owner.name}" if owner else ""
                raise Conflict(f"ticket {ticket.id} is {ticket.status}{who}, not new")
            ticket.assignee_id = agent.id
            await session.flush()
            assigned = await timeline.append(
                session,
                ticket,
                "assigned",
                "internal",
                author_of(agent),
                {"assignee": {"id": agent.id, "name": agent.name}, "group": _group_ref(ticket)},
            )
            status = await _set_status(session, ticket, "open", author_of(agent))
            changes.event(assigned)
            changes.event(status)
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, status.seq)

        return await self._write(ticket_id, op)

    async def release(self, agent: Principal, ticket_id: int) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            if not (agent.is_admin or ticket.assignee_id == agent.id):
                raise Forbidden("only the assignee or an admin may release a ticket")
            if ticket.status != "open":
                raise Conflict(f"only an open ticket can be released; it is {ticket.status}")
            ticket.assignee_id = None
            await session.flush()
            assigned = await timeline.append(
                session,
                ticket,
                "assigned",
                "internal",
                author_of(agent),
                {"assignee": None, "group": _group_ref(ticket)},
            )
            status = await _set_status(session, ticket, "new", author_of(agent))
            changes.event(assigned)
            changes.event(status)
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, status.seq)

        return await self._write(ticket_id, op)

    async def transfer(
        self, agent: Principal, ticket_id: int, to_agent: int | None, to_group: int | None
    ) -> Written:
        if to_agent is None and to_group is None:
            raise BadRequest("transfer needs 'agent' or 'group'")

        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            if ticket.status == "spam":
                raise Conflict(f"ticket {ticket.id} is in spam; restore it first")
            if not (agent.is_admin or ticket.assignee_id == agent.id or ticket.status == "new"):
                raise Forbidden("only the assignee or an admin may transfer this ticket")
            target: Agent | None = None
            if to_agent is not None:
                target = await session.get(Agent, to_agent)
                if target is None or not target.active:
                    raise NotFound(f"no active agent {to_agent}")
            if to_group is not None:
                group = await session.get(Group, to_group)
                if group is None:
                    raise NotFound(f"no group {to_group}")
                ticket.group_id = group.id
            ticket.assignee_id = target.id if target is not None else None
            await session.flush()
            assigned = await timeline.append(
                session,
                ticket,
                "assigned",
                "internal",
                author_of(agent),
                {"assignee": views.agent_ref(target), "group": await _group_view(session, ticket)},
            )
            changes.event(assigned)
            last = assigned.seq
            if target is not None and ticket.status == "new":
                last = (await _emit_status(session, changes, ticket, "open", agent)).seq
            elif target is None and ticket.status == "open":
                last = (await _emit_status(session, changes, ticket, "new", agent)).seq
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, last)

        return await self._write(ticket_id, op)

    async def set_status(self, agent: Principal, ticket_id: int, to: str) -> Written:
        if to not in STATUSES:
            raise BadRequest(f"'to' must be one of {', '.join(STATUSES)}")

        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            moves = ADMIN_MOVES if agent.is_admin else AGENT_MOVES
            if ticket.status == to:
                raise Conflict(f"ticket {ticket.id} is {to} already")
            if (ticket.status, to) not in moves:
                raise Conflict(f"a ticket cannot go from {ticket.status} to {to} this way")
            event = await _emit_status(session, changes, ticket, to, agent)
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)

    async def set_labels(
        self, agent: Principal, ticket_id: int, add: tuple[str, ...], remove: tuple[str, ...]
    ) -> Written:
        add_names = sorted({label_name(n) for n in add})
        remove_names = sorted({label_name(n) for n in remove} - set(add_names))
        if not add_names and not remove_names:
            raise BadRequest("labels needs 'add' or 'remove'")

        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            current = set(
                (
                    await session.execute(
                        select(Label.name)
                        .join(TicketLabel, TicketLabel.label_id == Label.id)
                        .where(TicketLabel.ticket_id == ticket.id)
                    )
                ).scalars()
            )
            added = [n for n in add_names if n not in current]
            removed = [n for n in remove_names if n in current]
            if not added and not removed:
                return Written(ticket.id, None)
            for name in added:
                label_id = await session.scalar(select(Label.id).where(Label.name == name))
                if label_id is None:
                    label_id = (
                        await session.execute(insert(Label).values(name=name).returning(Label.id))
                    ).scalar_one()
                await session.execute(
                    insert(TicketLabel).values(ticket_id=ticket.id, label_id=label_id)
                )
            if removed:
                ids = select(Label.id).where(Label.name.in_(removed)).scalar_subquery()
                await session.execute(
                    delete(TicketLabel).where(
                        TicketLabel.ticket_id == ticket.id, TicketLabel.label_id.in_(ids)
                    )
                )
            event = await timeline.append(
                session,
                ticket,
                "labels",
                "internal",
                author_of(agent),
                {"added": added, "removed": removed},
            )
            changes.event(event)
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)

    async def set_priority(self, agent: Principal, ticket_id: int, priority: str) -> Written:
        if priority not in PRIORITIES:
            raise BadRequest(f"priority is one of {', '.join(PRIORITIES)}")

        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            if ticket.priority == priority:
                return Written(ticket.id, None)
            before = ticket.priority
            ticket.priority = priority
            await session.flush()
            event = await timeline.append(
                session,
                ticket,
                "updated",
                "internal",
                author_of(agent),
                {"fields": {"priority": {"from": before, "to": priority}}},
            )
            changes.event(event)
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)

    # ------------------------------------------------------------------ reads

    async def ticket(self, ticket_id: int) -> dict[str, Any]:
        async with self._reads() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id}")
            return await views.ticket_view(session, ticket)

    async def events(
        self, ticket_id: int, after_seq: int, up_to: int | None = None, limit: int | None = None
    ) -> list[TicketEvent]:
        async with self._reads() as session:
            return await timeline.events_between(session, ticket_id, after_seq, up_to, limit=limit)

    async def watch(
        self, ticket_id: int, after_seq: int
    ) -> tuple[dict[str, Any], list[TicketEvent]]:
        async with self._reads() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id}")
            events = await timeline.events_between(session, ticket_id, after_seq, ticket.last_seq)
            return await views.ticket_view(session, ticket), events

    async def agent_tickets(self, agent_id: int) -> list[tuple[int, int]]:
        """(ticket, last_seq) of every live ticket the agent owns or collaborates on."""
        async with self._reads() as session:
            collab = select(Collaborator.ticket_id).where(Collaborator.agent_id == agent_id)
            rows = await session.execute(
                select(Ticket.id, Ticket.last_seq).where(
                    Ticket.status.not_in(("closed", "spam")),
                    (Ticket.assignee_id == agent_id) | Ticket.id.in_(collab),
                )
            )
            return [(r.id, r.last_seq) for r in rows]

    async def counts(self, agent_id: int) -> dict[str, int]:
        async with self._reads() as session:
            rows = (
                await session.execute(
                    select(
                        Ticket.status,
                        (Ticket.assignee_id == agent_id).label("mine"),
                        func.count(),
                    )
                    .where(Ticket.status.in_(("new", "open", "pending")))
                    .group_by(Ticket.status, "mine")
                )
            ).all()
        counts = {"new": 0, "mine_open": 0, "mine_pending": 0, "team_open": 0}
        for status, mine, n in rows:
            if status == "new":
                counts["new"] += n
            elif status == "open":
                counts["mine_open" if mine else "team_open"] += n
            elif status == "pending" and mine:
                counts["mine_pending"] += n
        return counts

    async def can_write(self, agent: Principal, ticket_id: int) -> bool:
        async with self._reads() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                return False
            try:
                await require_writer(session, ticket, agent)
            except Forbidden:
                return False
            return True


def _message_body(body: str) -> str:
    if not body.strip():
        raise BadRequest("'body' must not be empty")
    return body


def _group_ref(ticket: Ticket) -> dict[str, Any] | None:
    return {"id": ticket.group_id} if ticket.group_id is not None else None


async def _group_view(session: AsyncSession, ticket: Ticket) -> dict[str, Any] | None:
    if ticket.group_id is None:
        return None
    group = await session.get(Group, ticket.group_id)
    return {"id": group.id, "name": group.name} if group else None


async def _current_ticket(
    session: AsyncSession, customer_id: int, for_update: bool = False
) -> Ticket | None:
    """The customer's latest ticket; a closed one means the next message starts anew."""
    query = (
        select(Ticket)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if for_update:
        query = query.with_for_update()
    ticket = (await session.execute(query)).scalar_one_or_none()
    if ticket is not None and ticket.status == "closed" and not for_update:
        return None
    return ticket


async def _set_status(
    session: AsyncSession, ticket: Ticket, to: str, author: Author
) -> TicketEvent:
    before = ticket.status
    if to == "spam":
        ticket.previous_status = before
    ticket.status = to
    await session.flush()
    return await timeline.append(
        session, ticket, "status", "public", author, {"from": before, "to": to}
    )


async def _emit_status(
    session: AsyncSession, changes: Changes, ticket: Ticket, to: str, agent: Principal
) -> TicketEvent:
    event = await _set_status(session, ticket, to, author_of(agent))
    changes.event(event)
    return event


async def _link_follow_up(session: AsyncSession, changes: Changes, ticket: Ticket) -> None:
    previous = await locked(session, ticket.follow_up_of or 0)
    system = Author("system", None, "chatdesk")
    changes.event(
        await timeline.append(
            session,
            ticket,
            "linked",
            "internal",
            system,
            {"other": previous.id, "relation": "follow_up"},
        )
    )
    changes.event(
        await timeline.append(
            session,
            previous,
            "linked",
            "internal",
            system,
            {"other": ticket.id, "relation": "follow_up"},
        )
    )


_ = utcnow
