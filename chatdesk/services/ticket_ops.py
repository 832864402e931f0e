"""Ticket changes as plain functions of a session, so several can share one transaction.

The Tickets service wraps each in its own writer operation; bulk actions run many
of them in one operation, all or nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from chatdesk.realtime.protocol import Author, TicketEvent
from chatdesk.services import timeline, views
from chatdesk.services.agents import Principal
from chatdesk.services.sla import apply_due
from chatdesk.services.statuses import PRIORITIES, RESOLVE_REASONS, STATUS_LABELS, STATUSES
from chatdesk.services.ticketing import (
    Changes,
    Written,
    author_of,
    locked,
    require_writer,
    writable,
)
from chatdesk.store.models import Agent, Group, Label, Ticket, TicketLabel
from chatdesk.store.models_backoffice import TicketLink

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
# Back-office and tracker tickets are worked without a claim: they start "submitted".
BACKOFFICE_MOVES = AGENT_MOVES | {("new", "open"), ("new", "pending"), ("new", "solved")}
MAX_LABEL_CHARS = 64


def label_name(raw: str) -> str:
    # Lower-casing can lengthen text ("İ" becomes two characters): measure afterwards.
    name = " ".join(raw.split()).lower()
    if not name or len(name) > MAX_LABEL_CHARS:
        raise BadRequest(f"a label is 1 to {MAX_LABEL_CHARS} characters")
    return name


def not_spam(ticket: Ticket) -> None:
    if ticket.status == "spam":
        raise Conflict(f"ticket {ticket.id} is in spam; restore it first")


async def linked_ids(session: AsyncSession, ticket_id: int) -> list[int]:
    rows = await session.execute(
        select(TicketLink.other_id).where(TicketLink.ticket_id == ticket_id)
    )
    return sorted(rows.scalars())


async def set_status_event(
    session: AsyncSession, changes: Changes, ticket: Ticket, to: str, author: Author
) -> TicketEvent:
    """Move a ticket and record it; a back-office move also shows on each linked ticket."""
    before = ticket.status
    if to == "spam":
        ticket.previous_status = before
    ticket.status = to
    await session.flush()
    event = await timeline.append(
        session, ticket, "status", "public", author, {"from": before, "to": to}
    )
    changes.event(event)
    if ticket.kind in ("backoffice", "tracker"):
        for other_id in await linked_ids(session, ticket.id):
            other = await locked(session, other_id)
            if other.status == "closed":
                continue
            changes.event(
                await timeline.append(
                    session,
                    other,
                    "linked_status",
                    "internal",
                    author,
                    {
                        "other": ticket.id,
                        "other_kind": ticket.kind,
                        "from": before,
                        "to": to,
                        "status_label": STATUS_LABELS.get(to, to),
                    },
                )
            )
    return event


async def do_status(
    session: AsyncSession,
    changes: Changes,
    agent: Principal,
    ticket_id: int,
    to: str,
    reason: str | None = None,
) -> Written:
    if to not in STATUSES:
        raise BadRequest(f"'to' must be one of {', '.join(STATUSES)}")
    if reason is not None and reason not in RESOLVE_REASONS:
        raise BadRequest(f"'reason' is one of {', '.join(RESOLVE_REASONS)}")
    if reason is not None and to not in ("solved", "spam"):
        raise BadRequest("'reason' goes with to: solved (or spam)")
    ticket = await locked(session, ticket_id)
    writable(ticket)
    await require_writer(session, ticket, agent)
    if ticket.status == to:
        raise Conflict(f"ticket {ticket.id} is {to} already")
    if to == "spam":
        reason = "spam"
    elif ticket.status == "spam":
        raise Conflict(f"ticket {ticket.id} is in spam; restore it first")
    else:
        moves = BACKOFFICE_MOVES if ticket.kind != "customer" else AGENT_MOVES
        if agent.is_admin:
            moves = moves | ADMIN_MOVES
        if (ticket.status, to) not in moves:
            raise Conflict(f"a ticket cannot go from {ticket.status} to {to} this way")
    if to in ("solved", "spam"):
        ticket.resolve_reason = reason
    elif to == "open":
        ticket.resolve_reason = None
    event = await set_status_event(session, changes, ticket, to, author_of(agent))
    await changes.ticket_changed(session, ticket)
    return Written(ticket.id, event.seq)


async def do_restore(
    session: AsyncSession, changes: Changes, agent: Principal, ticket_id: int
) -> Written:
    ticket = await locked(session, ticket_id)
    writable(ticket)
    await require_writer(session, ticket, agent)
    if ticket.status != "spam":
        raise Conflict(f"ticket {ticket.id} is not in spam")
    to = ticket.previous_status or "new"
    ticket.resolve_reason = None
    event = await set_status_event(session, changes, ticket, to, author_of(agent))
    await changes.ticket_changed(session, ticket)
    return Written(ticket.id, event.seq)


async def do_assign(
    session: AsyncSession,
    changes: Changes,
    agent: Principal,
    ticket_id: int,
    to_agent: int | None,
    to_group: int | None,
    *,
    unassign: bool = False,
) -> Written:
    """Transfer to an agent and/or group (``unassign`` clears the agent)."""
    if to_agent is None and to_group is None and not unassign:
        raise BadRequest("transfer needs 'agent' or 'group'")
    ticket = await locked(session, ticket_id)
    writable(ticket)
    not_spam(ticket)
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
    if target is not None or unassign or (to_agent is None and to_group is not None):
        ticket.assignee_id = target.id if target is not None else None
    await session.flush()
    assigned = await timeline.append(
        session, ticket, "assigned", "internal", author_of(agent),
        {"assignee": views.agent_ref(target) if target else None,
         "group": await group_view(session, ticket)},
    )  # fmt: skip
    changes.event(assigned)
    last = assigned.seq
    if ticket.kind == "customer":
        if ticket.assignee_id is not None and ticket.status == "new":
            last = (await set_status_event(session, changes, ticket, "open", author_of(agent))).seq
        elif ticket.assignee_id is None and ticket.status == "open":
            last = (await set_status_event(session, changes, ticket, "new", author_of(agent))).seq
    await changes.ticket_changed(session, ticket)
    return Written(ticket.id, last)


async def do_labels(
    session: AsyncSession,
    changes: Changes,
    agent: Principal,
    ticket_id: int,
    add: tuple[str, ...],
    remove: tuple[str, ...],
) -> Written:
    add_names = sorted({label_name(n) for n in add})
    remove_names = sorted({label_name(n) for n in remove} - set(add_names))
    if not add_names and not remove_names:
        raise BadRequest("labels needs 'add' or 'remove'")
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
        await session.execute(insert(TicketLabel).values(ticket_id=ticket.id, label_id=label_id))
    if removed:
        ids = select(Label.id).where(Label.name.in_(removed)).scalar_subquery()
        await session.execute(
            delete(TicketLabel).where(
                TicketLabel.ticket_id == ticket.id, TicketLabel.label_id.in_(ids)
            )
        )
    event = await timeline.append(
        session, ticket, "labels", "internal", author_of(agent),
        {"added": added, "removed": removed},
    )  # fmt: skip
    changes.event(event)
    await changes.ticket_changed(session, ticket)
    return Written(ticket.id, event.seq)


async def do_fields(
    session: AsyncSession,
    changes: Changes,
    agent: Principal,
    ticket_id: int,
    values: dict[str, Any],
) -> Written:
    """Change plain fields; one internal `updated` event lists what moved from what to what."""
    ticket = await locked(session, ticket_id)
    writable(ticket)
    await require_writer(session, ticket, agent)
    moved: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        before = getattr(ticket, name)
        if before != value:
            moved[name] = {"from": before, "to": value}
            setattr(ticket, name, value)
    if not moved:
        return Written(ticket.id, None)
    if "priority" in moved:
        await apply_due(session, ticket)  # due times follow the priority's targets
    await session.flush()
    event = await timeline.append(
        session, ticket, "updated", "internal", author_of(agent), {"fields": moved}
    )
    changes.event(event)
    await changes.ticket_changed(session, ticket)
    return Written(ticket.id, event.seq)


async def do_priority(
    session: AsyncSession, changes: Changes, agent: Principal, ticket_id: int, priority: str
) -> Written:
    if priority not in PRIORITIES:
        raise BadRequest(f"priority is one of {', '.join(PRIORITIES)}")
    return await do_fields(session, changes, agent, ticket_id, {"priority": priority})


async def group_view(session: AsyncSession, ticket: Ticket) -> dict[str, Any] | None:
    if ticket.group_id is None:
        return None
    group = await session.get(Group, ticket.group_id)
    return {"id": group.id, "name": group.name} if group else None
