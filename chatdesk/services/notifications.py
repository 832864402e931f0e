"""Notifications: the assignee hears of anything someone else adds to their ticket.

Written after the change commits, in the process that made it, in one transaction
per batch, so chats never wait on them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import NotFound
from chatdesk.realtime import bus
from chatdesk.realtime.broker import Broker
from chatdesk.realtime.protocol import TicketEvent
from chatdesk.services.timeline import iso
from chatdesk.store.models import Ticket, utcnow
from chatdesk.store.models_backoffice import Notification

log = logging.getLogger(__name__)
MAX_PAGE = 100


def view(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "ticket": n.ticket_id,
        "seq": n.seq,
        "kind": n.kind,
        "read": n.read,
        "at": iso(n.at),
    }


def _push(n: Notification) -> dict[str, Any]:
    return {"type": "notification", "notification": view(n)}


class Notifications:
    def __init__(self, writes: async_sessionmaker[AsyncSession], broker: Broker) -> None:
        self._writes = writes
        self._broker = broker
        self._tasks: set[asyncio.Task[None]] = set()

    def committed(self, events: list[TicketEvent]) -> None:
        """After-commit hook: queue the notification writes off the writer's path."""
        task = asyncio.get_running_loop().create_task(self._notify(events))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, events: list[TicketEvent]) -> None:
        try:
            async with self._writes() as session, session.begin():
                ids = {e.ticket for e in events}
                owners = dict(
                    (
                        await session.execute(
                            select(Ticket.id, Ticket.assignee_id).where(Ticket.id.in_(ids))
                        )
                    ).all()
                )
                rows = []
                for e in events:
                    owner = owners.get(e.ticket)
                    if owner is None or (e.author.type == "agent" and e.author.id == owner):
                        continue
                    rows.append(
                        {"agent_id": owner, "ticket_id": e.ticket, "seq": e.seq,
                         "kind": e.kind, "read": False, "at": utcnow()}
                    )  # fmt: skip
                if not rows:
                    return
                made = (
                    (await session.execute(insert(Notification).returning(Notification), rows))
                    .scalars()
                    .all()
                )
                pushes = [
                    bus.pack(
                        bus.agent_topic(n.agent_id),
                        bus.AgentPushMsg(
                            n.agent_id, {"type": "notification", "notification": view(n)}
                        ),
                    )
                    for n in made
                ]
            self._broker.publish(pushes)
        except Exception:
            log.exception("notifications failed")

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)


async def list_for(
    session: AsyncSession, agent_id: int, unread: bool, cursor: int | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    query = select(Notification).where(Notification.agent_id == agent_id)
    if unread:
        query = query.where(Notification.read.is_(False))
    if cursor is not None:
        query = query.where(Notification.id < cursor)
    limit = max(1, min(limit, MAX_PAGE))
    rows = (
        (await session.execute(query.order_by(Notification.id.desc()).limit(limit + 1)))
        .scalars()
        .all()
    )
    page = rows[:limit]
    return [view(n) for n in page], (str(page[-1].id) if len(rows) > limit else None)


async def mark_read(session: AsyncSession, agent_id: int, notification_id: int) -> None:
    done = await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.agent_id == agent_id)
        .values(read=True)
    )
    if not done.rowcount:
        raise NotFound(f"no notification {notification_id} of yours")
