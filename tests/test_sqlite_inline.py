"""The SQLite writer's inline connections (store/sqlite_inline.py) on a real database file."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from chatdesk.store import sqlite_inline


async def test_a_call_after_an_abandoned_busy_wait_runs_behind_it(tmp_path):
    """A BEGIN that waits for another process's lock goes to the connection's thread.
    If its caller gives up (a cancelled batch), the rollback that follows must run
    after it there, not before it on the loop: otherwise the BEGIN lands afterwards
    and the connection goes back to the pool holding the database's write lock."""
    path = str(tmp_path / "x.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x INTEGER)")
    connection = await sqlite_inline.connect(path, isolation_level=None)
    await connection.execute("PRAGMA busy_timeout=0")
    holder.execute("BEGIN IMMEDIATE")
    begin = asyncio.create_task(connection.execute("BEGIN IMMEDIATE"))
    await asyncio.sleep(0.2)
    assert not begin.done()  # waiting for the lock, in the thread
    begin.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await begin
    rollback = asyncio.create_task(connection.rollback())
    await asyncio.sleep(0.1)
    holder.execute("ROLLBACK")
    await asyncio.wait_for(rollback, 10)
    # The abandoned BEGIN ran, then the rollback: nothing is held any more.
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()
    assert not connection._conn.in_transaction
    await connection.close()
    holder.close()
