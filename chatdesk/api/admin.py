"""Admin REST: /api/v1/agents, /api/v1/groups, /api/v1/sites."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, json_body, path_id, require_admin
from chatdesk.ops import audit
from chatdesk.realtime import bus
from chatdesk.services import sites, team


async def agents_index(request: Request) -> Response:
    await current_agent(request)  # every agent may see the team, e.g. to transfer
    async with desk(request).reads() as session:
        return JSONResponse({"items": await team.list_agents(session), "next_cursor": None})


async def agents_create(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        agent = await team.add_agent(session, body)
        await audit.record(
            session, admin, "agent.create", f"agent:{agent['id']}", {"role": agent["role"]}
        )
    return JSONResponse(agent, status_code=201)


async def agents_update(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    agent_id = path_id(request, "an agent id")
    body = await json_body(request)
    d = desk(request)
    async with d.writes() as session, session.begin():
        agent, deactivated = await team.change_agent(session, agent_id, body, admin.id)
        action = "agent.deactivate" if deactivated else "agent.update"
        await audit.record(session, admin, action, f"agent:{agent_id}", audit.changes(body))
    if deactivated:
        # Their tokens stop working at once (checked on every use); close live sockets too.
        topic = bus.agent_topic(agent_id)
        d.broker.publish([bus.pack(topic, bus.KickMsg(agent_id))])
    return JSONResponse(agent)


async def groups_index(request: Request) -> Response:
    await current_agent(request)
    async with desk(request).reads() as session:
        return JSONResponse({"items": await team.list_groups(session), "next_cursor": None})


async def groups_create(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        group = await team.add_group(session, body)
        await audit.record(session, admin, "group.create", f"group:{group['id']}")
    return JSONResponse(group, status_code=201)


async def groups_update(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    group_id = path_id(request, "a group id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        group = await team.change_group(session, group_id, body)
        await audit.record(session, admin, "group.update", f"group:{group_id}", audit.changes(body))
    return JSONResponse(group)


async def sites_index(request: Request) -> Response:
    require_admin(await current_agent(request))
    async with desk(request).reads() as session:
        return JSONResponse({"items": await sites.list_sites(session), "next_cursor": None})


async def sites_create(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        site = await sites.add_site(session, body)
        await audit.record(session, admin, "site.create", f"site:{site['id']}")
    return JSONResponse(site, status_code=201)


async def sites_update(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    site_id = path_id(request, "a site id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        site = await sites.change_site(session, site_id, body)
        await audit.record(session, admin, "site.update", f"site:{site_id}", audit.changes(body))
    desk(request).customers.forget_sites()
    return JSONResponse(site)


routes = [
    Route("/api/v1/agents", agents_index, methods=["GET"]),
    Route("/api/v1/agents", agents_create, methods=["POST"]),
    Route("/api/v1/agents/{id}", agents_update, methods=["PATCH"]),
    Route("/api/v1/groups", groups_index, methods=["GET"]),
    Route("/api/v1/groups", groups_create, methods=["POST"]),
    Route("/api/v1/groups/{id}", groups_update, methods=["PATCH"]),
    Route("/api/v1/sites", sites_index, methods=["GET"]),
    Route("/api/v1/sites", sites_create, methods=["POST"]),
    Route("/api/v1/sites/{id}", sites_update, methods=["PATCH"]),
]
