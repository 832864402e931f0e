"""Checking the editable fields of a ticket (PATCH /api/v1/tickets/{id})."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, NotFound
from chatdesk.services import ticket_types
from chatdesk.services.agents import check_email
from chatdesk.services.statuses import PRIORITIES
from chatdesk.store.models import Group, Ticket
from chatdesk.store.models_backoffice import Classification, TicketType

EDITABLE = {
    "title", "description", "attributes", "priority", "category", "service", "cc",
    "visibility", "group", "language",
}  # fmt: skip
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


async def check(session: AsyncSession, ticket: Ticket, body: dict[str, Any]) -> dict[str, Any]:
    """The column values a PATCH body asks for, each validated; BadRequest otherwise."""
    unknown = sorted(set(body) - EDITABLE)
    if unknown:
        raise BadRequest(f"{unknown[0]!r} cannot be changed here")
    out: dict[str, Any] = {}
    if "title" in body:
        title = body["title"]
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            raise BadRequest("'title' is 1 to 200 characters")
        out["title"] = title.strip()
    if "description" in body:
        text = body["description"]
        if text is not None and (not isinstance(text, str) or len(text) > 20_000):
            raise BadRequest("'description' is Markdown of at most 20000 characters")
        out["description"] = text
    if "attributes" in body:
        if ticket.type_id is None:
            raise BadRequest("only a ticket with a type has attributes")
        ttype = await session.get(TicketType, ticket.type_id)
        if ttype is None:
            raise NotFound("the ticket's type is gone")
        out["attributes"] = ticket_types.check_values(ttype, body["attributes"])
    if "priority" in body:
        if body["priority"] not in PRIORITIES:
            raise BadRequest(f"priority is one of {', '.join(PRIORITIES)}")
        out["priority"] = body["priority"]
    for kind in ("category", "service"):
        if kind in body:
            out[kind] = await _classified(session, kind, body[kind])
    if "cc" in body:
        cc = body["cc"]
        if not isinstance(cc, list) or len(cc) > 20 or not all(isinstance(a, str) for a in cc):
            raise BadRequest("'cc' is a list of at most 20 e-mail addresses")
        out["cc"] = sorted({check_email(a) for a in cc})
    if "visibility" in body:
        if body["visibility"] not in ("public", "internal"):
            raise BadRequest("'visibility' is public or internal")
        out["visibility"] = body["visibility"]
    if "language" in body:
        lang = body["language"]
        if lang is not None and (not isinstance(lang, str) or not _LANGUAGE.match(lang)):
            raise BadRequest("'language' is a code like en or pt-BR")
        out["language"] = lang
    if "group" in body:
        group = body["group"]
        if group is not None:
            if isinstance(group, bool) or not isinstance(group, int):
                raise BadRequest("'group' is a group id")
            if await session.get(Group, group) is None:
                raise NotFound(f"no group {group}")
        out["group_id"] = group
    return out


async def _classified(session: AsyncSession, kind: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise BadRequest(f"'{kind}' is 1 to 64 characters")
    known = list(
        (
            await session.execute(select(Classification.name).where(Classification.kind == kind))
        ).scalars()
    )
    if known and value not in known:
        raise BadRequest(f"'{kind}' is one of {', '.join(sorted(known))}")
    return value
