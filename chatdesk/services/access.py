"""Team access: asking the assignee to join a ticket, granting, denying, revoking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import Conflict, Forbidden, NotFound
from chatdesk.realtime import bus
from chatdesk.realtime.protocol import AccessAnswerPush, AccessRequestPush
from chatdesk.services import timeline
from chatdesk.services.agents import Principal
from chatdesk.services.ticketing import (
    Changes,
    TicketService,
    Written,
    author_of,
    is_collaborator,
    locked,
    writable,
)
from chatdesk.store.models import Agent, Collaborator, Event, Ticket


def _ref(agent: Agent | Principal) -> dict[str, Any]:
    return {"id": agent.id, "name": agent.name}


async def _pending(session: AsyncSession, ticket_id: int, requester: int) -> bool:
    """Whether the requester's latest access event on the ticket is an open request."""
    rows = (
        await session.execute(
            select(Event.data)
            .where(Event.ticket_id == ticket_id, Event.kind == "access")
            .order_by(Event.seq.desc())
        )
    ).scalars()
    for data in rows:
        if (data.get("agent") or {}).get("id") == requester:
            return data.get("state") == "requested"
    return False


def _owner_or_admin(ticket: Ticket, agent: Principal, what: str) -> None:
    if not (agent.is_admin or ticket.assignee_id == agent.id):
        raise Forbidden(f"only the assignee or an admin may {what}")


class Access(TicketService):
    async def request(self, agent: Principal, ticket_id: int) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            if ticket.assignee_id is None:
                raise Conflict(f"ticket {ticket.id} has no assignee: claim it instead")
            if ticket.assignee_id == agent.id or await is_collaborator(
                session, ticket.id, agent.id
            ):
                raise Conflict(f"you can write on ticket {ticket.id} already")
            if await _pending(session, ticket.id, agent.id):
                raise Conflict("your request is waiting for an answer already")
            event = await timeline.append(
                session, ticket, "access", "internal", author_of(agent),
                {"agent": _ref(agent), "state": "requested"},
            )  # fmt: skip
            changes.event(event)
            frame = AccessRequestPush(ticket.id, _ref(agent)).wire()
            changes.raw(
                bus.agent_topic(ticket.assignee_id),
                bus.AgentPushMsg(ticket.assignee_id, frame),
            )
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)

    async def answer(
        self, agent: Principal, ticket_id: int, requester_id: int, grant: bool
    ) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            _owner_or_admin(ticket, agent, "answer access requests")
            requester = await session.get(Agent, requester_id)
            if requester is None:
                raise NotFound(f"no agent {requester_id}")
            if not await _pending(session, ticket.id, requester_id):
                raise Conflict(f"{requester.name} has no open request on ticket {ticket.id}")
            if grant:
                await session.execute(
                    insert(Collaborator).values(ticket_id=ticket.id, agent_id=requester_id)
                )
            event = await timeline.append(
                session, ticket, "access", "internal", author_of(agent),
                {"agent": _ref(requester), "state": "granted" if grant else "denied"},
            )  # fmt: skip
            changes.event(event)
            frame = AccessAnswerPush(ticket.id, _ref(agent), grant).wire()
            changes.raw(bus.agent_topic(requester_id), bus.AgentPushMsg(requester_id, frame))
            if grant:
                await changes.ticket_changed(session, ticket)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)

    async def revoke(self, agent: Principal, ticket_id: int, collaborator_id: int) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            _owner_or_admin(ticket, agent, "revoke access")
            if not await is_collaborator(session, ticket.id, collaborator_id):
                raise NotFound(f"agent {collaborator_id} is no collaborator of ticket {ticket.id}")
            collaborator = await session.get(Agent, collaborator_id)
            await session.execute(
                delete(Collaborator).where(
                    Collaborator.ticket_id == ticket.id,
                    Collaborator.agent_id == collaborator_id,
                )
            )
            event = await timeline.append(
                session, ticket, "access", "internal", author_of(agent),
                {"agent": _ref(collaborator) if collaborator else {"id": collaborator_id},
                 "state": "revoked"},
            )  # fmt: skip
            changes.event(event)
            await changes.ticket_changed(session, ticket)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)
