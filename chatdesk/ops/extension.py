"""The "ops" feature: metrics, the audit hook, erasure and session kicks, retention.

Reached as ``desk.ext["ops"]``. The channels call its probes (observe_ack,
observe_push, slow_closed) when it runs; the writer tells it what committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import insert

from chatdesk.jobs import Periodic
from chatdesk.ops import audit, exporter, retention
from chatdesk.ops.metrics import Metrics
from chatdesk.ops.privacy import ERASED_TOPIC, Privacy
from chatdesk.realtime import bus
from chatdesk.realtime.connection import UNAUTHORIZED
from chatdesk.realtime.protocol import TicketEvent
from chatdesk.services.writer import Outcome
from chatdesk.store.models_ops import AuditEntry

if TYPE_CHECKING:
    from chatdesk.desk import Desk

log = logging.getLogger(__name__)

# Process-level topic: a revoked session's sockets close on every process.
SESSION_TOPIC = "ops:session"


class Ops:
    name: ClassVar[str] = "ops"

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.metrics = Metrics(desk)
        self.privacy = Privacy(desk)
        self.retention: Periodic | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        d = self.desk
        self.metrics.attach()
        d.writer.after_commit.append(self._committed)
        d.hub.listen(ERASED_TOPIC, self._erased)
        d.hub.listen(SESSION_TOPIC, self._revoked)
        days = d.settings.retention_days
        if days:
            self.retention = Periodic(
                d.writes, "retention", retention.PERIOD_S, lambda: self._purge(days)
            )
            self.retention.start()
        if d.settings.metrics_port:
            self._server = await exporter.serve(
                d.settings.metrics_host, d.settings.metrics_port, self.metrics.render
            )

    async def stop(self) -> None:
        if self.retention is not None:
            await self.retention.stop()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        self.metrics.detach()

    def spawn(self, coro: Any) -> None:
        """Run a coroutine beside requests, kept referenced until it ends."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("background work failed: %s", type(exc).__name__)

    # ---------------------------------------------------------------- probes

    def observe_ack(self, channel: str, frame: str, seconds: float) -> None:
        self.metrics.ack_observed(channel, frame, seconds)

    def observe_push(self, channel: str, stored_at: str) -> None:
        self.metrics.push_observed(channel, stored_at)

    def slow_closed(self, channel: str) -> None:
        self.metrics.slow_closed(channel)

    # ---------------------------------------------------------------- hooks

    def _committed(self, events: list[TicketEvent]) -> None:
        self.metrics.committed(events)
        rows = audit.from_events(events)
        if rows:
            self.spawn(self._append_audit(rows))

    async def _append_audit(self, rows: list[dict[str, Any]]) -> None:
        async def op(session: Any) -> Outcome:
            await session.execute(insert(AuditEntry), rows)
            return Outcome()

        try:
            await self.desk.writer.run(op)
        except Exception as exc:
            log.error("audit entries for access decisions were lost: %s", type(exc).__name__)

    def _erased(self, msg: bus.BusMessage) -> None:
        """An erased customer's visitor sockets close, whichever process holds them."""
        if isinstance(msg, bus.KickMsg):
            for channel in list(self.desk.connections):
                visitor = getattr(channel, "visitor", None)
                if visitor is not None and visitor.customer_id == msg.agent_id:
                    channel.conn.close_soon(UNAUTHORIZED, "erased")

    def _revoked(self, msg: bus.BusMessage) -> None:
        if isinstance(msg, bus.KickMsg):
            for channel in list(self.desk.connections):
                agent = getattr(channel, "agent", None)
                if agent is not None and agent.token_id == msg.agent_id:
                    channel.conn.close_soon(UNAUTHORIZED, "session revoked")

    def revoke_sockets(self, token_id: int) -> None:
        self.desk.broker.publish([bus.pack(SESSION_TOPIC, bus.KickMsg(token_id))])

    async def _purge(self, days: int) -> None:
        await retention.purge(self.desk, days)
