"""The application factory: routes, error mapping, and the lifespan that builds the Desk."""

from __future__ import annotations

import contextlib
import gc
import logging
import secrets
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from chatdesk.api import (
    accounts,
    admin,
    auth,
    canned,
    customers,
    health,
    inbound,
    kb,
    labels,
    openapi,
    ops,
    reports,
    static,
    ticket_admin,
    ticket_mgmt,
    tickets,
    triggers,
    uploads,
    webhooks,
)
from chatdesk.api.common import chatdesk_error, database_down
from chatdesk.api.security import SecurityMiddleware
from chatdesk.desk import Desk
from chatdesk.errors import ChatdeskError
from chatdesk.ops.context import RequestContext, given_id
from chatdesk.ops.logging import current_id
from chatdesk.realtime.agent import AgentChannel
from chatdesk.realtime.connection import SERVICE_RESTART
from chatdesk.realtime.visitor import VisitorChannel
from chatdesk.settings import Settings
from chatdesk.store.models import Site

log = logging.getLogger(__name__)


async def visitor_ws(websocket: WebSocket) -> None:
    await VisitorChannel(websocket.app.state.desk, websocket).serve()


async def agent_ws(websocket: WebSocket) -> None:
    await AgentChannel(websocket.app.state.desk, websocket).serve()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_environ()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        desk = await Desk.open(settings)
        async with desk.reads() as session:
            first = await session.scalar(select(Site.key).order_by(Site.id).limit(1))
        desk.demo_site_key = first
        app.state.desk = desk
        # Everything built so far (modules, SQLAlchemy's mappers and caches) lives as
        # long as the process: out of the collector's way, a full collection under
        # load took 80 ms (a stall every socket felt) and now takes about 10.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for channel in list(desk.connections):
                channel.conn.close_soon(SERVICE_RESTART, "server restart")
            await desk.close()

    app = Starlette(
        routes=[
            WebSocketRoute("/ws/visitor", visitor_ws),
            WebSocketRoute("/ws/agent", agent_ws),
            *auth.routes,
            *accounts.routes,
            *ops.routes,
            *tickets.routes,
            *ticket_mgmt.routes,
            *ticket_admin.routes,
            *uploads.routes,
            *customers.routes,
            *labels.routes,
            *admin.routes,
            *inbound.routes,
            *triggers.routes,
            *webhooks.routes,
            *reports.routes,
            *canned.routes,
            *kb.routes,
            *health.routes,
            *openapi.routes,
            *static.routes,
        ],
        exception_handlers={
            ChatdeskError: chatdesk_error,
            DBAPIError: database_down,
            OSError: database_down,
        },
        middleware=[Middleware(RequestContext), Middleware(SecurityMiddleware)],
        lifespan=lifespan,
    )
    return app


class Sockets:
    """What uvicorn runs: a WebSocket on a channel's path goes straight to its channel.

    Through Starlette, every idle socket would keep its middleware and router suspended
    in its await chain (some 15 coroutine frames, 5 KB a socket). A channel needs none
    of it: it answers its own errors. Everything else goes to the Starlette app.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            path, root = scope["path"], scope.get("root_path", "")
            channel = CHANNELS.get(path[len(root) :] if path.startswith(root) else path)
            if channel is not None:
                scope["app"] = self.app
                token = current_id.set("ws-" + (given_id(scope) or secrets.token_hex(6)))
                try:
                    await channel(self.app.state.desk, WebSocket(scope, receive, send)).serve()
                finally:
                    current_id.reset(token)
                return
        await self.app(scope, receive, send)


CHANNELS: dict[str, type[VisitorChannel] | type[AgentChannel]] = {
    "/ws/visitor": VisitorChannel,
    "/ws/agent": AgentChannel,
}


def app_from_environ() -> Sockets:
    """uvicorn's factory for worker processes: settings come from the environment."""
    return Sockets(create_app(Settings.from_environ()))
