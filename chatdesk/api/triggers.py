"""/api/v1/triggers (admin): the rules that act on new chats and messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, json_body, path_id, require_admin
from chatdesk.services import rules_triggers


async def _admin(request: Request) -> None:
    require_admin(await current_agent(request))


def _changed(request: Request) -> None:
    """This process runs the new set at once; others within a few seconds."""
    feature = desk(request).ext.get("rules")
    if feature is not None:
        feature.engine.forget()


async def index(request: Request) -> Response:
    await _admin(request)
    async with desk(request).reads() as session:
        items = await rules_triggers.list_triggers(session)
    return JSONResponse({"items": items, "next_cursor": None})


async def show(request: Request) -> Response:
    await _admin(request)
    trigger_id = path_id(request, "a trigger id")
    async with desk(request).reads() as session:
        return JSONResponse(await rules_triggers.get_trigger(session, trigger_id))


async def create(request: Request) -> Response:
    await _admin(request)
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        trigger = await rules_triggers.create_trigger(session, body)
    _changed(request)
    return JSONResponse(trigger, status_code=201)


async def change(request: Request) -> Response:
    await _admin(request)
    trigger_id = path_id(request, "a trigger id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        trigger = await rules_triggers.change_trigger(session, trigger_id, body)
    _changed(request)
    return JSONResponse(trigger)


async def delete(request: Request) -> Response:
    await _admin(request)
    trigger_id = path_id(request, "a trigger id")
    async with desk(request).writes() as session, session.begin():
        await rules_triggers.delete_trigger(session, trigger_id)
    _changed(request)
    return Response(status_code=204)


routes = [
    Route("/api/v1/triggers", index, methods=["GET"]),
    Route("/api/v1/triggers", create, methods=["POST"]),
    Route("/api/v1/triggers/{id}", show, methods=["GET"]),
    Route("/api/v1/triggers/{id}", change, methods=["PATCH"]),
    Route("/api/v1/triggers/{id}", delete, methods=["DELETE"]),
]
