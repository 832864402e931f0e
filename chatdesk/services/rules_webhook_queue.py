"""Queueing webhook deliveries from committed events.

Runs after the commit, in the process that committed, and only inserts rows; the
sender (rules_delivery.py) posts them later, so a slow receiver never holds up a
chat. The body is fixed when queued, so every retry sends the same bytes.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.realtime.protocol import TicketEvent
from chatdesk.services import views
from chatdesk.services.webhooks import TICKET_CREATED
from chatdesk.store.models import Ticket, utcnow
from chatdesk.store.models_rules import Webhook, WebhookDelivery

CACHE_S = 2.0  # how long a process trusts its list of active webhooks


def types_of(event: TicketEvent) -> list[str]:
    """The webhook types one committed event counts as."""
    types = [event.kind]
    if event.kind == "message" and event.author.type == "visitor" and event.seq == 1:
        types.append(TICKET_CREATED)
    return types


class Queue:
    """Turns committed events into delivery rows for every active webhook that wants them."""

    def __init__(
        self, reads: async_sessionmaker[AsyncSession], writes: async_sessionmaker[AsyncSession]
    ) -> None:
        self._reads = reads
        self._writes = writes
        self._hooks: list[tuple[int, frozenset[str]]] = []
        self._loaded = 0.0
        self.queued = 0

    def forget(self) -> None:
        """Drop the cached webhook list (after this process changed one)."""
        self._loaded = 0.0

    async def _active(self) -> list[tuple[int, frozenset[str]]]:
        if time.monotonic() - self._loaded > CACHE_S:
            async with self._reads() as session:
                rows = await session.execute(
                    select(Webhook.id, Webhook.events).where(Webhook.active.is_(True))
                )
                self._hooks = [(i, frozenset(e or [])) for i, e in rows.tuples()]
            self._loaded = time.monotonic()
        return self._hooks

    async def queue(self, events: list[TicketEvent]) -> int:
        hooks = await self._active()
        wanted = [
            (hook, kind, event)
            for event in events
            for kind in types_of(event)
            for hook, kinds in hooks
            if kind in kinds
        ]
        if not wanted:
            return 0
        async with self._reads() as session:
            ids = sorted({e.ticket for _, _, e in wanted})
            tickets = (await session.execute(select(Ticket).where(Ticket.id.in_(ids)))).scalars()
            shown = {t["id"]: t for t in await views.ticket_views(session, list(tickets))}
        now = utcnow()
        rows = []
        for hook, kind, event in wanted:
            delivery = uuid.uuid4().hex
            body = {
                "id": delivery,
                "type": kind,
                "ticket": shown.get(event.ticket, {"id": event.ticket}),
                "event": event.wire(),
                "at": event.at,
            }
            rows.append(
                {
                    "id": delivery,
                    "webhook_id": hook,
                    "event": kind,
                    "ticket_id": event.ticket,
                    "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        try:
            await self._insert(rows)
        except IntegrityError:
            # A webhook was deleted since the list was read: queue for those still there.
            self.forget()
            still = {hook for hook, _ in await self._active()}
            rows = [r for r in rows if r["webhook_id"] in still]
            if rows:
                await self._insert(rows)
        self.queued += len(rows)
        return len(rows)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        async with self._writes() as session, session.begin():
            await session.execute(insert(WebhookDelivery), rows)
