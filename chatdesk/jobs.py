"""Periodic jobs that run once per period even with many processes.

Every process wakes up on the same schedule; the first to insert the (job, slot)
row runs the job, the others see the unique key taken and skip. Works the same on
SQLite and PostgreSQL, and a crashed run simply waits for the next slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.store.models import JobRun, utcnow

log = logging.getLogger(__name__)


async def claim_slot(sessions: async_sessionmaker[AsyncSession], job: str, slot: int) -> bool:
    """True for exactly one caller per (job, slot), whichever process it is in."""
    try:
        async with sessions() as session, session.begin():
            await session.execute(insert(JobRun).values(job=job, slot=slot, at=utcnow()))
        return True
    except IntegrityError:
        return False


class Periodic:
    """Runs ``work`` every ``period_s`` seconds in one process of all."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        job: str,
        period_s: float,
        work: Callable[[], Awaitable[None]],
    ) -> None:
        self._sessions = sessions
        self.job = job
        self.period_s = period_s
        self._work = work
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"job-{self.job}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_now(self) -> bool:
        """Try this period's slot now; returns whether this process ran the job."""
        slot = int(time.time() // self.period_s)
        if not await claim_slot(self._sessions, self.job, slot):
            return False
        await self._work()
        self.runs += 1
        return True

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s failed", self.job)
            left = self.period_s - (time.time() % self.period_s)
            await asyncio.sleep(left + 0.05)
