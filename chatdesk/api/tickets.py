"""GET /api/v1/tickets, /tickets/{id} and /tickets/{id}/events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, int_param, path_id, query
from chatdesk.services.search import TicketFilter, list_tickets

MAX_EVENTS = 1000


async def index(request: Request) -> Response:
    agent = await current_agent(request)
    params = query(request)
    filters = TicketFilter.from_query(params, agent.id)
    limit = int_param(request, "limit", 50)
    async with desk(request).reads() as session:
        items, next_cursor = await list_tickets(session, filters, params.get("cursor"), limit)
    return JSONResponse({"items": items, "next_cursor": next_cursor})


def _ticket_id(request: Request) -> int:
    return path_id(request, "a ticket id")


async def show(request: Request) -> Response:
    await current_agent(request)
    return JSONResponse(await desk(request).tickets.ticket(_ticket_id(request)))


async def events(request: Request) -> Response:
    await current_agent(request)
    ticket_id = _ticket_id(request)
    after = int_param(request, "after_seq", 0)
    limit = max(1, min(int_param(request, "limit", MAX_EVENTS), MAX_EVENTS))
    tickets = desk(request).tickets
    await tickets.ticket(ticket_id)  # not_found before an empty page
    found = await tickets.events(ticket_id, after, limit=limit + 1)
    page = found[:limit]
    next_cursor = str(page[-1].seq) if len(found) > limit else None
    return JSONResponse({"items": [e.wire() for e in page], "next_cursor": next_cursor})


routes = [
    Route("/api/v1/tickets", index, methods=["GET"]),
    Route("/api/v1/tickets/{id}", show, methods=["GET"]),
    Route("/api/v1/tickets/{id}/events", events, methods=["GET"]),
]
