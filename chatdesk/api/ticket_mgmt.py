"""Ticket management REST (contract section 8): create, edit, link, bulk, spam box,
attachments gallery, reply preview."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, json_body, path_id
from chatdesk.errors import BadRequest
from chatdesk.realtime.protocol import with_urls
from chatdesk.services import canned
from chatdesk.store.models import Attachment, Event


async def create(request: Request) -> Response:
    agent = await current_agent(request)
    body = await json_body(request)
    d = desk(request)
    ticket_id = await d.backoffice.create(agent, body)
    return JSONResponse(await d.tickets.ticket(ticket_id), status_code=201)


async def patch(request: Request) -> Response:
    agent = await current_agent(request)
    ticket_id = path_id(request, "a ticket id")
    body = await json_body(request)
    d = desk(request)
    await d.backoffice.patch(agent, ticket_id, body)
    return JSONResponse(await d.tickets.ticket(ticket_id))


async def delete(request: Request) -> Response:
    agent = await current_agent(request)
    await desk(request).backoffice.delete_spam(agent, path_id(request, "a ticket id"))
    return Response(status_code=204)


async def link(request: Request) -> Response:
    agent = await current_agent(request)
    ticket_id = path_id(request, "a ticket id")
    other = (await json_body(request)).get("ticket")
    if isinstance(other, bool) or not isinstance(other, int) or not 0 < other < 2**31:
        raise BadRequest("'ticket' is the id of the ticket to link")
    d = desk(request)
    await d.backoffice.link(agent, ticket_id, other)
    return JSONResponse(await d.tickets.ticket(ticket_id), status_code=201)


async def unlink(request: Request) -> Response:
    agent = await current_agent(request)
    ticket_id = path_id(request, "a ticket id")
    other = path_id(request, "a ticket id", "other")
    d = desk(request)
    await d.backoffice.unlink(agent, ticket_id, other)
    return JSONResponse(await d.tickets.ticket(ticket_id))


async def bulk(request: Request) -> Response:
    agent = await current_agent(request)
    body = await json_body(request)
    d = desk(request)
    ids = await d.bulk.apply(agent, body.get("ids"), body.get("set"))
    return JSONResponse({"items": [await d.tickets.ticket(i) for i in ids]})


async def attachments(request: Request) -> Response:
    """Every image and PDF of a ticket, for the gallery, with where it was sent."""
    await current_agent(request)
    ticket_id = path_id(request, "a ticket id")
    d = desk(request)
    await d.tickets.ticket(ticket_id)
    async with d.reads() as session:
        rows = (
            await session.execute(
                select(Event).where(Event.ticket_id == ticket_id).order_by(Event.seq)
            )
        ).scalars()
        items = []
        for event in rows:
            for att in (event.data or {}).get("attachments", []):
                items.append({**att, "seq": event.seq, "author": {
                    "type": event.author_type, "id": event.author_id, "name": event.author_name,
                }})  # fmt: skip
        known = {a for a, in (await session.execute(select(Attachment.id).where(
            Attachment.id.in_([i["id"] for i in items])))).all()}  # fmt: skip
    shown = with_urls({"attachments": [i for i in items if i["id"] in known]})["attachments"]
    return JSONResponse({"items": shown, "next_cursor": None})


async def preview(request: Request) -> Response:
    """A reply as it would be sent: canned placeholders rendered for this ticket."""
    agent = await current_agent(request)
    ticket_id = path_id(request, "a ticket id")
    body = (await json_body(request)).get("body")
    if not isinstance(body, str) or not body.strip() or len(body) > 10_000:
        raise BadRequest("'body' is 1 to 10000 characters")
    d = desk(request)
    async with d.reads() as session:
        rendered = await canned.render_text(session, agent, body, ticket_id)
    banned = None
    try:
        await d.tickets.banned.check(rendered)
    except BadRequest as exc:
        banned = exc.extra.get("word")
    return JSONResponse({"body": rendered, "banned_word": banned})


routes = [
    Route("/api/v1/tickets", create, methods=["POST"]),
    Route("/api/v1/tickets/bulk", bulk, methods=["POST"]),
    Route("/api/v1/tickets/{id}", patch, methods=["PATCH"]),
    Route("/api/v1/tickets/{id}", delete, methods=["DELETE"]),
    Route("/api/v1/tickets/{id}/links", link, methods=["POST"]),
    Route("/api/v1/tickets/{id}/links/{other}", unlink, methods=["DELETE"]),
    Route("/api/v1/tickets/{id}/attachments", attachments, methods=["GET"]),
    Route("/api/v1/tickets/{id}/preview", preview, methods=["POST"]),
]
