"""Round robin: a waiting chat of a group goes to the next online member with room.

Members are taken in id order, starting after the one assigned last; the pointer
lives in ``group_rotations`` and its row is locked while an agent is chosen, so
processes take turns fairly and two of them never fill the same last slot. An
agent is skipped when away or offline (``Presence.agents``, across processes) or
at the group's ``max_open_per_agent`` open tickets. With nobody free the chat
waits in New; ``drain`` assigns the oldest waiting chats when room frees up.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import BadRequest, ChatdeskError
from chatdesk.realtime.presence import Presence
from chatdesk.realtime.protocol import SYSTEM
from chatdesk.services import timeline, views
from chatdesk.services.rules_system import append_system
from chatdesk.services.ticketing import Changes, TicketService, locked
from chatdesk.services.writer import Writer
from chatdesk.store.models import Agent, Group, GroupMember, Ticket
from chatdesk.store.models_rules import GroupRotation

log = logging.getLogger(__name__)
DRAIN_BATCH = 50


class Routed(Enum):
    ASSIGNED = "assigned"
    NOBODY_FREE = "nobody_free"  # the group is full for now: stop draining it
    NOT_WAITING = "not_waiting"  # claimed, assigned or moved meanwhile, or no round robin


def pick(members: list[int], eligible: set[int], last: int | None) -> int | None:
    """The first eligible member after ``last`` in id order, wrapping around."""
    ordered = sorted(m for m in members if m in eligible)
    if not ordered:
        return None
    if last is None:
        return ordered[0]
    return next((m for m in ordered if m > last), ordered[0])


async def _rotation(session: AsyncSession, group_id: int) -> GroupRotation:
    """The group's pointer row, created on first use and locked for this transaction."""
    dialect = session.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(GroupRotation).values(group_id=group_id, last_agent_id=None).on_conflict_do_nothing()
    )
    return (
        await session.execute(
            select(GroupRotation)
            .where(GroupRotation.group_id == group_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def _open_counts(session: AsyncSession, agents: list[int]) -> dict[int, int]:
    if not agents:
        return {}
    rows = await session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.status == "open", Ticket.assignee_id.in_(agents))
        .group_by(Ticket.assignee_id)
    )
    return {agent: n for agent, n in rows.tuples()}


class Router(TicketService):
    def __init__(
        self, writer: Writer, reads: async_sessionmaker[AsyncSession], presence: Presence
    ) -> None:
        super().__init__(writer, reads)
        self._presence = presence

    def _online(self) -> set[int]:
        return {agent for agent, state in self._presence.agents().items() if state == "online"}

    async def route(self, ticket_id: int, exclude: int | None = None) -> Routed:
        """Assign one waiting ticket by round robin; ``exclude`` (who released it) is skipped."""
        online = self._online() - {exclude}

        async def op(session: AsyncSession, changes: Changes) -> Routed:
            ticket = await locked(session, ticket_id)
            if ticket.status != "new" or ticket.assignee_id is not None or not ticket.group_id:
                return Routed.NOT_WAITING
            group = await session.get(Group, ticket.group_id)
            if group is None or not group.round_robin:
                return Routed.NOT_WAITING
            rotation = await _rotation(session, group.id)
            members = list(
                (
                    await session.execute(
                        select(GroupMember.agent_id)
                        .join(Agent, Agent.id == GroupMember.agent_id)
                        .where(GroupMember.group_id == group.id, Agent.active.is_(True))
                    )
                ).scalars()
            )
            present = [m for m in members if m in online]
            eligible = set(present)
            if group.max_open_per_agent is not None:
                counts = await _open_counts(session, present)
                cap = group.max_open_per_agent
                eligible = {m for m in present if counts.get(m, 0) < cap}
            chosen = pick(members, eligible, rotation.last_agent_id)
            if chosen is None:
                return Routed.NOBODY_FREE
            agent = await session.get(Agent, chosen)
            assert agent is not None
            rotation.last_agent_id = chosen
            ticket.assignee_id = chosen
            ticket.status = "open"
            await session.flush()
            group_ref = {"id": group.id, "name": group.name}
            changes.event(
                await timeline.append(
                    session,
                    ticket,
                    "assigned",
                    "internal",
                    SYSTEM,
                    {"assignee": views.agent_ref(agent), "group": group_ref},
                )
            )
            changes.event(
                await timeline.append(
                    session, ticket, "status", "public", SYSTEM, {"from": "new", "to": "open"}
                )
            )
            await append_system(
                session,
                changes,
                ticket,
                "routing",
                f"Round robin in {group.name}: assigned to {agent.name}",
                group=group_ref,
                assignee=views.agent_ref(agent),
            )
            await changes.ticket_changed(session, ticket)
            return Routed.ASSIGNED

        try:
            return await self._write(ticket_id, op)
        except ChatdeskError as exc:  # e.g. a collision with a concurrent claim: it is not ours
            log.info("round robin of ticket %s skipped: %s", ticket_id, exc)
            return Routed.NOT_WAITING

    async def waiting(self, limit: int = DRAIN_BATCH) -> list[tuple[int, int]]:
        """(ticket, group) of the oldest unassigned New tickets in round-robin groups."""
        async with self._reads() as session:
            rows = await session.execute(
                select(Ticket.id, Ticket.group_id)
                .join(Group, Group.id == Ticket.group_id)
                .where(
                    Group.round_robin.is_(True),
                    Ticket.status == "new",
                    Ticket.assignee_id.is_(None),
                )
                .order_by(Ticket.id)
                .limit(limit)
            )
            return [(t, g) for t, g in rows.tuples()]

    async def drain(self, skip: frozenset[int] = frozenset()) -> int:
        """Give waiting chats to whoever has room now, oldest first; returns how many.

        ``skip``: tickets just routed without their releaser; offering them again in
        the same breath would hand them straight back.
        """
        if not self._online():
            return 0
        full: set[int] = set()
        assigned = 0
        for ticket_id, group_id in await self.waiting():
            if group_id in full or ticket_id in skip:
                continue
            outcome = await self.route(ticket_id)
            if outcome is Routed.ASSIGNED:
                assigned += 1
            elif outcome is Routed.NOBODY_FREE:
                full.add(group_id)
        return assigned


MAX_OPEN_CAP = 1000


def apply_group_settings(group: Group, body: dict[str, Any]) -> None:
    """An admin's ``round_robin`` and ``max_open_per_agent`` for a group, checked."""
    if "round_robin" in body:
        if not isinstance(body["round_robin"], bool):
            raise BadRequest("'round_robin' is true or false")
        group.round_robin = body["round_robin"]
    if "max_open_per_agent" in body:
        cap = body["max_open_per_agent"]
        if cap is not None and (
            isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_OPEN_CAP
        ):
            raise BadRequest(f"'max_open_per_agent' is null or 1 to {MAX_OPEN_CAP}")
        group.max_open_per_agent = cap


def group_settings(group: Group) -> dict[str, Any]:
    return {"round_robin": bool(group.round_robin), "max_open_per_agent": group.max_open_per_agent}
