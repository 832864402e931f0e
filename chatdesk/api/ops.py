"""/metrics, the audit log, and a customer's data: export and erasure (contract section 11)."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, int_param, path_id, query, require_admin
from chatdesk.errors import Unauthorized, Unavailable
from chatdesk.ops import audit
from chatdesk.ops.extension import Ops


def _ops(request: Request) -> Ops:
    ops = desk(request).ext.get("ops")
    if ops is None:
        raise Unavailable("the ops feature is not running")
    return ops


async def metrics(request: Request) -> Response:
    ops = _ops(request)
    expected = desk(request).settings.metrics_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if expected is None:
        raise Unauthorized("set CHATDESK_METRICS_TOKEN, or scrape CHATDESK_METRICS_PORT")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise Unauthorized("send Authorization: Bearer METRICS_TOKEN")
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(await ops.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def audit_log(request: Request) -> Response:
    require_admin(await current_agent(request))
    params = query(request)
    async with desk(request).reads() as session:
        items, next_cursor = await audit.listing(session, params, int_param(request, "limit", 50))
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def export_customer(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    customer_id = path_id(request, "a customer id")
    d = desk(request)
    document = await _ops(request).privacy.export(customer_id)
    async with d.writes() as session, session.begin():
        await audit.record(session, admin, "customer.export", f"customer:{customer_id}")
    return JSONResponse(
        document,
        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'},
    )


async def erase_customer(request: Request) -> Response:
    admin = await current_agent(request)
    require_admin(admin)
    customer_id = path_id(request, "a customer id")
    counts = await _ops(request).privacy.erase(admin, customer_id)
    return JSONResponse({"customer": customer_id, "erased": counts})


routes = [
    Route("/metrics", metrics, methods=["GET"]),
    Route("/api/v1/audit", audit_log, methods=["GET"]),
    Route("/api/v1/customers/{id}/export", export_customer, methods=["GET"]),
    Route("/api/v1/customers/{id}", erase_customer, methods=["DELETE"]),
]
