"""Prometheus metrics of one server process, in a registry of its own.

Counters the core keeps already (writer batches, broker reconnects, open
connections, pool use) are read at scrape time by a collector; only what cannot
be read afterwards (latencies, events committed) is observed as it happens.
A registry per Desk, never the global default, so several desks in one Python
process (tests) do not collide.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import column, event, func, select, table
from sqlalchemy import inspect as sa_inspect

from chatdesk.realtime.protocol import TicketEvent

if TYPE_CHECKING:
    from chatdesk.desk import Desk

log = logging.getLogger(__name__)

CHANNELS = ("visitor", "agent")
FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Outbound queues other features keep in tables: what a waiting row looks like, by the
# columns it has (read only when the table exists; a feature may instead offer a
# ``queue_length()`` of its own).
QUEUE_TABLES = {
    "webhook": ("webhook_deliveries", {"delivered_at": None, "next_attempt_at": "not null"}),
    "mail": ("mail_outbox", {"status": ("queued", "sending"), "sent_at": None}),
}
QUEUE_REFRESH_S = 5.0


def channel_kind(channel: Any) -> str:
    """visitor or agent, from the socket's path (/ws/visitor, /ws/agent)."""
    path = str(getattr(channel.websocket, "scope", {}).get("path", ""))
    return path.rsplit("/", 1)[-1] or "unknown"


class Metrics:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "chatdesk_events_stored", "Timeline events committed by this process", ["kind"],
            registry=r,
        )  # fmt: skip
        self.messages = Counter(
            "chatdesk_messages_stored", "Messages committed by this process, by author type",
            ["author"], registry=r,
        )  # fmt: skip
        self.ack = Histogram(
            "chatdesk_ack_seconds", "From a command frame read to its ok/error queued",
            ["channel", "frame"], buckets=FAST, registry=r,
        )  # fmt: skip
        self.push = Histogram(
            "chatdesk_push_latency_seconds", "From an event's store time to its push to a socket",
            ["channel"], buckets=FAST, registry=r,
        )  # fmt: skip
        self.batch = Histogram(
            "chatdesk_writer_batch_seconds", "Time to run and commit one writer batch",
            buckets=FAST, registry=r,
        )  # fmt: skip
        self.batch_ops = Histogram(
            "chatdesk_writer_batch_operations", "Operations per committed writer batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=r,
        )  # fmt: skip
        self.query = Histogram(
            "chatdesk_db_query_seconds", "Database statement time", ["engine"],
            buckets=FAST, registry=r,
        )  # fmt: skip
        self.broker_lag = Histogram(
            "chatdesk_broker_publish_lag_seconds",
            "From a publish call to Redis accepting the batch", buckets=FAST, registry=r,
        )  # fmt: skip
        self.slow_closes = Counter(
            "chatdesk_slow_consumer_closes", "Sockets closed with 1013 for reading too slowly",
            ["channel"], registry=r,
        )  # fmt: skip
        self.http = Counter(
            "chatdesk_http_requests", "HTTP requests answered", ["method", "status"], registry=r
        )
        self.http_time = Histogram(
            "chatdesk_http_request_seconds", "HTTP request time", ["method"],
            buckets=FAST, registry=r,
        )  # fmt: skip
        self.queues = Gauge(
            "chatdesk_outbound_queue", "Webhook deliveries and mails waiting to go out",
            ["queue"], registry=r,
        )  # fmt: skip
        for name in QUEUE_TABLES:
            self.queues.labels(name).set(0)
        for kind in CHANNELS:
            self.slow_closes.labels(kind)
            self.push.labels(kind)
        self._queues_at = 0.0
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._stored_at: tuple[str, float] = ("", 0.0)
        self._queue_sources: dict[str, tuple[str, str]] | None = None
        r.register(_Live(desk))
        self._listeners: list[tuple[Any, str, Any]] = []

    # ---------------------------------------------------------------- wiring

    def attach(self) -> None:
        """Hook the engines' statement timing and the writer's and broker's probes."""
        d = self.desk
        engines = _engines(d)
        for engine, label in engines:
            target = engine.sync_engine
            for name, fn in (
                ("before_cursor_execute", _started),
                ("after_cursor_execute", _finished(self.query.labels(label))),
            ):
                event.listen(target, name, fn)
                self._listeners.append((target, name, fn))
        if hasattr(d.writer, "on_batch"):
            d.writer.on_batch = self.batch_done
        if hasattr(d.broker, "on_publish_lag"):
            d.broker.on_publish_lag = self.broker_lag.observe

    def _child(self, metric: Any, *labels: str) -> Any:
        # labels() takes a lock and builds a key on every call, and these run for
        # every frame and push: a hundred watchers of one event are a hundred calls.
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def committed(self, events: list[TicketEvent]) -> None:
        for e in events:
            self._child(self.events, e.kind).inc()
            if e.kind == "message":
                self._child(self.messages, e.author.type).inc()

    def batch_done(self, operations: int, seconds: float) -> None:
        self.batch.observe(seconds)
        self.batch_ops.observe(operations)

    def ack_observed(self, channel: str, frame: str, seconds: float) -> None:
        self._child(self.ack, channel, frame).observe(seconds)

    def push_observed(self, channel: str, stored_at: str) -> None:
        # One event reaches many sockets in a row: parse its time once.
        last, at = self._stored_at
        if stored_at != last:
            try:
                at = datetime.fromisoformat(stored_at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return
            self._stored_at = (stored_at, at)
        self._child(self.push, channel).observe(max(0.0, time.time() - at))

    def slow_closed(self, channel: str) -> None:
        self._child(self.slow_closes, channel).inc()

    # ---------------------------------------------------------------- scraping

    async def render(self) -> bytes:
        await self._refresh_queues()
        return generate_latest(self.registry)

    async def _refresh_queues(self) -> None:
        """Queue lengths need a query: at most every few seconds, whoever scrapes."""
        now = time.monotonic()
        if now - self._queues_at < QUEUE_REFRESH_S:
            return
        self._queues_at = now
        for name in QUEUE_TABLES:
            try:
                self.queues.labels(name).set(await self._queue_length(name))
            except Exception as exc:  # a scrape must not fail because one table is odd
                log.warning("reading the %s queue failed: %s", name, type(exc).__name__)

    async def _queue_length(self, name: str) -> int:
        feature = self.desk.ext.get(name) or self.desk.ext.get(name + "s")
        counter = getattr(feature, "queue_length", None)
        if counter is not None:
            value = counter()
            return int(await value if inspect.isawaitable(value) else value)
        if self._queue_sources is None:
            self._queue_sources = await self._find_queue_tables()
        where = self._queue_sources.get(name)
        if where is None:
            return 0
        tbl, conds = where
        async with self.desk.reads() as session:
            count = await session.scalar(select(func.count()).select_from(tbl).where(*conds))
        return int(count or 0)

    async def _find_queue_tables(self) -> dict[str, tuple[Any, list[Any]]]:
        def scan(conn: Any) -> dict[str, tuple[Any, list[Any]]]:
            insp = sa_inspect(conn)
            names = set(insp.get_table_names())
            found: dict[str, tuple[Any, list[Any]]] = {}
            for queue, (name, rules) in QUEUE_TABLES.items():
                if name not in names:
                    continue
                columns = {c["name"] for c in insp.get_columns(name)}
                conds: list[Any] = []
                for col, rule in rules.items():
                    if col not in columns:
                        continue
                    if rule is None:
                        conds.append(column(col).is_(None))
                    elif rule == "not null":
                        conds.append(column(col).is_not(None))
                    else:
                        conds.append(column(col).in_(rule))
                if conds:
                    found[queue] = (table(name), conds)
            return found

        async with self.desk.engine.connect() as conn:
            return await conn.run_sync(scan)

    def detach(self) -> None:
        for target, name, fn in self._listeners:
            if event.contains(target, name, fn):
                event.remove(target, name, fn)
        self._listeners.clear()


def _started(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
    if context is not None:
        context._chatdesk_t0 = time.perf_counter()


def _finished(timer: Any) -> Any:
    def after(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
        t0 = getattr(context, "_chatdesk_t0", None)
        if t0 is not None:
            timer.observe(time.perf_counter() - t0)

    return after


class _Live(Collector):
    """Reads what the core counts anyway, at scrape time."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def collect(self) -> Iterator[Metric]:
        d = self.desk
        open_ = GaugeMetricFamily(
            "chatdesk_connections_open", "Open WebSocket connections", labels=["channel"]
        )
        queued = GaugeMetricFamily(
            "chatdesk_send_queue_items", "Frames waiting in send queues", labels=["channel"]
        )
        longest = GaugeMetricFamily(
            "chatdesk_send_queue_max_items", "The longest send queue (slowest reader)",
            labels=["channel"],
        )  # fmt: skip
        counts = dict.fromkeys(CHANNELS, 0)
        totals = dict.fromkeys(CHANNELS, 0)
        maxima = dict.fromkeys(CHANNELS, 0)
        for channel in list(d.connections):
            kind = channel_kind(channel)
            backlog = _backlog(channel.conn)
            counts[kind] = counts.get(kind, 0) + 1
            totals[kind] = totals.get(kind, 0) + backlog
            maxima[kind] = max(maxima.get(kind, 0), backlog)
        for kind in counts:
            open_.add_metric([kind], counts[kind])
            queued.add_metric([kind], totals[kind])
            longest.add_metric([kind], maxima[kind])
        yield open_
        yield queued
        yield longest
        yield CounterMetricFamily(
            "chatdesk_writer_batches", "Writer batches committed", value=d.writer.batches
        )
        yield CounterMetricFamily(
            "chatdesk_writer_operations", "Writer operations committed", value=d.writer.operations
        )
        yield GaugeMetricFamily(
            "chatdesk_writer_waiting", "Operations waiting for the writer",
            value=_waiting(d.writer),
        )  # fmt: skip
        broker = d.broker
        yield GaugeMetricFamily(
            "chatdesk_broker_healthy", "1 when the broker subscription is live",
            value=1 if broker.healthy else 0,
        )  # fmt: skip
        yield CounterMetricFamily(
            "chatdesk_broker_reconnects", "Broker subscriptions restored after a loss",
            value=getattr(broker, "reconnects", 0),
        )  # fmt: skip
        yield CounterMetricFamily(
            "chatdesk_broker_dropped", "Bus messages that could not be published",
            value=getattr(broker, "dropped", 0),
        )  # fmt: skip
        yield GaugeMetricFamily(
            "chatdesk_broker_outbox", "Bus messages waiting to be published",
            value=getattr(broker, "outbox", 0),
        )  # fmt: skip
        yield GaugeMetricFamily(
            "chatdesk_hub_topics",
            "Topics with local subscribers",
            value=len(getattr(d.hub, "_topics", ())),
        )
        size = GaugeMetricFamily(
            "chatdesk_db_pool_size", "Connections the pool keeps", labels=["engine"]
        )
        used = GaugeMetricFamily(
            "chatdesk_db_pool_checked_out", "Pool connections in use", labels=["engine"]
        )
        engines = _engines(d)
        for engine, label in engines:
            pool = engine.pool
            size.add_metric([label], _call(pool, "size"))
            used.add_metric([label], _call(pool, "checkedout"))
        yield size
        yield used


def _call(pool: Any, name: str) -> float:
    fn = getattr(pool, name, None)
    try:
        return float(fn()) if fn is not None else 0.0
    except Exception:
        return 0.0


def _backlog(conn: Any) -> int:
    value = getattr(conn, "backlog", None)
    if isinstance(value, int):
        return value
    queue = getattr(conn, "_queue", None)
    return queue.qsize() if queue is not None else 0


def _waiting(writer: Any) -> int:
    value = getattr(writer, "waiting", None)
    if isinstance(value, int):
        return value
    queue = getattr(writer, "_queue", None)
    return queue.qsize() if queue is not None else 0


def _engines(desk: Desk) -> list[tuple[Any, str]]:
    """Each engine once, by role: on PostgreSQL one engine does everything."""
    engines = [(desk.engine, "read")]
    if desk.write_engine is not desk.engine:
        engines.append((desk.write_engine, "write"))
    if desk.writer_engine is not desk.engine:
        engines.append((desk.writer_engine, "writer"))
    return engines
