"""The visitor channel, /ws/visitor (contract section 4)."""

from __future__ import annotations

import time
from typing import Any

from starlette.websockets import WebSocket

from chatdesk.api.security import allowed_origin
from chatdesk.desk import Desk
from chatdesk.errors import Unauthorized, Unavailable
from chatdesk.realtime import bus
from chatdesk.realtime.channel import Channel, Settle
from chatdesk.realtime.hub import RESYNC
from chatdesk.realtime.protocol import (
    VISITOR_FRAMES,
    ClientFrame,
    EventPush,
    EventUpdatedPush,
    Outgoing,
    Ping,
    Rating,
    ServerFrame,
    TicketPush,
    VisitorHello,
    VisitorMessage,
    VisitorProfile,
    VisitorRead,
    VisitorSync,
    VisitorTranscript,
    VisitorTyping,
    VisitorTypingPush,
    VisitorWelcome,
)
from chatdesk.services import business_hours
from chatdesk.services.csat import Csat
from chatdesk.services.customers import Arrival, Visitor

TYPING_EVERY_S = 1.5


class VisitorChannel(Channel):
    frames = VISITOR_FRAMES

    def __init__(self, desk: Desk, websocket: WebSocket) -> None:
        super().__init__(desk, websocket)
        self.visitor: Visitor | None = None
        self.ticket_id: int | None = None
        self._typing_sent = 0.0

    async def _fetch(self, ticket: int, after: int, up_to: int | None) -> list[Any]:
        return [e for e in await super()._fetch(ticket, after, up_to) if e.public]

    async def hello(self, raw: dict[str, Any]) -> None:
        hello = VisitorHello.build(raw)
        assert isinstance(hello, VisitorHello)
        customers = self.desk.customers
        site = await customers.site(hello.site)
        if not allowed_origin(self.websocket.headers, list(site.origins or [])):
            raise Unauthorized("this page's origin is not allowed for the site")
        headers = self.websocket.headers
        client = self.websocket.client
        arrival = Arrival(
            ip=client.host if client else None,
            user_agent=headers.get("user-agent"),
            page_url=hello.page_url or headers.get("referer"),
        )
        visitor, token = await customers.arrive(site, hello.visitor_token, hello.identity, arrival)
        self.visitor = visitor
        mail = self.desk.ext.get("mail")
        if mail is not None:  # offline replies wait while a widget of theirs is open
            mail.visitor_connected(visitor.customer_id)
        self.subscribe(bus.VISITORS)
        ticket, events, last_seq = await self.desk.tickets.visitor_state(
            visitor.customer_id, hello.after_seq or 0, follow=self._follow
        )
        self.conn.send_first(
            VisitorWelcome(
                visitor_token=token,
                customer=visitor.wire(),
                ticket=ticket,
                events=[e.visitor_wire() for e in events],
                agents_online=self.desk.presence.agents_online,
                open_now=business_hours.open_at(site.business_hours),
            )
        )
        if ticket is not None and last_seq is not None:
            self.conn.push(Settle(ticket["id"], last_seq))

    async def cleanup(self) -> None:
        mail = self.desk.ext.get("mail")
        if mail is not None and self.visitor is not None:
            mail.visitor_left(self.visitor.customer_id)

    def _follow(self, ticket_id: int) -> None:
        if self.ticket_id is not None and self.ticket_id != ticket_id:
            self.unsubscribe(bus.ticket_topic(self.ticket_id))
            self.cursors.drop(self.ticket_id)
        self.ticket_id = ticket_id
        self.cursors.hold(ticket_id)
        self.subscribe(bus.ticket_topic(ticket_id))

    async def handle(self, frame: ClientFrame) -> None:
        assert self.visitor is not None
        customer = self.visitor.customer_id
        tickets = self.desk.tickets
        if isinstance(frame, VisitorMessage | VisitorProfile | VisitorSync):
            assert self.desk.rules is not None
            await self.limit(self.desk.rules.visitor_messages, f"visitor:{customer}")
        match frame:
            case VisitorMessage():
                written = await tickets.visitor_message(
                    customer, frame.client_msg_id, frame.body, frame.attachments
                )
                self.ok(frame.rid, ticket=written.ticket, seq=written.seq)
                if written.ticket != self.ticket_id:
                    self._follow(written.ticket)
                    self.conn.push(Settle(written.ticket, 0, catch_up=True))
            case VisitorTyping():
                now = time.monotonic()
                if self.ticket_id is None:
                    return
                if frame.on and now - self._typing_sent < TYPING_EVERY_S:
                    return
                self._typing_sent = now if frame.on else 0.0
                author = {"type": "visitor", "id": customer, "name": self.visitor.name or "Visitor"}
                topic = bus.ticket_topic(self.ticket_id)
                self.desk.broker.publish(
                    [bus.pack(topic, bus.TypingMsg(self.ticket_id, frame.on, author))]
                )
            case VisitorRead():
                await tickets.visitor_read(customer, frame.seq)
                if frame.rid is not None:
                    self.ok(frame.rid)
            case VisitorProfile():
                shown = await tickets.visitor_profile(customer, frame.name, frame.email)
                self.visitor = Visitor(
                    customer, self.visitor.site_id, shown["name"], shown["email"]
                )
                self.ok(frame.rid, customer=shown)
            case VisitorSync():
                _, events, _ = await tickets.visitor_state(customer, frame.after_seq)
                self.ok(frame.rid, events=[e.visitor_wire() for e in events])
            case Ping():
                self.ok(frame.rid)
            case VisitorTranscript():
                assert self.desk.rules is not None
                await self.limit(self.desk.rules.visitor_messages, f"visitor:{customer}")
                mail = self.desk.ext.get("mail")
                if mail is None:
                    raise Unavailable("this desk sends no e-mail")
                await mail.transcript(customer, frame.email)
                self.ok(frame.rid)
            case Rating():
                assert self.desk.rules is not None
                await self.limit(self.desk.rules.visitor_messages, f"visitor:{customer}")
                rated = await Csat(self.desk.writer, self.desk.reads).rate(
                    customer, frame.score, frame.comment
                )
                self.ok(frame.rid, ticket=rated.ticket, seq=rated.seq)

    def render_now(self, item: Any) -> list[Outgoing] | None:
        if isinstance(item, bus.EventMsg):
            events = self.cursors.accept_now(item.event)
            if events is None:
                return None
            pushes = [e.visitor_push() for e in events]
            return [p for p in pushes if p is not None]
        return None

    async def render(self, item: Any) -> list[Outgoing]:
        match item:
            case bus.EventMsg():
                pushes = [e.visitor_push() for e in await self.cursors.accept(item.event)]
                return [p for p in pushes if p is not None]
            case Settle():
                events = await self.cursors.settle(item.ticket, item.seq)
                if item.catch_up:
                    events += await self.cursors.catch_up(item.ticket)
                return [EventPush(e.visitor_wire()).wire() for e in events if e.public]
            case bus.EventUpdatedMsg():
                shown = item.event.visitor_wire()
                if shown is not None and item.event.ticket == self.ticket_id:
                    return [EventUpdatedPush(shown).wire()]
            case bus.TicketMsg():
                if item.ticket_id == self.ticket_id:
                    return [TicketPush(item.visitor).wire()]
            case bus.VisitorPushMsg():
                if item.ticket_id == self.ticket_id:
                    return [item.frame]
            case bus.TypingMsg():
                if item.author.get("type") == "agent" and item.ticket_id == self.ticket_id:
                    return [VisitorTypingPush(item.on, item.author.get("name", "")).wire()]
            case ServerFrame():
                return [item.wire()]
            case _ if item is RESYNC:
                if self.ticket_id is None:
                    return []
                events = await self.cursors.catch_up(self.ticket_id)
                return [EventPush(e.visitor_wire()).wire() for e in events if e.public]
        return []
