"""/api/v1/webhooks (admin) and /api/v1/webhooks/{id}/deliveries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import (
    current_agent,
    desk,
    int_param,
    json_body,
    path_id,
    query,
    require_admin,
)
from chatdesk.services import webhooks


async def _admin(request: Request) -> None:
    require_admin(await current_agent(request))


def _changed(request: Request) -> None:
    """This process queues for the new set at once; others within a few seconds."""
    feature = desk(request).ext.get("rules")
    if feature is not None:
        feature.webhooks.forget()


async def index(request: Request) -> Response:
    await _admin(request)
    async with desk(request).reads() as session:
        items = await webhooks.list_webhooks(session)
    return JSONResponse({"items": items, "next_cursor": None})


async def show(request: Request) -> Response:
    await _admin(request)
    webhook_id = path_id(request, "a webhook id")
    async with desk(request).reads() as session:
        return JSONResponse(await webhooks.get_webhook(session, webhook_id))


async def create(request: Request) -> Response:
    await _admin(request)
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        webhook = await webhooks.create_webhook(session, body)
    _changed(request)
    return JSONResponse(webhook, status_code=201)


async def change(request: Request) -> Response:
    await _admin(request)
    webhook_id = path_id(request, "a webhook id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        webhook = await webhooks.change_webhook(session, webhook_id, body)
    _changed(request)
    return JSONResponse(webhook)


async def delete(request: Request) -> Response:
    await _admin(request)
    webhook_id = path_id(request, "a webhook id")
    async with desk(request).writes() as session, session.begin():
        await webhooks.delete_webhook(session, webhook_id)
    _changed(request)
    return Response(status_code=204)


async def deliveries(request: Request) -> Response:
    await _admin(request)
    webhook_id = path_id(request, "a webhook id")
    params = query(request)
    limit = int_param(request, "limit", webhooks.PAGE)
    async with desk(request).reads() as session:
        items, next_cursor = await webhooks.list_deliveries(
            session, webhook_id, params.get("cursor"), limit
        )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


routes = [
    Route("/api/v1/webhooks", index, methods=["GET"]),
    Route("/api/v1/webhooks", create, methods=["POST"]),
    Route("/api/v1/webhooks/{id}", show, methods=["GET"]),
    Route("/api/v1/webhooks/{id}", change, methods=["PATCH"]),
    Route("/api/v1/webhooks/{id}", delete, methods=["DELETE"]),
    Route("/api/v1/webhooks/{id}/deliveries", deliveries, methods=["GET"]),
]
