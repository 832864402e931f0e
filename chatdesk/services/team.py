"""Agents and groups as admins manage them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, NotFound
from chatdesk.services.agents import check_email, create_agent, hash_password
from chatdesk.services.routing import apply_group_settings, group_settings
from chatdesk.services.timeline import iso
from chatdesk.store.models import Agent, Group, GroupMember

ROLES = ("agent", "admin")


def agent_view(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.name,
        "role": agent.role,
        "active": agent.active,
        "created_at": iso(agent.created_at),
    }


async def list_agents(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.execute(select(Agent).order_by(Agent.name, Agent.id))).scalars()
    return [agent_view(a) for a in rows]


async def add_agent(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    role = body.get("role", "agent")
    if role not in ROLES:
        raise BadRequest("'role' is agent or admin")
    for key in ("email", "name", "password"):
        if not isinstance(body.get(key), str):
            raise BadRequest(f"an agent needs '{key}'")
    agent = await create_agent(
        session, body["email"], body["name"], body["password"], admin=role == "admin"
    )
    return agent_view(agent)


async def change_agent(
    session: AsyncSession, agent_id: int, body: dict[str, Any], by: int
) -> tuple[dict[str, Any], bool]:
    """Apply an admin's changes; returns the agent and whether they were just deactivated."""
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    deactivated = False
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise BadRequest("'name' is 1 to 200 characters")
        agent.name = name.strip()
    if "email" in body:
        if not isinstance(body["email"], str):
            raise BadRequest("'email' is an e-mail address")
        email = check_email(body["email"])
        clash = await session.scalar(
            select(Agent.id).where(Agent.email == email, Agent.id != agent_id)
        )
        if clash is not None:
            raise Conflict(f"an agent with e-mail {email} exists already")
        agent.email = email
    if "role" in body:
        if body["role"] not in ROLES:
            raise BadRequest("'role' is agent or admin")
        if agent_id == by and body["role"] != "admin":
            raise Conflict("you cannot take your own admin role")
        agent.role = body["role"]
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise BadRequest("'active' is true or false")
        if agent_id == by and not body["active"]:
            raise Conflict("you cannot deactivate yourself")
        deactivated = agent.active and not body["active"]
        agent.active = body["active"]
    if "password" in body:
        if not isinstance(body["password"], str):
            raise BadRequest("'password' is text")
        agent.password_hash = await hash_password(body["password"])
    await session.flush()
    return agent_view(agent), deactivated


async def group_view(session: AsyncSession, group: Group) -> dict[str, Any]:
    members = (
        await session.execute(
            select(GroupMember.agent_id)
            .where(GroupMember.group_id == group.id)
            .order_by(GroupMember.agent_id)
        )
    ).scalars()
    return {"id": group.id, "name": group.name, "agents": list(members), **group_settings(group)}


async def list_groups(session: AsyncSession) -> list[dict[str, Any]]:
    groups = (await session.execute(select(Group).order_by(Group.name))).scalars().all()
    return [await group_view(session, g) for g in groups]


async def _set_members(session: AsyncSession, group: Group, agents: Any) -> None:
    if not isinstance(agents, list) or not all(
        isinstance(a, int) and not isinstance(a, bool) for a in agents
    ):
        raise BadRequest("'agents' is a list of agent ids")
    known = set((await session.execute(select(Agent.id).where(Agent.id.in_(agents)))).scalars())
    missing = sorted(set(agents) - known)
    if missing:
        raise NotFound(f"no agent {missing[0]}")
    await session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
    for agent_id in sorted(set(agents)):
        await session.execute(insert(GroupMember).values(group_id=group.id, agent_id=agent_id))


def _group_name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise BadRequest("a group needs a 'name' of 1 to 200 characters")
    return name.strip()


async def add_group(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    name = _group_name(body)
    if await session.scalar(select(Group.id).where(Group.name == name)) is not None:
        raise Conflict(f"a group {name!r} exists already")
    group = Group(name=name)
    apply_group_settings(group, body)
    session.add(group)
    await session.flush()
    if "agents" in body:
        await _set_members(session, group, body["agents"])
    return await group_view(session, group)


async def change_group(
    session: AsyncSession, group_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    group = await session.get(Group, group_id)
    if group is None:
        raise NotFound(f"no group {group_id}")
    if "name" in body:
        name = _group_name(body)
        clash = await session.scalar(
            select(Group.id).where(Group.name == name, Group.id != group_id)
        )
        if clash is not None:
            raise Conflict(f"a group {name!r} exists already")
        group.name = name
    apply_group_settings(group, body)
    if "agents" in body:
        await _set_members(session, group, body["agents"])
    await session.flush()
    return await group_view(session, group)
