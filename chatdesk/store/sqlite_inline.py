"""SQLite connections for the writer that run their statements on the event loop.

aiosqlite sends every call (cursor, execute, fetch, close) to the connection's own
thread and waits for the answer: four or so thread hops per statement, twenty to
thirty per writer batch, each a wake-up of the loop through its self-pipe and a
hand-over of the GIL. That, not SQLite, was most of a batch's cost (3 ms of CPU for a
batch of one message, 1.2 ms without the hops). The writer's statements are small
and bounded (a batch's rows, found by primary key), so they run inline here, and
the two things that can take long go to the thread as before:

- waiting for another process's write lock: inline calls run with busy_timeout 0,
  and one refused as busy is run again in the thread, where it may wait;
- COMMIT, where SQLite checkpoints the WAL into the database file with an fsync.

Only the writer uses these (see ``store.db.make_engine``); every other session,
some of whose reads scan many rows, keeps aiosqlite's thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 10_000


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # not from SQLite itself
        return False
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class InlineConnection(aiosqlite.Connection):
    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        # Refused before it changed anything: wait for the lock in the thread.
        return await super()._execute(self._waiting, fn, *args, **kwargs)

    def _waiting(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        connection = self._conn
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return fn(*args, **kwargs)
        finally:
            connection.execute("PRAGMA busy_timeout=0")

    async def commit(self) -> None:
        # The WAL checkpoint (and its fsync) runs in the committing call.
        await super()._execute(self._waiting, self._conn.commit)


def connect(*args: Any, **kwargs: Any) -> InlineConnection:
    """Like ``aiosqlite.connect`` (the caller awaits it) with sqlite3's arguments."""
    # check_same_thread must be off: opened in aiosqlite's thread, used on the loop's.
    kwargs["check_same_thread"] = False
    return InlineConnection(lambda: sqlite3.connect(*args, **kwargs), iter_chunk_size=64)


def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
    """A connect listener, after the pragmas: inline calls must never sleep on a lock."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()
