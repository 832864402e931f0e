"""Notifications: the assignee hears of anything someone else adds to their ticket.

Written in the writer's transaction, at commit, from the tickets as the transaction
leaves them (a claim notifies nobody: its author is the new assignee), with one
INSERT for the batch; the pushes go out after the commit with the batch's events.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from chatdesk.errors import NotFound
from chatdesk.realtime import bus
from chatdesk.services import timeline
from chatdesk.services.timeline import iso
from chatdesk.services.writer import IN_WRITER, PUBLISH_AFTER
from chatdesk.store import raw
from chatdesk.store.models_backoffice import Notification

log = logging.getLogger(__name__)
MAX_PAGE = 100
_TABLE = Notification.__table__


def view(n: Any) -> dict[str, Any]:
    return {
        "id": n.id,
        "ticket": n.ticket_id,
        "seq": n.seq,
        "kind": n.kind,
        "read": n.read,
        "at": iso(n.at),
    }


_PG_INSERT = """
INSERT INTO notifications (agent_id, ticket_id, seq, kind, read, at)
SELECT * FROM unnest($1::int[], $2::int[], $3::int[], $4::varchar[], $5::bool[],
                     $6::timestamptz[])
RETURNING id, ticket_id, seq
"""
_FIELDS = ("agent_id", "ticket_id", "seq", "kind", "read", "at")


def _is_pg(sync_session: Session) -> bool:
    return sync_session.get_bind().dialect.name == "postgresql"


_SQLITE_INSERT = "INSERT INTO notifications (agent_id, ticket_id, seq, kind, read, at) VALUES "
_SQLITE_RETURNING = " RETURNING id, ticket_id, seq"
_SQLITE_ROWS = 1000  # 6,000 values a statement, well under SQLite's limit


def _insert(sync_session: Session, rows: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
    # Plain SQL (store.raw): multi-row INSERTs; unordered RETURNING keeps each one
    # statement, and an event notifies one agent at most, so (ticket, seq) names a row.
    connection = sync_session.connection()
    at = raw.binder(_TABLE.c.at, connection.dialect)
    ids: dict[tuple[int, int], int] = {}
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start : start + _SQLITE_ROWS]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
        params = tuple(
            v
            for row in chunk
            for v in (row["agent_id"], row["ticket_id"], row["seq"], row["kind"], 0, at(row["at"]))
        )
        sql = _SQLITE_INSERT + values + _SQLITE_RETURNING
        ids.update({(r[1], r[2]): r[0] for r in connection.exec_driver_sql(sql, params)})
    return ids


# Ahead of the timeline's own flush at commit (insert=True): on PostgreSQL the
# batch's waiting events and its notifications then go in one statement.
@event.listens_for(Session, "before_commit", insert=True)
def _notify_before_commit(sync_session: Session) -> None:
    appended = sync_session.info.pop(timeline.APPENDED, None)
    if not appended or not sync_session.info.get(IN_WRITER):
        return
    rows = []
    for ticket, seq, kind, author_type, author_id, at in appended:
        owner = ticket.assignee_id
        if owner is None or (author_type == "agent" and author_id == owner):
            continue
        rows.append(
            {"agent_id": owner, "ticket_id": ticket.id, "seq": seq, "kind": kind,
             "read": False, "at": at}
        )  # fmt: skip
    if not rows:
        return
    if _is_pg(sync_session):
        columns = tuple([row[f] for row in rows] for f in _FIELDS)
        made = timeline.flush_with_notifications(sync_session, columns)
        if made is None:
            made = sync_session.connection().exec_driver_sql(_PG_INSERT, columns).all()
        ids = {(r[1], r[2]): r[0] for r in made}
    else:
        ids = _insert(sync_session, rows)
    pushes = sync_session.info.setdefault(PUBLISH_AFTER, [])
    for row in rows:
        made = SimpleNamespace(id=ids[(row["ticket_id"], row["seq"])], **row)
        frame = {"type": "notification", "notification": view(made)}
        agent = row["agent_id"]
        pushes.append(bus.pack(bus.agent_topic(agent), bus.AgentPushMsg(agent, frame)))


class Notifications:
    """Reading and marking an agent's notifications (writing them is the listener above)."""


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
