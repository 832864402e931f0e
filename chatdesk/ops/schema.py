"""The live schema as the database has it, for code that must see every table.

Erasure, retention and backups act on tables other features add too, without
importing their models: they reflect what the migrations created. Full-text
index tables of SQLite (FTS5 virtual tables and their shadow tables) are left
out: they are derived from their content tables and rebuilt by triggers.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

SKIP = {"alembic_version"}
_cache: dict[str, MetaData] = {}


def virtual_tables(conn: Connection) -> list[tuple[str, str]]:
    """SQLite virtual tables: (name, create statement)."""
    if conn.dialect.name != "sqlite":
        return []
    rows = conn.execute(
        text(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'"
        )
    )
    return [(r[0], r[1] or "") for r in rows]


def table_names(conn: Connection) -> list[str]:
    names = inspect(conn).get_table_names()
    virtual = [name for name, _ in virtual_tables(conn)]
    return [
        n
        for n in names
        if n not in SKIP
        and not n.startswith("sqlite_")
        and not any(n == v or n.startswith(v + "_") for v in virtual)
    ]


def reflect(conn: Connection) -> MetaData:
    meta = MetaData()
    meta.reflect(conn, only=table_names(conn))
    return meta


def fts_tables(conn: Connection) -> list[str]:
    return [name for name, sql in virtual_tables(conn) if "fts5" in sql.lower()]


async def metadata(where: AsyncSession | AsyncConnection) -> MetaData:
    """The reflected schema, once per database per process (migrations run before serving)."""

    def load(sync: Any) -> MetaData:
        conn = sync if isinstance(sync, Connection) else sync.connection()
        key = str(conn.engine.url)
        if key not in _cache:
            _cache[key] = reflect(conn)
        return _cache[key]

    return await where.run_sync(load)


def plain(value: Any) -> Any:
    """A stored value as JSON can carry it (times in UTC ISO 8601, bytes in base64)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value
