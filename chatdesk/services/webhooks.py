"""Webhooks as admins configure them, and the list of their deliveries.

Deliveries are queued by rules_webhook_queue.py and sent by rules_delivery.py.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, NotFound
from chatdesk.services.timeline import iso
from chatdesk.store.models_rules import Webhook, WebhookDelivery

TICKET_CREATED = "ticket.created"
# Event kinds of the contract (sections 3, 8, 9, 10) and the one synthetic type.
EVENT_TYPES = (
    TICKET_CREATED,
    "message",
    "note",
    "status",
    "assigned",
    "labels",
    "access",
    "masked",
    "unmasked",
    "linked",
    "linked_status",
    "updated",
    "rating",
    "system",
    "email_sent",
    "email_received",
)
MAX_URL = 2000
PAGE = 100


def webhook_view(row: Webhook) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events or []),
        "secret": row.secret,
        "active": row.active,
        "created_at": iso(row.created_at),
    }


def delivery_view(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event,
        "ticket": row.ticket_id,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "delivered_at": iso(row.delivered_at) if row.delivered_at else None,
        "next_attempt_at": iso(row.next_attempt_at) if row.next_attempt_at else None,
        "created_at": iso(row.created_at),
    }


def _url(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL or "\x00" in value:
        raise BadRequest("'url' is an http or https URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("'url' is an http or https URL, like https://example.com/hook")
    return value.strip()


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"'events' is a non-empty list of: {', '.join(EVENT_TYPES)}")
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        raise BadRequest(f"unknown event {unknown[0][:40]!r}; known: {', '.join(EVENT_TYPES)}")
    return sorted(set(value))


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not 16 <= len(value) <= 200 or "\x00" in value:
        raise BadRequest("'secret' is 16 to 200 characters")
    return value


def _apply(row: Webhook, body: dict[str, Any]) -> None:
    if "url" in body:
        row.url = _url(body["url"])
    if "events" in body:
        row.events = _events(body["events"])
    if "secret" in body:
        row.secret = _secret(body["secret"])
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise BadRequest("'active' is true or false")
        row.active = body["active"]


async def list_webhooks(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(Webhook).order_by(Webhook.id))
    return [webhook_view(r) for r in rows.scalars()]


async def _get(session: AsyncSession, webhook_id: int) -> Webhook:
    row = await session.get(Webhook, webhook_id)
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    return row


async def get_webhook(session: AsyncSession, webhook_id: int) -> dict[str, Any]:
    return webhook_view(await _get(session, webhook_id))


async def create_webhook(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    for key in ("url", "events"):
        if key not in body:
            raise BadRequest(f"a webhook needs '{key}'")
    row = Webhook(secret=secrets.token_hex(32), active=True)
    _apply(row, body)
    session.add(row)
    await session.flush()
    return webhook_view(row)


async def change_webhook(
    session: AsyncSession, webhook_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    if not {"url", "events", "secret", "active"} & set(body):
        raise BadRequest("change at least one of active, events, secret, url")
    row = await _get(session, webhook_id)
    _apply(row, body)
    await session.flush()
    return webhook_view(row)


async def delete_webhook(session: AsyncSession, webhook_id: int) -> None:
    await session.delete(await _get(session, webhook_id))
    await session.flush()


def _cursor(raw: str | None) -> tuple[datetime, str] | None:
    if raw is None or raw == "":
        return None
    at, _, delivery = raw.partition("~")
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00")), delivery
    except ValueError:
        raise BadRequest("'cursor' is not one this list gave") from None


async def list_deliveries(
    session: AsyncSession, webhook_id: int, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, by keyset over (created_at, id)."""
    await _get(session, webhook_id)
    limit = max(1, min(limit, PAGE))
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    after = _cursor(cursor)
    if after is not None:
        query = query.where(
            tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < tuple_(after[0], after[1])
        )
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    rows = list((await session.execute(query.limit(limit + 1))).scalars())
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = f"{iso(last.created_at)}~{last.id}"
    return [delivery_view(r) for r in page], next_cursor
