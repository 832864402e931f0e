"""/api/v1/canned: reply templates, their search, and rendering on a ticket."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, int_param, json_body, parse_id
from chatdesk.ops import audit
from chatdesk.services import canned


async def index(request: Request) -> Response:
    agent = await current_agent(request)
    params = request.query_params
    async with desk(request).reads() as session:
        items, next_cursor = await canned.list_canned(
            session,
            agent,
            q=params.get("q"),
            scope=params.get("scope") or None,
            cursor=params.get("cursor") or None,
            limit=int_param(request, "limit", canned.MAX_PAGE),
        )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def create(request: Request) -> Response:
    agent = await current_agent(request)
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        item = await canned.create_canned(session, agent, body)
        if item["scope"] == "company":  # company ones are an admin's to manage
            await audit.record(session, agent, "canned.create", f"canned:{item['id']}")
    return JSONResponse(item, status_code=201)


async def show(request: Request) -> Response:
    agent = await current_agent(request)
    canned_id = parse_id(request.path_params["id"], "a canned response id")
    async with desk(request).reads() as session:
        return JSONResponse(await canned.get_canned(session, agent, canned_id))


async def update(request: Request) -> Response:
    agent = await current_agent(request)
    canned_id = parse_id(request.path_params["id"], "a canned response id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        item = await canned.update_canned(session, agent, canned_id, body)
        if item["scope"] == "company":
            changed = audit.changes(body, ())
            await audit.record(session, agent, "canned.update", f"canned:{canned_id}", changed)
    return JSONResponse(item)


async def remove(request: Request) -> Response:
    agent = await current_agent(request)
    canned_id = parse_id(request.path_params["id"], "a canned response id")
    async with desk(request).writes() as session, session.begin():
        scope = (await canned.get_canned(session, agent, canned_id))["scope"]
        await canned.delete_canned(session, agent, canned_id)
        if scope == "company":
            await audit.record(session, agent, "canned.delete", f"canned:{canned_id}")
    return Response(status_code=204)


async def render(request: Request) -> Response:
    agent = await current_agent(request)
    canned_id = parse_id(request.path_params["id"], "a canned response id")
    raw_ticket = request.query_params.get("ticket")
    ticket_id = parse_id(raw_ticket, "'ticket'") if raw_ticket else None
    async with desk(request).reads() as session:
        body = await canned.render(session, agent, canned_id, ticket_id)
    return JSONResponse({"body": body})


routes = [
    Route("/api/v1/canned", index, methods=["GET"]),
    Route("/api/v1/canned", create, methods=["POST"]),
    Route("/api/v1/canned/{id}", show, methods=["GET"]),
    Route("/api/v1/canned/{id}", update, methods=["PATCH"]),
    Route("/api/v1/canned/{id}", remove, methods=["DELETE"]),
    Route("/api/v1/canned/{id}/render", render, methods=["GET"]),
]
