"""SQLite connections for the writer that run their statements on the event loop.

aiosqlite sends every call (cursor, execute, fetch, close) to the connection's own
thread and waits for the answer: four or so thread hops per statement, twenty to
thirty per writer batch, each a wake-up of the loop through its self-pipe and a
hand-over of the GIL (which, while the loop is busy, the thread waits for up to the
5 ms switch interval). That, not SQLite, was most of a batch's cost (3 ms of CPU for
a batch of one message, 1.2 ms without the hops). The writer's statements are small
and bounded (a batch's rows, found by primary key), so they run inline here, and
what can take long does not:

- waiting for another process's write lock: inline calls run with busy_timeout 0,
  and one refused as busy is run again in the thread, where it may wait;
- checkpointing the WAL into the database file (with an fsync), which SQLite does
  in whichever COMMIT fills the WAL: these connections never checkpoint
  (wal_autocheckpoint 0); a ``Checkpointer`` does it every second in a thread.

With synchronous=NORMAL a COMMIT in WAL mode appends to the WAL without an fsync.
Only the writer uses these (see ``store.db.make_engine``); every other session,
some of whose reads scan many rows, keeps aiosqlite's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # not from SQLite itself
        return False
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        # SQLAlchemy makes aiosqlite's thread a daemon only for connections it opens
        # itself; one left open must not keep the process from exiting.
        self._thread.daemon = True
        # Calls sent to the thread and not finished there yet. While any is, every
        # call goes to the thread too, behind it: one left running by a cancelled
        # caller (a rollback after a BEGIN still waiting for the lock, say) must not
        # be overtaken by a call on the loop.
        self._in_thread = 0

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if not self._in_thread:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
        # Refused before it changed anything (or the thread is busy): in the thread,
        # where it may wait for the lock.
        loop = asyncio.get_running_loop()
        self._in_thread += 1

        def finished() -> None:
            self._in_thread -= 1

        def waiting() -> Any:
            connection = self._conn
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            try:
                return fn(*args, **kwargs)
            finally:
                connection.execute("PRAGMA busy_timeout=0")
                loop.call_soon_threadsafe(finished)

        return await super()._execute(waiting)


def connect(*args: Any, **kwargs: Any) -> InlineConnection:
    """Like ``aiosqlite.connect`` (the caller awaits it) with sqlite3's arguments."""
    # check_same_thread must be off: opened in aiosqlite's thread, used on the loop's.
    kwargs["check_same_thread"] = False
    return InlineConnection(lambda: sqlite3.connect(*args, **kwargs), iter_chunk_size=64)


def inline_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """A connect listener, after the others: inline calls never sleep on a lock, and
    commits never checkpoint (the Checkpointer does)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class Checkpointer:
    """Copies the WAL into the database file every ``period_s``, in a thread.

    PASSIVE: it never waits for or blocks readers and writers; what it cannot copy
    yet (a reader still needs it) goes next time. One per process; several
    processes' checkpoints simply take turns. ``args`` and ``kwargs`` are
    ``sqlite3.connect``'s, as SQLAlchemy makes them from the database URL.
    """

    def __init__(self, args: Sequence[Any], kwargs: dict[str, Any], period_s: float = 1.0) -> None:
        self._args = tuple(args)
        self._kwargs = {**kwargs, "check_same_thread": False}  # the executor's threads
        self.period_s = period_s
        self._db: sqlite3.Connection | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="sqlite-checkpoint")

    async def stop(self) -> None:
        """A last checkpoint after the one in progress, if any, then close."""
        if self._task is not None:
            self._stopping.set()
            await self._task  # never cancelled: a checkpoint's thread cannot be
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._checkpoint)
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.period_s)
                return
            try:
                await asyncio.to_thread(self._checkpoint)
            except Exception as exc:  # a full disk, say: the WAL grows; say so, go on
                log.warning("WAL checkpoint failed: %s: %s", type(exc).__name__, exc)

    def _checkpoint(self) -> None:
        # One call at a time: the loop awaits each before the next.
        if self._db is None:
            self._db = sqlite3.connect(*self._args, **self._kwargs)
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.runs += 1
