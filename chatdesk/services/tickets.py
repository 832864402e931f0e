"""The ticket aggregate: every change to a ticket, for visitors and agents alike.

REST routes and WebSocket handlers call these methods and nothing else writes.
Each write runs inside the batched writer, stores its events with their seqs,
and names what is published once the batch commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from chatdesk.realtime import bus
from chatdesk.realtime.protocol import Author, TicketEvent
from chatdesk.services import prefetch, timeline, views
from chatdesk.services.agents import Principal
from chatdesk.services.banned import BannedWords
from chatdesk.services.files import claim_for_ticket
from chatdesk.services.sla import apply_due
from chatdesk.services.ticket_ops import (
    do_assign,
    do_fields,
    do_labels,
    do_priority,
    do_restore,
    do_status,
    linked_ids,
    not_spam,
    set_status_event,
)
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
from chatdesk.services.writer import Writer
from chatdesk.store.db import RowReads
from chatdesk.store.models import (
    Agent,
    Collaborator,
    Customer,
    Ticket,
    utcnow,
)


class Tickets(TicketService):
    def __init__(
        self, writer: Writer, reads: async_sessionmaker[AsyncSession], rows: RowReads
    ) -> None:
        super().__init__(writer, reads)
        self._rows = rows
        self.banned = BannedWords(reads)

    # ------------------------------------------------------------------ visitors

    async def visitor_message(
        self, customer_id: int, client_msg_id: str, body: str, attachments: tuple[str, ...] = ()
    ) -> Written:
        body = _message_body(body)

        async def op(session: AsyncSession, changes: Changes) -> Written:
            done = await existing(session, "visitor", customer_id, client_msg_id)
            if done is not None:
                return done
            customer = await session.get(
                Customer, customer_id, execution_options={timeline.NO_FLUSH: True}
            )
            if customer is None:
                raise NotFound("unknown visitor")
            author = Author("visitor", customer.id, customer.name or "Visitor")
            current = await _current_ticket(session, customer.id, for_update=True)
            created = False
            if current is None or current.status == "closed" or current.visibility == "internal":
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
                await apply_due(session, ticket)  # the SLA clock starts with the chat
                session.add(ticket)
                await session.flush()
                created = True
            else:
                ticket = current
            if ticket.status == "spam":
                # Accepted and dropped: a spammer learns nothing from the answer.
                return Written(ticket.id, None)
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
                await set_status_event(session, changes, ticket, "open", author)
                await changes.ticket_changed(session, ticket)
            elif created:
                await changes.ticket_changed(session, ticket)
            return Written(ticket.id, event.seq, created)

        hint = prefetch.Hint(sent_as=("visitor", customer_id, client_msg_id), visitor=customer_id)
        return await self._write(customer_id, op, hint)

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

        return await self._write(customer_id, op, prefetch.Hint(visitor=customer_id))

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
        self, customer_id: int, after_seq: int, follow: Callable[[int], None] | None = None
    ) -> tuple[dict[str, Any] | None, list[TicketEvent], int | None]:
        """The visitor's current ticket, its public events after ``after_seq``, and its last seq.

        ``follow`` (a hello's subscription) is told the current chat's id before its
        state is read, so no event stored meanwhile falls between the two, and again
        if a newer chat began in between. One connection, no session, rows not ORM
        objects: a reconnect storm is a thousand of these at once.
        """
        async with self._rows() as conn:
            first = None
            if follow is not None:
                first = _current_id(
                    (await conn.execute(_LATEST_CHAT_STATE, {"customer": customer_id})).first()
                )
                if first is not None:
                    follow(first)
            row = (await conn.execute(_VISITOR_CHAT, {"customer": customer_id})).first()
            if _current_id(row) is None:
                return None, [], None
            if follow is not None and row.id != first:
                follow(row.id)
            events = await timeline.events_between(
                conn, row.id, after_seq, row.last_seq, public_only=True
            )
            return views.visitor_ticket_of(row, row.assignee_name), events, row.last_seq

    async def current_ticket_id(self, customer_id: int) -> int | None:
        """The id of the visitor's current chat (as ``_current_ticket`` decides), read
        without loading the ticket."""
        async with self._rows() as conn:
            row = (await conn.execute(_LATEST_CHAT_STATE, {"customer": customer_id})).first()
        return _current_id(row)

    # ------------------------------------------------------------------ agents

    async def send(
        self,
        agent: Principal,
        ticket_id: int,
        client_msg_id: str,
        body: str,
        attachments: tuple[str, ...] = (),
        force: bool = False,
    ) -> Written:
        body = _message_body(body)
        if not force:
            await self.banned.check(body)

        async def op(session: AsyncSession, changes: Changes) -> Written:
            done = await existing(session, "agent", agent.id, client_msg_id)
            if done is not None:
                return done
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            not_spam(ticket)
            if ticket.kind != "customer":
                raise Conflict(f"a {ticket.kind} ticket carries internal notes only")
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
            if ticket.first_response_at is None:
                ticket.first_response_at = utcnow()  # written by the commit's flush
            return Written(ticket.id, event.seq)

        hint = prefetch.Hint(sent_as=("agent", agent.id, client_msg_id), ticket=ticket_id)
        return await self._write(ticket_id, op, hint)

    async def note(
        self,
        agent: Principal,
        ticket_id: int,
        client_msg_id: str,
        body: str,
        attachments: tuple[str, ...] = (),
        cross_post: bool = False,
    ) -> Written:
        body = _message_body(body)

        async def op(session: AsyncSession, changes: Changes) -> Written:
            done = await existing(session, "agent", agent.id, client_msg_id)
            if done is not None:
                return done
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            targets: list[int] = []
            if cross_post:
                if ticket.kind == "customer":
                    raise BadRequest("cross_post is for back-office and tracker tickets")
                targets = await linked_ids(session, ticket.id)
            files = await claim_for_ticket(session, attachments, ("agent", agent.id), ticket.id)
            event = await timeline.append(
                session,
                ticket,
                "note",
                "internal",
                author_of(agent),
                {"attachments": files, "cross_posted_to": targets},
                body=body,
                client_msg_id=client_msg_id,
            )
            changes.event(event)
            for other_id in targets:
                other = await locked(session, other_id)
                if other.status == "closed":
                    continue
                changes.event(
                    await timeline.append(
                        session,
                        other,
                        "note",
                        "internal",
                        author_of(agent),
                        {"attachments": files, "cross_posted_from": ticket.id},
                        body=body,
                    )
                )
            return Written(ticket.id, event.seq)

        hint = prefetch.Hint(sent_as=("agent", agent.id, client_msg_id), ticket=ticket_id)
        return await self._write(ticket_id, op, hint)

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
            changes.event(assigned)
            status = await set_status_event(session, changes, ticket, "open", author_of(agent))
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, status.seq)

        return await self._write(ticket_id, op, prefetch.Hint(ticket=ticket_id))

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
            changes.event(assigned)
            status = await set_status_event(session, changes, ticket, "new", author_of(agent))
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, status.seq)

        return await self._write(ticket_id, op, prefetch.Hint(ticket=ticket_id))

    async def transfer(
        self, agent: Principal, ticket_id: int, to_agent: int | None, to_group: int | None
    ) -> Written:
        return await self._write(
            ticket_id, lambda s, c: do_assign(s, c, agent, ticket_id, to_agent, to_group)
        )

    async def set_status(
        self, agent: Principal, ticket_id: int, to: str, reason: str | None = None
    ) -> Written:
        return await self._write(
            ticket_id, lambda s, c: do_status(s, c, agent, ticket_id, to, reason)
        )

    async def restore(self, agent: Principal, ticket_id: int) -> Written:
        return await self._write(ticket_id, lambda s, c: do_restore(s, c, agent, ticket_id))

    async def set_labels(
        self, agent: Principal, ticket_id: int, add: tuple[str, ...], remove: tuple[str, ...]
    ) -> Written:
        return await self._write(
            ticket_id, lambda s, c: do_labels(s, c, agent, ticket_id, add, remove)
        )

    async def set_priority(self, agent: Principal, ticket_id: int, priority: str) -> Written:
        return await self._write(
            ticket_id, lambda s, c: do_priority(s, c, agent, ticket_id, priority)
        )

    async def update_fields(
        self, agent: Principal, ticket_id: int, values: dict[str, Any]
    ) -> Written:
        return await self._write(ticket_id, lambda s, c: do_fields(s, c, agent, ticket_id, values))

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
        async with self._rows() as conn:
            return await timeline.events_between(conn, ticket_id, after_seq, up_to, limit=limit)

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


async def _current_ticket(
    session: AsyncSession, customer_id: int, for_update: bool = False
) -> Ticket | None:
    """The customer's latest chat; a closed one means the next message starts anew.

    An internal-only ticket is, for the visitor, as good as closed: it never reaches them.
    """
    known, ticket = prefetch.current_chat(session, customer_id)
    if not known:
        ticket = await _latest_chat(session, customer_id, for_update)
    if ticket is not None and ticket.visibility == "internal":
        return None
    if ticket is not None and ticket.status == "closed" and not for_update:
        return None
    return ticket


# Built once: constructing a statement cost more CPU than running it, and a
# reconnect storm runs the state one and _VISITOR_CHAT (below) for every hello.
_LATEST_CHAT = (
    select(Ticket)
    .where(Ticket.customer_id == bindparam("customer"), Ticket.kind == "customer")
    .order_by(Ticket.id.desc())
    .limit(1)
    .execution_options(populate_existing=True, **{timeline.NO_FLUSH: True})
)
_LATEST_CHAT_LOCKED = _LATEST_CHAT.with_for_update()
_LATEST_CHAT_STATE = (
    select(Ticket.id, Ticket.visibility, Ticket.status)
    .where(Ticket.customer_id == bindparam("customer"), Ticket.kind == "customer")
    .order_by(Ticket.id.desc())
    .limit(1)
)


# A visitor's latest chat as a hello shows it, with its assignee's name.
_VISITOR_CHAT = (
    select(
        Ticket.id,
        Ticket.status,
        Ticket.visibility,
        Ticket.subject,
        Ticket.last_seq,
        Ticket.created_at,
        Ticket.updated_at,
        Agent.name.label("assignee_name"),
    )
    .outerjoin(Agent, Agent.id == Ticket.assignee_id)
    .where(Ticket.customer_id == bindparam("customer"), Ticket.kind == "customer")
    .order_by(Ticket.id.desc())
    .limit(1)
)


def _current_id(row: Any) -> int | None:
    """The id of a latest-chat row if it is the visitor's current chat (as
    ``_current_ticket`` decides: not internal, not closed)."""
    if row is None or row.visibility == "internal" or row.status == "closed":
        return None
    return int(row.id)


async def _latest_chat(session: AsyncSession, customer_id: int, for_update: bool) -> Ticket | None:
    query = _LATEST_CHAT_LOCKED if for_update else _LATEST_CHAT
    ticket = (await session.execute(query, {"customer": customer_id})).scalar_one_or_none()
    if ticket is not None and for_update:
        timeline.locked_row(session, ticket)
    return ticket


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
