"""Ticket types: admin-defined kinds of back-office and tracker tickets, with attributes."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, NotFound
from chatdesk.store.models_backoffice import TicketType

KINDS = ("backoffice", "tracker")
ATTRIBUTE_TYPES = ("text", "number", "choice", "date")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TEXT = 2000


def view(t: TicketType) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "kind": t.kind, "attributes": t.attributes}


def _attributes(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) > 50:
        raise BadRequest("'attributes' is a list of at most 50 definitions")
    out, keys = [], set()
    for item in raw:
        if not isinstance(item, dict):
            raise BadRequest("each attribute is {key, label, type, required, choices?}")
        key, kind = item.get("key"), item.get("type")
        if not isinstance(key, str) or not _KEY.match(key) or key in keys:
            raise BadRequest(f"attribute key {key!r}: lower-case letters, digits, _; unique")
        if kind not in ATTRIBUTE_TYPES:
            raise BadRequest(f"attribute {key}: type is one of {', '.join(ATTRIBUTE_TYPES)}")
        label = item.get("label", key)
        if not isinstance(label, str) or not label.strip() or len(label) > 100:
            raise BadRequest(f"attribute {key}: label is 1 to 100 characters")
        required = item.get("required", False)
        if not isinstance(required, bool):
            raise BadRequest(f"attribute {key}: required is true or false")
        entry: dict[str, Any] = {"key": key, "label": label, "type": kind, "required": required}
        if kind == "choice":
            choices = item.get("choices")
            if (
                not isinstance(choices, list)
                or not choices
                or not all(isinstance(c, str) and c and len(c) <= 100 for c in choices)
            ):
                raise BadRequest(f"attribute {key}: a choice needs 'choices', a list of text")
            entry["choices"] = choices
        keys.add(key)
        out.append(entry)
    return out


def check_values(ticket_type: TicketType, values: Any, *, partial: bool = False) -> dict[str, Any]:
    """Validate attribute values against a type: known keys, right types, required present."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise BadRequest("'attributes' is a map of key to value")
    defs = {d["key"]: d for d in ticket_type.attributes}
    unknown = sorted(set(values) - set(defs))
    if unknown:
        raise BadRequest(f"{ticket_type.name} has no attribute {unknown[0]!r}")
    out: dict[str, Any] = {}
    for key, d in defs.items():
        if key not in values or values[key] in (None, ""):
            if d["required"] and not partial:
                raise BadRequest(f"the attribute {d['label']!r} ({key}) is required", field=key)
            continue
        out[key] = _value(d, values[key])
    return out


def _value(d: dict[str, Any], value: Any) -> Any:
    key, kind = d["key"], d["type"]
    if kind == "text":
        if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
            raise BadRequest(f"attribute {key} is text of at most {MAX_TEXT} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(f"attribute {key} is a number")
        return value
    if kind == "choice":
        if value not in d["choices"]:
            raise BadRequest(f"attribute {key} is one of {', '.join(d['choices'])}")
        return value
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise BadRequest(f"attribute {key} is a date like 2026-11-25") from None


async def list_types(session: AsyncSession) -> list[dict[str, Any]]:
    return [
        view(t)
        for t in (await session.execute(select(TicketType).order_by(TicketType.id))).scalars()
    ]


async def get_type(session: AsyncSession, type_id: Any) -> TicketType:
    if isinstance(type_id, bool) or not isinstance(type_id, int):
        raise BadRequest("'type' is a ticket type id")
    found = await session.get(TicketType, type_id)
    if found is None:
        raise NotFound(f"no ticket type {type_id}")
    return found


async def create_type(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    name, kind = body.get("name"), body.get("kind")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise BadRequest("a ticket type needs a 'name' of 1 to 100 characters")
    if kind not in KINDS:
        raise BadRequest("'kind' is backoffice or tracker")
    if await session.scalar(select(TicketType.id).where(TicketType.name == name.strip())):
        raise Conflict(f"a ticket type {name!r} exists already")
    row = TicketType(
        name=name.strip(), kind=kind, attributes=_attributes(body.get("attributes", []))
    )
    session.add(row)
    await session.flush()
    return view(row)


async def change_type(session: AsyncSession, type_id: int, body: dict[str, Any]) -> dict[str, Any]:
    row = await get_type(session, type_id)
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise BadRequest("'name' is 1 to 100 characters")
        row.name = name.strip()
    if "attributes" in body:
        row.attributes = _attributes(body["attributes"])
    if "kind" in body and body["kind"] != row.kind:
        raise BadRequest("a ticket type's kind cannot change")
    await session.flush()
    return view(row)
