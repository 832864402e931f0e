"""Per-ticket delivery cursors: each subscriber sees every event once, in seq order.

Events can arrive twice (a catch-up read overlapping a live push) or out of order
(two processes writing one ticket publish independently). A cursor drops what was
delivered and fills a gap from the store before going on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chatdesk.realtime.protocol import TicketEvent

FetchAfter = Callable[[int, int, int | None], Awaitable[list[TicketEvent]]]


class Cursors:
    __slots__ = ("_fetch", "_held", "_last")

    def __init__(self, fetch: FetchAfter) -> None:
        self._fetch = fetch
        # ticket -> last delivered seq; None while awaiting the first catch-up read.
        self._last: dict[int, int | None] = {}
        self._held: dict[int, list[TicketEvent]] = {}

    def __contains__(self, ticket: int) -> bool:
        return ticket in self._last

    def tickets(self) -> list[int]:
        return list(self._last)

    def hold(self, ticket: int) -> None:
        """Start receiving a ticket before its catch-up read; live events wait."""
        if ticket not in self._last:
            self._last[ticket] = None
            self._held[ticket] = []

    def start_at(self, ticket: int, seq: int) -> None:
        """Deliver live events of a ticket after ``seq``, with no catch-up read."""
        if ticket not in self._last:
            self._last[ticket] = seq

    def drop(self, ticket: int) -> None:
        self._last.pop(ticket, None)
        self._held.pop(ticket, None)

    def last(self, ticket: int) -> int | None:
        return self._last.get(ticket)

    async def settle(self, ticket: int, seq: int) -> list[TicketEvent]:
        """The catch-up read delivered up to ``seq``; returns held events past it."""
        self._last[ticket] = seq
        held = self._held.pop(ticket, [])
        out: list[TicketEvent] = []
        for event in held:
            out.extend(await self.accept(event))
        return out

    def accept_now(self, event: TicketEvent) -> list[TicketEvent] | None:
        """``accept`` when it needs no read: None (and nothing changed) for a gap."""
        ticket = event.ticket
        if ticket not in self._last:
            return []
        last = self._last[ticket]
        if last is None:
            self._held[ticket].append(event)
            return []
        if event.seq <= last:
            return []
        if event.seq > last + 1:
            return None
        self._last[ticket] = event.seq
        return [event]

    async def accept(self, event: TicketEvent) -> list[TicketEvent]:
        """The events to deliver now, in order, given one that arrived."""
        ready = self.accept_now(event)
        if ready is not None:
            return ready
        ticket = event.ticket
        last = self._last[ticket]
        assert last is not None
        out = [e for e in await self._fetch(ticket, last, event.seq - 1) if e.seq > last]
        out.append(event)
        self._last[ticket] = event.seq
        return out

    async def catch_up(self, ticket: int) -> list[TicketEvent]:
        """Everything stored after the cursor (after a broker outage)."""
        last = self._last.get(ticket)
        if last is None:
            return []
        events = await self._fetch(ticket, last, None)
        if events:
            self._last[ticket] = events[-1].seq
        return events
