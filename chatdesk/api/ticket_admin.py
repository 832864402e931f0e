"""Admin REST of ticket management: ticket types, banned words, SLA targets, companies,
classification; and every agent's notifications."""

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
    require_admin,
    text_field,
)
from chatdesk.services import banned, companies, notifications, sla, ticket_types


def _page(items: list) -> JSONResponse:
    return JSONResponse({"items": items, "next_cursor": None})


async def types_index(request: Request) -> Response:
    await current_agent(request)
    async with desk(request).reads() as session:
        return _page(await ticket_types.list_types(session))


async def types_create(request: Request) -> Response:
    require_admin(await current_agent(request))
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        return JSONResponse(await ticket_types.create_type(session, body), status_code=201)


async def types_update(request: Request) -> Response:
    require_admin(await current_agent(request))
    type_id = path_id(request, "a ticket type id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        return JSONResponse(await ticket_types.change_type(session, type_id, body))


async def words_index(request: Request) -> Response:
    require_admin(await current_agent(request))
    async with desk(request).reads() as session:
        return _page(await banned.list_words(session))


async def words_create(request: Request) -> Response:
    require_admin(await current_agent(request))
    word = text_field(await json_body(request), "word", 100)
    d = desk(request)
    async with d.writes() as session, session.begin():
        row = await banned.add_word(session, word)
    d.tickets.banned.forget()
    return JSONResponse(row, status_code=201)


async def words_delete(request: Request) -> Response:
    require_admin(await current_agent(request))
    word_id = path_id(request, "a banned word id")
    d = desk(request)
    async with d.writes() as session, session.begin():
        await banned.remove_word(session, word_id)
    d.tickets.banned.forget()
    return Response(status_code=204)


async def sla_show(request: Request) -> Response:
    require_admin(await current_agent(request))
    async with desk(request).reads() as session:
        return JSONResponse(await sla.targets(session))


async def sla_put(request: Request) -> Response:
    require_admin(await current_agent(request))
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        return JSONResponse(await sla.set_targets(session, body))


async def notifications_index(request: Request) -> Response:
    agent = await current_agent(request)
    unread = request.query_params.get("unread") in ("1", "true")
    cursor = request.query_params.get("cursor")
    async with desk(request).reads() as session:
        items, next_cursor = await notifications.list_for(
            session,
            agent.id,
            unread,
            int(cursor) if cursor and cursor.isdigit() else None,
            int_param(request, "limit", 50),
        )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def notification_read(request: Request) -> Response:
    agent = await current_agent(request)
    notification_id = path_id(request, "a notification id")
    async with desk(request).writes() as session, session.begin():
        await notifications.mark_read(session, agent.id, notification_id)
    return Response(status_code=204)


async def companies_index(request: Request) -> Response:
    await current_agent(request)
    async with desk(request).reads() as session:
        return _page(await companies.list_companies(session))


async def companies_create(request: Request) -> Response:
    require_admin(await current_agent(request))
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        return JSONResponse(await companies.add_company(session, body), status_code=201)


async def companies_update(request: Request) -> Response:
    require_admin(await current_agent(request))
    company_id = path_id(request, "a company id")
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        return JSONResponse(await companies.change_company(session, company_id, body))


async def classification_show(request: Request) -> Response:
    await current_agent(request)
    async with desk(request).reads() as session:
        return JSONResponse(await companies.classification(session))


async def classification_put(request: Request) -> Response:
    require_admin(await current_agent(request))
    body = await json_body(request)
    async with desk(request).writes() as session, session.begin():
        return JSONResponse(await companies.set_classification(session, body))


routes = [
    Route("/api/v1/ticket-types", types_index, methods=["GET"]),
    Route("/api/v1/ticket-types", types_create, methods=["POST"]),
    Route("/api/v1/ticket-types/{id}", types_update, methods=["PATCH"]),
    Route("/api/v1/banned-words", words_index, methods=["GET"]),
    Route("/api/v1/banned-words", words_create, methods=["POST"]),
    Route("/api/v1/banned-words/{id}", words_delete, methods=["DELETE"]),
    Route("/api/v1/sla", sla_show, methods=["GET"]),
    Route("/api/v1/sla", sla_put, methods=["PUT"]),
    Route("/api/v1/notifications", notifications_index, methods=["GET"]),
    Route("/api/v1/notifications/{id}/read", notification_read, methods=["POST"]),
    Route("/api/v1/companies", companies_index, methods=["GET"]),
    Route("/api/v1/companies", companies_create, methods=["POST"]),
    Route("/api/v1/companies/{id}", companies_update, methods=["PATCH"]),
    Route("/api/v1/classification", classification_show, methods=["GET"]),
    Route("/api/v1/classification", classification_put, methods=["PUT"]),
]
