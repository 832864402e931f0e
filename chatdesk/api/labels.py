"""/api/v1/labels (catalogue; admins write) and /api/v1/tickets/{id}/labels (attach)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import (
    current_agent,
    desk,
    json_body,
    path_id,
    require_admin,
    text_field,
)
from chatdesk.errors import BadRequest
from chatdesk.ops import audit
from chatdesk.services import labels


async def index(request: Request) -> Response:
    await current_agent(request)
    async with desk(request).reads() as session:
        items = await labels.list_labels(session)
    return JSONResponse({"items": items, "next_cursor": None})


async def create(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    name = text_field(await json_body(request), "name", 64)
    async with desk(request).writes() as session, session.begin():
        label = await labels.create_label(session, name)
        await audit.record(
            session, admin, "label.create", f"label:{label['id']}", {"name": label["name"]}
        )
    return JSONResponse(label, status_code=201)


async def rename(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    label_id = path_id(request, "a label id")
    name = text_field(await json_body(request), "name", 64)
    async with desk(request).writes() as session, session.begin():
        label = await labels.rename_label(session, label_id, name)
        await audit.record(
            session, admin, "label.rename", f"label:{label_id}", {"name": label["name"]}
        )
    return JSONResponse(label)


async def delete(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    label_id = path_id(request, "a label id")
    async with desk(request).writes() as session, session.begin():
        await labels.delete_label(session, label_id)
        await audit.record(session, admin, "label.delete", f"label:{label_id}")
    return Response(status_code=204)


def _names(body: dict, key: str) -> tuple[str, ...]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"'{key}' is a list of label names")
    return tuple(value)


async def attach(request: Request) -> Response:
    """The REST twin of the `labels` command: same operation, same events."""
    agent = await current_agent(request)
    ticket_id = path_id(request, "a ticket id")
    body = await json_body(request)
    d = desk(request)
    await d.tickets.set_labels(agent, ticket_id, _names(body, "add"), _names(body, "remove"))
    return JSONResponse(await d.tickets.ticket(ticket_id))


routes = [
    Route("/api/v1/labels", index, methods=["GET"]),
    Route("/api/v1/labels", create, methods=["POST"]),
    Route("/api/v1/labels/{id}", rename, methods=["PATCH"]),
    Route("/api/v1/labels/{id}", delete, methods=["DELETE"]),
    Route("/api/v1/tickets/{id}/labels", attach, methods=["POST"]),
]
