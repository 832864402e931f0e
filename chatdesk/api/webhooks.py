"""/api/v1/webhooks (admin) and /api/v1/webhooks/{id}/deliveries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.admin_resource import AdminResource, require_admin_request
from chatdesk.api.common import desk, int_param, path_id, query
from chatdesk.services import webhooks


def _changed(request: Request) -> None:
    """This process queues for the new set at once; others within a few seconds."""
    feature = desk(request).ext.get("rules")
    if feature is not None:
        feature.webhooks.forget()


hooks = AdminResource(
    path="/api/v1/webhooks",
    noun="a webhook",
    list_all=webhooks.list_webhooks,
    get=webhooks.get_webhook,
    create=webhooks.create_webhook,
    change=webhooks.change_webhook,
    delete=webhooks.delete_webhook,
    changed=_changed,
)


async def deliveries(request: Request) -> Response:
    await require_admin_request(request)
    webhook_id = path_id(request, "a webhook id")
    params = query(request)
    limit = int_param(request, "limit", webhooks.PAGE)
    async with desk(request).reads() as session:
        items, next_cursor = await webhooks.list_deliveries(
            session, webhook_id, params.get("cursor"), limit
        )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


routes = [
    *hooks.routes(),
    Route("/api/v1/webhooks/{id}/deliveries", deliveries, methods=["GET"]),
]
