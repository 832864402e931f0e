"""/healthz (the process answers) and /readyz (database and broker reachable)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import desk


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    d = desk(request)
    database = await d.database_ok()
    broker = d.broker.healthy
    ready = database and broker
    return JSONResponse(
        {
            "status": "ok" if ready else "unavailable",
            "database": "ok" if database else "down",
            "broker": "ok" if broker else "down",
        },
        status_code=200 if ready else 503,
    )


routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
