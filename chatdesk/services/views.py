"""How tickets look on the wire: the agent's full view and the visitor's narrow one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.services.markdown import to_html
from chatdesk.services.sla import due_view
from chatdesk.services.statuses import STATUS_LABELS
from chatdesk.services.timeline import iso
from chatdesk.store.models import (
    Agent,
    Collaborator,
    Customer,
    Group,
    Label,
    Site,
    Ticket,
    TicketLabel,
)
from chatdesk.store.models_backoffice import TicketLink


def agent_ref(agent: Agent | None) -> dict[str, Any] | None:
    if agent is None:
        return None
    return {"id": agent.id, "name": agent.name}


def agent_public(agent: Agent) -> dict[str, Any]:
    return {"id": agent.id, "name": agent.name, "email": agent.email, "role": agent.role}


def customer_ref(customer: Customer | None) -> dict[str, Any] | None:
    if customer is None:
        return None
    return {"id": customer.id, "name": customer.name, "email": customer.email}


async def ticket_views(session: AsyncSession, tickets: Sequence[Ticket]) -> list[dict[str, Any]]:
    """Agent views of several tickets with a fixed number of queries."""
    if not tickets:
        return []
    ids = [t.id for t in tickets]
    agent_ids = {t.assignee_id for t in tickets if t.assignee_id}
    collab_rows = (
        await session.execute(
            select(Collaborator.ticket_id, Collaborator.agent_id).where(
                Collaborator.ticket_id.in_(ids)
            )
        )
    ).all()
    agent_ids |= {r.agent_id for r in collab_rows}
    agents = {}
    if agent_ids:
        agents = {
            a.id: a
            for a in (await session.execute(select(Agent).where(Agent.id.in_(agent_ids))))
            .scalars()
            .all()
        }
    customer_ids = {t.customer_id for t in tickets if t.customer_id}
    customers = {}
    if customer_ids:
        customers = {
            c.id: c
            for c in (await session.execute(select(Customer).where(Customer.id.in_(customer_ids))))
            .scalars()
            .all()
        }
    group_ids = {t.group_id for t in tickets if t.group_id}
    groups = {}
    if group_ids:
        groups = {
            g.id: g
            for g in (await session.execute(select(Group).where(Group.id.in_(group_ids))))
            .scalars()
            .all()
        }
    site_ids = {t.site_id for t in tickets if t.site_id}
    sites = {}
    if site_ids:
        sites = {
            s.id: s
            for s in (await session.execute(select(Site).where(Site.id.in_(site_ids))))
            .scalars()
            .all()
        }
    label_rows = (
        await session.execute(
            select(TicketLabel.ticket_id, Label.name)
            .join(Label, Label.id == TicketLabel.label_id)
            .where(TicketLabel.ticket_id.in_(ids))
            .order_by(Label.name)
        )
    ).all()
    labels: dict[int, list[str]] = {}
    for row in label_rows:
        labels.setdefault(row.ticket_id, []).append(row.name)
    link_rows = (
        await session.execute(
            select(TicketLink.ticket_id, Ticket.id, Ticket.kind, Ticket.status, Ticket.title,
                   Ticket.subject)
            .join(Ticket, Ticket.id == TicketLink.other_id)
            .where(TicketLink.ticket_id.in_(ids))
            .order_by(Ticket.id)
        )
    ).all()  # fmt: skip
    links: dict[int, list[dict[str, Any]]] = {}
    for row in link_rows:
        links.setdefault(row[0], []).append(
            {
                "ticket": row[1],
                "kind": row.kind,
                "status": row.status,
                "status_label": STATUS_LABELS.get(row.status, row.status)
                if row.kind != "customer"
                else row.status,
                "title": row.title or row.subject,
            }
        )
    collabs: dict[int, list[dict[str, Any]]] = {}
    for row in collab_rows:
        ref = agent_ref(agents.get(row.agent_id))
        if ref is not None:
            collabs.setdefault(row.ticket_id, []).append(ref)
    out = []
    for t in tickets:
        site = sites.get(t.site_id) if t.site_id else None
        group = groups.get(t.group_id) if t.group_id else None
        out.append(
            {
                "id": t.id,
                "kind": t.kind,
                "status": t.status,
                "subject": t.subject,
                "site": {"id": site.id, "key": site.key, "name": site.name} if site else None,
                "customer": customer_ref(customers.get(t.customer_id)) if t.customer_id else None,
                "assignee": agent_ref(agents.get(t.assignee_id)) if t.assignee_id else None,
                "group": {"id": group.id, "name": group.name} if group else None,
                "priority": t.priority,
                "labels": labels.get(t.id, []),
                "collaborators": collabs.get(t.id, []),
                "created_at": iso(t.created_at),
                "updated_at": iso(t.updated_at),
                "last_seq": t.last_seq,
                "visitor_read_seq": t.visitor_read_seq,
                "follow_up_of": t.follow_up_of,
                "type": t.type_id,
                "title": t.title or t.subject,
                "description": t.description,
                "description_html": to_html(t.description) if t.description else None,
                "attributes": t.attributes or {},
                "links": links.get(t.id, []),
                "category": t.category,
                "service": t.service,
                "cc": t.cc or [],
                "channel": t.channel,
                "language": t.language,
                "visibility": t.visibility,
                "due": due_view(t),
                "resolve_reason": t.resolve_reason,
                "status_label": STATUS_LABELS.get(t.status, t.status)
                if t.kind != "customer"
                else t.status,
            }
        )
    return out


async def ticket_view(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    return (await ticket_views(session, [ticket]))[0]


async def visitor_ticket(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    """What a visitor may know of their ticket: no labels, group, priority or agent ids."""
    name = None
    if ticket.assignee_id is not None:
        agent = await session.get(Agent, ticket.assignee_id)
        if agent is not None:
            name = agent.name
    return visitor_ticket_of(ticket, name)


def visitor_ticket_of(ticket: Any, assignee_name: str | None) -> dict[str, Any]:
    """``visitor_ticket`` from a ticket or a row of its columns and the assignee's name."""
    return {
        "id": ticket.id,
        "status": ticket.status,
        "subject": ticket.subject,
        "assignee": {"name": assignee_name} if assignee_name is not None else None,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }
