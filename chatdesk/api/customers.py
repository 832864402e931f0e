"""/api/v1/customers/{id}: details, earlier tickets, and customer notes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, json_body, optional_text, path_id
from chatdesk.errors import BadRequest


async def show(request: Request) -> Response:
    await current_agent(request)
    return JSONResponse(await desk(request).profiles.show(path_id(request, "a customer id")))


async def update(request: Request) -> Response:
    await current_agent(request)
    customer_id = path_id(request, "a customer id")
    body = await json_body(request)
    name = optional_text(body, "name", 200)
    email = optional_text(body, "email", 320)
    company: int | bool | None = False
    if "company" in body:
        company = body["company"]
        if company is not None and (isinstance(company, bool) or not isinstance(company, int)):
            raise BadRequest("'company' is a company id or null")
    if name is None and email is None and company is False:
        raise BadRequest("send 'name', 'email' and/or 'company'")
    profiles = desk(request).profiles
    return JSONResponse(await profiles.update(customer_id, name, email, company))


async def notes(request: Request) -> Response:
    await current_agent(request)
    items = await desk(request).profiles.notes(path_id(request, "a customer id"))
    return JSONResponse({"items": items, "next_cursor": None})


async def add_note(request: Request) -> Response:
    agent = await current_agent(request)
    customer_id = path_id(request, "a customer id")
    body = await json_body(request)
    text = optional_text(body, "body", 10_000)
    if text is None:
        raise BadRequest("a note needs a 'body'")
    attachments = body.get("attachments", [])
    if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
        raise BadRequest("'attachments' is a list of upload ids")
    note = await desk(request).profiles.add_note(agent, customer_id, text, tuple(attachments))
    return JSONResponse(note, status_code=201)


routes = [
    Route("/api/v1/customers/{id}", show, methods=["GET"]),
    Route("/api/v1/customers/{id}", update, methods=["PATCH"]),
    Route("/api/v1/customers/{id}/notes", notes, methods=["GET"]),
    Route("/api/v1/customers/{id}/notes", add_note, methods=["POST"]),
]
