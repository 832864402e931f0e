"""Straight to a test desk's database: look at every table, or move a time back.

Runs in a thread of its own, so async tests may call it while their loop runs.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.servers import Backend


def url(backend: Backend) -> str:
    return backend.database_url or f"sqlite+aiosqlite:///{backend.data_dir / 'chatdesk.db'}"


def _run(backend: Backend, work: Any) -> Any:
    async def go() -> Any:
        engine = create_async_engine(url(backend))
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def sql(backend: Backend, statement: str, **params: Any) -> Any:
    """Rows of a query, or the rowcount of a change; datetimes bind as UTC times."""
    query = text(statement)
    for name, value in params.items():
        if isinstance(value, datetime):
            query = query.bindparams(bindparam(name, type_=DateTime(timezone=True)))

    async def work(conn: Any) -> Any:
        result = await conn.execute(query, params)
        return result.all() if result.returns_rows else result.rowcount

    return _run(backend, work)


def everything(backend: Backend) -> dict[str, str]:
    """Every table's rows as text (index and FTS shadow tables included), by table."""

    async def work(conn: Any) -> dict[str, str]:
        if conn.dialect.name == "sqlite":
            names = (
                (await conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")))
                .scalars()
                .all()
            )
        else:
            names = (
                (
                    await conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
                    )
                )
                .scalars()
                .all()
            )
        out = {}
        for name in names:
            rows = (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()
            parts = []
            for row in rows:
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(str(value))
            out[name] = "\n".join(parts)
        return out

    return _run(backend, work)
