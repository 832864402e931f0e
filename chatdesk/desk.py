"""Everything one server process holds, built by the app's lifespan."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chatdesk.extensions import extensions
from chatdesk.jobs import Periodic
from chatdesk.ratelimit import Limiter, MemoryLimiter, RedisLimiter, Rules
from chatdesk.realtime.broker import Broker, MemoryBroker, RedisBroker
from chatdesk.realtime.hub import Hub
from chatdesk.realtime.presence import Presence
from chatdesk.realtime.protocol import set_attachment_url
from chatdesk.services.access import Access
from chatdesk.services.backoffice import Backoffice
from chatdesk.services.bulk import Bulk
from chatdesk.services.customer_profiles import CustomerProfiles
from chatdesk.services.customers import Customers
from chatdesk.services.files import Files, Signer
from chatdesk.services.masking import Masking
from chatdesk.services.notifications import Notifications
from chatdesk.services.sla_watch import SlaWatch
from chatdesk.services.tickets import Tickets
from chatdesk.services.writer import Writer
from chatdesk.settings import Settings
from chatdesk.store.db import RowReads, make_engine, make_sessionmaker, sqlite_connect_args
from chatdesk.store.sqlite_inline import Checkpointer

log = logging.getLogger(__name__)


def _begin_immediate(conn, *_args) -> None:  # type: ignore[no-untyped-def]
    # The writer's SQLite transactions take the write lock up front, so a second
    # process (or the CLI) waits on busy_timeout instead of failing on lock upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _no_implicit_tx(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None


def _sqlite_writes(engine: AsyncEngine) -> AsyncEngine:
    event.listen(engine.sync_engine, "connect", _no_implicit_tx)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


@dataclass
class Desk:
    settings: Settings
    engine: AsyncEngine
    write_engine: AsyncEngine
    writer_engine: AsyncEngine
    reads: async_sessionmaker[AsyncSession]
    writes: async_sessionmaker[AsyncSession]
    broker: Broker
    hub: Hub
    writer: Writer
    presence: Presence
    tickets: Tickets
    customers: Customers
    access: Access
    masking: Masking
    profiles: CustomerProfiles
    backoffice: Backoffice
    bulk: Bulk
    sla: SlaWatch
    notifications: Notifications
    files: Files
    signer: Signer
    connections: set = field(default_factory=set)
    demo_site_key: str | None = None
    limiter: Limiter = field(default_factory=MemoryLimiter)
    rules: Rules | None = None
    per_ip: dict[str, int] = field(default_factory=dict)
    ext: dict[str, Any] = field(default_factory=dict)
    jobs: list[Periodic] = field(default_factory=list)
    checkpointer: Checkpointer | None = None

    @classmethod
    async def open(cls, settings: Settings) -> Desk:
        engine = make_engine(settings)
        if settings.is_sqlite:
            write_engine = _sqlite_writes(make_engine(settings))
            # The writer's own: its statements run on the loop (store.sqlite_inline).
            writer_engine = _sqlite_writes(make_engine(settings, inline=True))
        else:
            write_engine = writer_engine = engine
        read_engine = engine
        if not settings.is_sqlite:
            # Reads outside a transaction: at READ COMMITTED every statement sees its
            # own snapshot anyway, and the BEGIN and ROLLBACK around each read
            # session were two of its three round trips (a visitor's hello has four).
            read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        reads = make_sessionmaker(read_engine)
        rows: RowReads = read_engine.connect
        writes = make_sessionmaker(write_engine)
        broker: Broker = (
            RedisBroker(settings.redis_url, settings.redis_prefix)
            if settings.redis_url
            else MemoryBroker()
        )
        hub = Hub()
        signer = Signer(hashlib.sha256(b"files:" + settings.secret_key.encode()).digest())
        set_attachment_url(signer.url)
        writer = Writer(make_sessionmaker(writer_engine), broker.publish, settings.writer_batch_max)
        presence = Presence(hub, broker.publish)
        desk = cls(
            settings=settings,
            engine=engine,
            write_engine=write_engine,
            writer_engine=writer_engine,
            reads=reads,
            writes=writes,
            broker=broker,
            hub=hub,
            writer=writer,
            presence=presence,
            tickets=Tickets(writer, reads, rows),
            customers=Customers(writer, reads, rows),
            access=Access(writer, reads),
            masking=Masking(writer, reads, settings.secret_key),
            profiles=CustomerProfiles(writer, reads),
            backoffice=Backoffice(writer, reads),
            bulk=Bulk(writer, reads),
            sla=SlaWatch(writer, reads),
            notifications=Notifications(),
            files=Files(settings.uploads_dir, settings.max_upload_mb * 2**20),
            signer=signer,
        )
        if settings.redis_url:
            desk.limiter = RedisLimiter(settings.redis_url, settings.redis_prefix)
        desk.rules = settings.rules()
        await broker.start(hub.deliver, hub.resync)
        writer.start()
        if settings.is_sqlite:
            desk.checkpointer = Checkpointer(*sqlite_connect_args(settings.database_url))
            desk.checkpointer.start()
        presence.start()
        desk.jobs.append(
            Periodic(writes, "sla", settings.sla_check_s, desk.sla.check_breaches_quietly)
        )
        for job in desk.jobs:
            job.start()
        for cls in extensions():
            feature = cls(desk)
            desk.ext[cls.name] = feature
            await feature.start()
        return desk

    async def close(self) -> None:
        for feature in reversed(list(self.ext.values())):
            try:
                await feature.stop()
            except Exception:
                log.exception("stopping %s failed", feature.name)
        for job in self.jobs:
            await job.stop()
        await self.presence.stop()
        await self.writer.stop()
        if self.checkpointer is not None:
            await self.checkpointer.stop()
        await self.broker.close()
        await self.limiter.close()
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
        if self.writer_engine is not self.engine:
            await self.writer_engine.dispose()

    async def database_ok(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("database check failed: %s", type(exc).__name__)
            return False
