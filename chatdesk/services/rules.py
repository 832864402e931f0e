"""The "rules" extension: triggers, round robin, auto-close, webhooks and CSAT requests.

Its after-commit hook sees every batch of events this process committed. It only
hands them to in-process inboxes (never waits), so chats are not slowed; each
inbox has one task that works through its batches in commit order:

- rules: a visitor `message` runs the message_created triggers (and, as seq 1,
  the ticket_created ones first); a ticket left in a round-robin group without an
  assignee is routed; any status or assignment change may free room, so waiting
  chats are offered again;
- webhooks: deliveries are queued for every active webhook that wants the event.

A solve asks the visitor for a rating at once (``csat_request`` on the ticket's topic).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar

from chatdesk.jobs import Periodic
from chatdesk.realtime import bus
from chatdesk.realtime.protocol import TicketEvent
from chatdesk.services import csat
from chatdesk.services.routing import Router
from chatdesk.services.rules_autoclose import AutoClose
from chatdesk.services.rules_delivery import Sender
from chatdesk.services.rules_engine import Engine
from chatdesk.services.rules_system import SystemNotes
from chatdesk.services.rules_webhook_queue import Queue

if TYPE_CHECKING:
    from chatdesk.desk import Desk

log = logging.getLogger(__name__)
INBOX_MAX = 10_000  # batches; beyond this the process is far behind and drops with a log


class Inbox:
    """Committed batches waiting for one consumer task, handled strictly in order."""

    def __init__(self, name: str, handle: Callable[[list[TicketEvent]], Awaitable[None]]) -> None:
        self.name = name
        self._handle = handle
        self._queue: asyncio.Queue[list[TicketEvent]] = asyncio.Queue(INBOX_MAX)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def put(self, events: list[TicketEvent]) -> None:
        try:
            self._queue.put_nowait(events)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("%s inbox full: %d event(s) not handled", self.name, len(events))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"rules-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            events = await self._queue.get()
            try:
                await self._handle(events)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: handling committed events failed", self.name)


class RulesExtension:
    name: ClassVar[str] = "rules"

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        s = desk.settings
        self.notes = SystemNotes(desk.writer, desk.reads)
        self.engine = Engine(desk, self.notes)
        self.router = Router(desk.writer, desk.reads, desk.presence)
        self.autoclose = AutoClose(desk.writer, desk.reads, s.autoclose_days)
        self.autoclose_job = Periodic(desk.writes, "autoclose", s.autoclose_check_s, self._close)
        self.webhooks = Queue(desk.reads, desk.writes)
        self.sender = Sender(desk.reads, desk.writes, s.webhook_backoff_s, s.webhook_attempts)
        self._rules = Inbox("rules", self._on_rules)
        self._hooks = Inbox("webhooks", self._on_webhooks)
        self._routing_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.desk.writer.after_commit.append(self._committed)
        self._rules.start()
        self._hooks.start()
        self.sender.start()
        self.autoclose_job.start()
        self._routing_task = asyncio.create_task(self._offer_waiting(), name="rules-routing")

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.desk.writer.after_commit.remove(self._committed)
        if self._routing_task is not None:
            self._routing_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._routing_task
        await self.autoclose_job.stop()
        await self._rules.stop()
        await self._hooks.stop()
        await self.sender.stop()

    # ------------------------------------------------------------------ after commit

    def _committed(self, events: list[TicketEvent]) -> None:
        """Called by the writer right after a commit: hand over, never wait."""
        asks = [
            bus.pack(
                bus.ticket_topic(e.ticket),
                bus.VisitorPushMsg(e.ticket, csat.request_frame(e.ticket)),
            )
            for e in events
            if csat.wants_rating(e.kind, e.fields)
        ]
        if asks:
            self.desk.broker.publish(asks)
        self._rules.put(events)
        self._hooks.put(events)

    async def _on_webhooks(self, events: list[TicketEvent]) -> None:
        if await self.webhooks.queue(events):
            self.sender.wake()

    async def _on_rules(self, events: list[TicketEvent]) -> None:
        room_may_have_freed = False
        released: set[int] = set()
        for event in events:
            if event.kind == "message" and event.author.type == "visitor":
                if event.seq == 1:
                    await self.engine.run("ticket_created", event.ticket, event.seq)
                await self.engine.run("message_created", event.ticket, event.seq)
            elif event.kind == "assigned":
                room_may_have_freed = True
                if event.fields.get("assignee") is None and event.fields.get("group"):
                    releaser = event.author.id if event.author.type == "agent" else None
                    await self.router.route(event.ticket, exclude=releaser)
                    if releaser is not None:
                        released.add(event.ticket)
            elif event.kind == "status":
                room_may_have_freed = True
        if room_may_have_freed:
            await self.router.drain(frozenset(released))

    # ------------------------------------------------------------------ jobs

    async def _close(self) -> None:
        await self.autoclose.run()

    async def _offer_waiting(self) -> None:
        """Agents coming online free no event: offer waiting chats again now and then."""
        while True:
            await asyncio.sleep(self.desk.settings.routing_check_s)
            try:
                await self.router.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("offering waiting chats failed")
