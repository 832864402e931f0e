"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from chatdesk.settings import Settings
from chatdesk.store import sqlite_inline


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; NORMAL sync is durable in WAL
    # across process crashes (only an OS crash can lose the last commits).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def sqlite_connect_args(database_url: str) -> tuple[list[Any], dict[str, Any]]:
    """``sqlite3.connect``'s arguments for a SQLite URL, as SQLAlchemy makes them
    (a ``file:`` URI with ``uri=true`` among them)."""
    url = make_url(database_url)
    dialect = create_async_engine(url).dialect  # builds no connection
    cargs, cparams = dialect.create_connect_args(url)
    return list(cargs), dict(cparams)


def make_engine(settings: Settings, inline: bool = False) -> AsyncEngine:
    """The engine for the settings' database. ``inline`` (SQLite only, for the writer):
    statements run on the event loop, not in aiosqlite's thread (store.sqlite_inline)."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"pool_size": settings.db_pool_size}
        if inline:
            cargs, cparams = sqlite_connect_args(settings.database_url)

            async def creator() -> Any:
                return await sqlite_inline.connect(*cargs, **cparams)

            options = {"pool_size": 2, "async_creator": creator}
        engine = create_async_engine(settings.database_url, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if inline:
            event.listen(engine.sync_engine, "connect", sqlite_inline.inline_pragmas)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        # No pre-ping: it costs BEGIN/ROLLBACK on every checkout, the bench's largest
        # waste. A connection found dead fails its call as `unavailable` (clients
        # retry) and is replaced; recycling bounds how stale an idle one gets.
        pool_pre_ping=False,
        pool_recycle=300,
        pool_timeout=5,
        # A database that stops answering must fail calls (503, retried by clients)
        # within seconds, not hold sockets and the writer for a minute.
        connect_args={"timeout": 3, "command_timeout": 15},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


# Opens a connection for reads of plain rows (Core statements, no ORM objects). A
# session's set-up and teardown cost more CPU than a hello's statements themselves
# (0.45 against 0.34 ms for a visitor found by token, in-process on PostgreSQL).
RowReads = Callable[[], AsyncConnection]
