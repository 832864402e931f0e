"""Triggers as admins write them: strict checks, then stored in a normal form.

A trigger is refused whole (``bad_request``, nothing stored) when any field, op or
action is unknown or ill-typed; an id that names nothing is ``not_found``. The
engine (rules_engine.py) can then trust what it reads back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, NotFound
from chatdesk.services.timeline import iso
from chatdesk.store.models import Agent, CannedResponse, Group, Site, utcnow
from chatdesk.store.models_rules import Trigger

ON = ("ticket_created", "message_created")
FIELDS = ("site", "page_url", "email_domain", "language", "first_message", "business_hours")
OPS = ("is", "is_not", "contains", "not_contains")
ACTIONS = ("assign_group", "assign_agent", "add_labels", "set_priority", "send_canned")
PRIORITIES = ("low", "normal", "high", "urgent")
MAX_CONDITIONS = 20
MAX_ACTIONS = 10
MAX_LABELS = 20
MAX_VALUE_CHARS = 500
MAX_LABEL_CHARS = 64


def trigger_view(row: Trigger) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "position": row.position,
        "active": row.active,
        "on": row.on,
        "conditions": list(row.conditions or []),
        "actions": list(row.actions or []),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def _text(value: Any, what: str, max_chars: int = MAX_VALUE_CHARS) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise BadRequest(f"{what} is a string of 1 to {max_chars} characters")
    if "\x00" in value:
        raise BadRequest(f"{what} must not contain NUL characters")
    return value


def _name(body: dict[str, Any]) -> str:
    return " ".join(_text(body.get("name"), "'name'", 200).split())


def _condition(raw: Any, i: int) -> dict[str, Any]:
    where = f"condition {i + 1}"
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} is {{field, op, value}}")
    field, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    if field not in FIELDS:
        raise BadRequest(f"{where}: 'field' is one of {', '.join(FIELDS)}")
    if op not in OPS:
        raise BadRequest(f"{where}: 'op' is one of {', '.join(OPS)}")
    if field == "business_hours":
        if op not in ("is", "is_not"):
            raise BadRequest(f"{where}: business_hours takes 'is' or 'is_not'")
        if value not in ("open", "closed", True, False):
            raise BadRequest(f"{where}: business_hours is 'open' or 'closed'")
        value = "open" if value in ("open", True) else "closed"
    elif field == "site" and _whole(value):
        if op not in ("is", "is_not"):
            raise BadRequest(f"{where}: a site id takes 'is' or 'is_not'")
    else:
        value = _text(value, f"{where}: 'value'")
    return {"field": field, "op": op, "value": value}


async def _action(session: AsyncSession, raw: Any, i: int) -> dict[str, Any]:
    where = f"action {i + 1}"
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} is {{type, value}}")
    kind, value = raw.get("type"), raw.get("value")
    if kind not in ACTIONS:
        raise BadRequest(f"{where}: 'type' is one of {', '.join(ACTIONS)}")
    if kind == "add_labels":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not 0 < len(value) <= MAX_LABELS:
            raise BadRequest(f"{where}: add_labels takes 1 to {MAX_LABELS} label names")
        names = [" ".join(_text(v, f"{where}: a label", MAX_LABEL_CHARS).split()) for v in value]
        return {"type": kind, "value": sorted({n.lower() for n in names})}
    if kind == "set_priority":
        if value not in PRIORITIES:
            raise BadRequest(f"{where}: set_priority is one of {', '.join(PRIORITIES)}")
        return {"type": kind, "value": value}
    if not _whole(value):
        raise BadRequest(f"{where}: {kind} takes an id")
    if kind == "assign_group" and await session.get(Group, value) is None:
        raise NotFound(f"{where}: no group {value}")
    if kind == "assign_agent":
        agent = await session.get(Agent, value)
        if agent is None or not agent.active:
            raise NotFound(f"{where}: no active agent {value}")
    if kind == "send_canned":
        canned = await session.get(CannedResponse, value)
        # Triggers act for the whole desk: only company canned responses may be used.
        if canned is None or canned.scope != "company":
            raise NotFound(f"{where}: no company canned response {value}")
    return {"type": kind, "value": value}


async def _check_site_ids(session: AsyncSession, conditions: list[dict[str, Any]]) -> None:
    for c in conditions:
        if c["field"] == "site" and _whole(c["value"]):
            if await session.get(Site, c["value"]) is None:
                raise NotFound(f"no site {c['value']}")


async def _apply(session: AsyncSession, row: Trigger, body: dict[str, Any]) -> None:
    if "name" in body:
        row.name = _name(body)
    if "position" in body:
        if not isinstance(body["position"], int) or isinstance(body["position"], bool):
            raise BadRequest("'position' is a whole number")
        if not -(2**31) <= body["position"] < 2**31:
            raise BadRequest("'position' is out of range")
        row.position = body["position"]
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise BadRequest("'active' is true or false")
        row.active = body["active"]
    if "on" in body:
        if body["on"] not in ON:
            raise BadRequest(f"'on' is one of {', '.join(ON)}")
        row.on = body["on"]
    if "conditions" in body:
        raw = body["conditions"]
        if not isinstance(raw, list) or len(raw) > MAX_CONDITIONS:
            raise BadRequest(f"'conditions' is a list of at most {MAX_CONDITIONS}")
        conditions = [_condition(c, i) for i, c in enumerate(raw)]
        await _check_site_ids(session, conditions)
        row.conditions = conditions
    if "actions" in body:
        raw = body["actions"]
        if not isinstance(raw, list) or not 0 < len(raw) <= MAX_ACTIONS:
            raise BadRequest(f"'actions' is a list of 1 to {MAX_ACTIONS}")
        row.actions = [await _action(session, a, i) for i, a in enumerate(raw)]


async def list_triggers(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(Trigger).order_by(Trigger.position, Trigger.id))
    return [trigger_view(r) for r in rows.scalars()]


async def _get(session: AsyncSession, trigger_id: int) -> Trigger:
    row = await session.get(Trigger, trigger_id)
    if row is None:
        raise NotFound(f"no trigger {trigger_id}")
    return row


async def get_trigger(session: AsyncSession, trigger_id: int) -> dict[str, Any]:
    return trigger_view(await _get(session, trigger_id))


async def create_trigger(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    for key in ("name", "on", "actions"):
        if key not in body:
            raise BadRequest(f"a trigger needs '{key}'")
    last = await session.scalar(select(func.max(Trigger.position)))
    row = Trigger(position=(last or 0) + 1, active=True, conditions=[], actions=[])
    await _apply(session, row, body)
    session.add(row)
    await session.flush()
    return trigger_view(row)


async def change_trigger(
    session: AsyncSession, trigger_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    known = {"name", "position", "active", "on", "conditions", "actions"}
    if not known & set(body):
        raise BadRequest(f"change at least one of {', '.join(sorted(known))}")
    row = await _get(session, trigger_id)
    await _apply(session, row, body)
    row.updated_at = utcnow()
    await session.flush()
    return trigger_view(row)


async def delete_trigger(session: AsyncSession, trigger_id: int) -> None:
    await session.delete(await _get(session, trigger_id))
    await session.flush()


async def active_triggers(session: AsyncSession, on: str) -> list[Trigger]:
    """What the engine runs for ``on``, in position order."""
    rows = await session.execute(
        select(Trigger)
        .where(Trigger.active.is_(True), Trigger.on == on)
        .order_by(Trigger.position, Trigger.id)
    )
    return list(rows.scalars())
