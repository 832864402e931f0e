"""Whether a visitor has the widget open, known to every process through the database.

Each process counts its own visitor sockets and writes, for the customers that
changed and every ``heartbeat_s`` for all it holds, ``connected`` and
``last_seen_at`` in ``mail_presence``. A row not refreshed for three heartbeats
is stale (its process died), so the visitor counts as gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.store.models import utcnow
from chatdesk.store.models_mail import MailPresence

log = logging.getLogger(__name__)

CHUNK = 500
SETTLE_S = 0.1  # a burst of connects and leaves is written in one transaction


def aware(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes; chatdesk stores UTC.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


class VisitorPresence:
    def __init__(self, writes: async_sessionmaker[AsyncSession], delay_s: float) -> None:
        self._writes = writes
        self.heartbeat_s = min(max(delay_s / 3, 1.0), 30.0)
        self._count: dict[int, int] = {}
        self._left: set[int] = set()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mail-presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            # Say goodbye for every visitor of this process, so mail is not held back.
            self._left |= set(self._count)
            self._count.clear()
            await self.flush()

    def connected(self, customer_id: int) -> None:
        self._count[customer_id] = self._count.get(customer_id, 0) + 1
        self._left.discard(customer_id)
        self._changed.set()

    def left(self, customer_id: int) -> None:
        n = self._count.get(customer_id, 0) - 1
        if n > 0:
            self._count[customer_id] = n
            return
        self._count.pop(customer_id, None)
        self._left.add(customer_id)
        self._changed.set()

    def here(self, customer_id: int) -> bool:
        return customer_id in self._count

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.heartbeat_s)
            await asyncio.sleep(SETTLE_S)
            self._changed.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("visitor presence not written; retrying", exc_info=True)

    async def flush(self) -> None:
        now = utcnow()
        left, self._left = self._left, set()
        here = list(self._count)
        rows = [(c, True) for c in here] + [(c, False) for c in left if c not in self._count]
        try:
            for i in range(0, len(rows), CHUNK):
                await self._write(rows[i : i + CHUNK], now)
        except Exception:
            self._left |= left  # try the goodbyes again next round
            raise

    async def _write(self, rows: list[tuple[int, bool]], now: datetime) -> None:
        async with self._writes() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            values = [{"customer_id": c, "connected": on, "last_seen_at": now} for c, on in rows]
            stmt = insert(MailPresence).values(values)
            stmt = stmt.on_conflict_do_update(
                index_elements=[MailPresence.customer_id],
                set_={"connected": stmt.excluded.connected, "last_seen_at": now},
            )
            await session.execute(stmt)


async def gone_since(
    session: AsyncSession, customer_id: int, heartbeat_s: float
) -> datetime | None:
    """Since when the customer has had no widget open anywhere; None while they have."""
    row = await session.get(MailPresence, customer_id, populate_existing=True)
    if row is None:
        return datetime.fromtimestamp(0, UTC)  # never opened the widget (an e-mail customer)
    seen = aware(row.last_seen_at)
    if row.connected and seen > utcnow() - timedelta(seconds=3 * heartbeat_s):
        return None
    return seen
