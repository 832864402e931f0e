"""Routes for an admin-only collection: list, show, create, change, delete.

Triggers and webhooks are the same five handlers around different services; one
place says how such a collection is guarded, read, written and forgotten by the
caches that hold it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, json_body, path_id, require_admin

Item = dict[str, Any]


async def require_admin_request(request: Request) -> None:
    require_admin(await current_agent(request))


@dataclass(frozen=True)
class AdminResource:
    """``path`` like ``/api/v1/triggers``; ``noun`` names an id in errors ("a trigger");
    ``changed`` runs after every committed write (to drop this process's cache)."""

    path: str
    noun: str
    list_all: Callable[[AsyncSession], Awaitable[list[Item]]]
    get: Callable[[AsyncSession, int], Awaitable[Item]]
    create: Callable[[AsyncSession, Item], Awaitable[Item]]
    change: Callable[[AsyncSession, int, Item], Awaitable[Item]]
    delete: Callable[[AsyncSession, int], Awaitable[None]]
    changed: Callable[[Request], None]

    def _id(self, request: Request) -> int:
        return path_id(request, f"{self.noun} id")

    async def index(self, request: Request) -> Response:
        await require_admin_request(request)
        async with desk(request).reads() as session:
            items = await self.list_all(session)
        return JSONResponse({"items": items, "next_cursor": None})

    async def show(self, request: Request) -> Response:
        await require_admin_request(request)
        item_id = self._id(request)
        async with desk(request).reads() as session:
            return JSONResponse(await self.get(session, item_id))

    async def create_one(self, request: Request) -> Response:
        await require_admin_request(request)
        body = await json_body(request)
        async with desk(request).writes() as session, session.begin():
            item = await self.create(session, body)
        self.changed(request)
        return JSONResponse(item, status_code=201)

    async def change_one(self, request: Request) -> Response:
        await require_admin_request(request)
        item_id = self._id(request)
        body = await json_body(request)
        async with desk(request).writes() as session, session.begin():
            item = await self.change(session, item_id, body)
        self.changed(request)
        return JSONResponse(item)

    async def delete_one(self, request: Request) -> Response:
        await require_admin_request(request)
        item_id = self._id(request)
        async with desk(request).writes() as session, session.begin():
            await self.delete(session, item_id)
        self.changed(request)
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        one = f"{self.path}/{{id}}"
        return [
            Route(self.path, self.index, methods=["GET"]),
            Route(self.path, self.create_one, methods=["POST"]),
            Route(one, self.show, methods=["GET"]),
            Route(one, self.change_one, methods=["PATCH"]),
            Route(one, self.delete_one, methods=["DELETE"]),
        ]
