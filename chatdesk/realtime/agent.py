"""The agent channel, /ws/agent (contract section 5)."""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocket

from chatdesk.api.security import same_origin
from chatdesk.desk import Desk
from chatdesk.errors import BadRequest, Forbidden
from chatdesk.realtime import bus
from chatdesk.realtime.channel import Channel, Settle
from chatdesk.realtime.connection import UNAUTHORIZED
from chatdesk.realtime.hub import RESYNC
from chatdesk.realtime.presence import presence_push
from chatdesk.realtime.protocol import (
    AGENT_FRAMES,
    AgentHello,
    AgentPresence,
    AgentSync,
    AgentTyping,
    AgentTypingPush,
    AgentWelcome,
    AnswerAccess,
    Claim,
    ClientFrame,
    EventPush,
    EventUpdatedPush,
    Mask,
    Note,
    Outgoing,
    Ping,
    QueuePush,
    ReadPush,
    Release,
    RequestAccess,
    Restore,
    RevokeAccess,
    Send,
    SetLabels,
    SetStatus,
    SyncHint,
    Transfer,
    Unmask,
    Unwatch,
    Watch,
)
from chatdesk.services.agents import Principal, authenticate

SESSION_COOKIE = "chatdesk_session"
SYNC_LIMIT = 1000
DECIDED_KEPT = 4096  # tickets whose newest summary an agent socket remembers


class AgentChannel(Channel):
    frames = AGENT_FRAMES

    def __init__(self, desk: Desk, websocket: WebSocket) -> None:
        super().__init__(desk, websocket)
        self.agent: Principal | None = None
        self.watched: set[int] = set()
        self.owned: set[int] = set()
        # ticket -> last_seq of the newest summary seen: each process publishes after
        # its own commit, so an older summary (a chat's creation, say) can arrive
        # after the claim's and must not undo it. The most recent tickets only:
        # summaries cross each other within milliseconds, not thousands of tickets.
        self._decided: dict[int, int] = {}

    def origin_ok(self) -> bool:
        # The console is served by this server; another site's page must not ride on
        # the agent's session cookie (cross-site WebSocket hijacking).
        return same_origin(self.websocket.headers)

    async def hello(self, raw: dict[str, Any]) -> None:
        hello = AgentHello.build(raw)
        assert isinstance(hello, AgentHello)
        token = hello.token or self.websocket.cookies.get(SESSION_COOKIE)
        async with self.desk.reads() as session:
            agent = await authenticate(session, token)
        self.agent = agent
        self.subscribe(bus.AGENTS)
        self.subscribe(bus.agent_topic(agent.id))
        for ticket, last_seq in await self.desk.tickets.agent_tickets(agent.id):
            self._own(ticket, last_seq)
        counts = await self.desk.tickets.counts(agent.id)
        self.conn.send_first(AgentWelcome(agent=agent.wire(), counts=counts))
        self.desk.presence.agent_connected(agent.id)
        self.conn.send(presence_push(self.desk.presence.agents()))

    async def cleanup(self) -> None:
        if self.agent is not None:
            self.desk.presence.agent_disconnected(self.agent.id)

    def _own(self, ticket: int, last_seq: int) -> None:
        self.owned.add(ticket)
        self._decided[ticket] = max(last_seq, self._decided.get(ticket, 0))
        if ticket not in self.cursors:
            self.cursors.hold(ticket)
            self.subscribe(bus.ticket_topic(ticket))
            self.conn.push(Settle(ticket, last_seq))

    def _forget(self, ticket: int) -> None:
        self.owned.discard(ticket)
        if ticket not in self.watched:
            self.cursors.drop(ticket)
            self.unsubscribe(bus.ticket_topic(ticket))

    async def handle(self, frame: ClientFrame) -> None:
        agent = self.agent
        assert agent is not None
        tickets = self.desk.tickets
        if not isinstance(frame, Ping | AgentTyping):
            assert self.desk.rules is not None
            await self.limit(self.desk.rules.agent_commands, f"agent:{agent.id}")
        match frame:
            case Send():
                w = await tickets.send(
                    agent,
                    frame.ticket,
                    frame.client_msg_id,
                    frame.body,
                    frame.attachments,
                    force=frame.force,
                )
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case Note():
                w = await tickets.note(
                    agent,
                    frame.ticket,
                    frame.client_msg_id,
                    frame.body,
                    frame.attachments,
                    cross_post=frame.cross_post,
                )
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case Claim():
                w = await tickets.claim(agent, frame.ticket)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case Release():
                w = await tickets.release(agent, frame.ticket)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case Transfer():
                w = await tickets.transfer(agent, frame.ticket, frame.agent, frame.group)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case SetStatus():
                if frame.reply is not None:
                    body = frame.reply.get("body")
                    if frame.to != "solved" or not isinstance(body, str):
                        raise BadRequest("'reply' is {body} and goes with to: solved")
                    w = await self.desk.backoffice.solve_tracker(
                        agent, frame.ticket, body, frame.reason
                    )
                else:
                    w = await tickets.set_status(agent, frame.ticket, frame.to, frame.reason)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case SetLabels():
                w = await tickets.set_labels(agent, frame.ticket, frame.add, frame.remove)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case RequestAccess():
                w = await self.desk.access.request(agent, frame.ticket)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case AnswerAccess():
                w = await self.desk.access.answer(agent, frame.ticket, frame.agent, frame.grant)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case RevokeAccess():
                w = await self.desk.access.revoke(agent, frame.ticket, frame.agent)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case Restore():
                w = await tickets.restore(agent, frame.ticket)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case Unmask():
                w = await self.desk.masking.unmask(agent, frame.ticket, frame.seq)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case Mask():
                w = await self.desk.masking.mask(agent, frame.ticket, frame.seq, frame.ranges)
                self.ok(frame.rid, ticket=w.ticket, seq=w.seq)
            case Watch():
                self.watched.add(frame.ticket)
                fresh = frame.ticket not in self.cursors
                if fresh:
                    self.cursors.hold(frame.ticket)
                    self.subscribe(bus.ticket_topic(frame.ticket))
                try:
                    ticket, events = await tickets.watch(frame.ticket, frame.after_seq or 0)
                except Exception:
                    if fresh:
                        self.watched.discard(frame.ticket)
                        self._forget(frame.ticket)
                    raise
                self.ok(frame.rid, ticket=ticket, events=[e.wire() for e in events])
                if fresh:
                    self.conn.push(Settle(frame.ticket, ticket["last_seq"]))
            case Unwatch():
                self.watched.discard(frame.ticket)
                if frame.ticket not in self.owned:
                    self._forget(frame.ticket)
                self.ok(frame.rid)
            case AgentSync():
                events = await tickets.events(frame.ticket, frame.after_seq, limit=SYNC_LIMIT)
                if not events:
                    await tickets.ticket(frame.ticket)  # not_found for an unknown ticket
                self.ok(frame.rid, events=[e.wire() for e in events])
            case AgentTyping():
                if not await tickets.can_write(agent, frame.ticket):
                    return
                author = {"type": "agent", "id": agent.id, "name": agent.name}
                topic = bus.ticket_topic(frame.ticket)
                self.desk.broker.publish(
                    [bus.pack(topic, bus.TypingMsg(frame.ticket, frame.on, author))]
                )
            case AgentPresence():
                if frame.status not in ("online", "away"):
                    raise BadRequest("'status' is online or away")
                self.desk.presence.set_away(agent.id, frame.status == "away")
                self.ok(frame.rid)
            case Ping():
                self.ok(frame.rid)
            case _:
                raise Forbidden(f"'{frame.type}' is not available yet")

    def render_now(self, item: Any) -> list[Outgoing] | None:
        if isinstance(item, bus.EventMsg):
            events = self.cursors.accept_now(item.event)
            return None if events is None else [e.agent_push() for e in events]
        return None

    async def render(self, item: Any) -> list[Outgoing]:
        agent = self.agent
        match item:
            case bus.EventMsg():
                return [e.agent_push() for e in await self.cursors.accept(item.event)]
            case Settle():
                events = await self.cursors.settle(item.ticket, item.seq)
                if item.catch_up:
                    events += await self.cursors.catch_up(item.ticket)
                return [e.agent_push() for e in events]
            case bus.EventUpdatedMsg():
                if item.event.ticket in self.cursors:
                    return [EventUpdatedPush(item.event.wire()).wire()]
                return []
            case bus.QueueMsg():
                if agent is not None:
                    self._track(item.ticket, agent.id)
                return [QueuePush(item.ticket).wire()]
            case bus.TypingMsg():
                author = item.author
                if (
                    agent is not None
                    and author.get("type") == "agent"
                    and author.get("id") == agent.id
                ):
                    return []
                return [AgentTypingPush(item.ticket_id, item.on, author).wire()]
            case bus.ReadMsg():
                return [ReadPush(item.ticket_id, item.seq).wire()]
            case bus.AgentPushMsg():
                return [item.frame]
            case bus.KickMsg():
                self.conn.close_soon(UNAUTHORIZED, "deactivated")
                return []
            case _ if item is RESYNC:
                frames = [SyncHint().wire()]
                for ticket in self.cursors.tickets():
                    frames += [
                        EventPush(e.wire()).wire() for e in await self.cursors.catch_up(ticket)
                    ]
                return frames
        return []

    def _track(self, summary: dict[str, Any], me: int) -> None:
        """Follow tickets the agent now owns or helps on; let go of those they lost."""
        ticket = summary["id"]
        seq = summary["last_seq"]
        if seq < self._decided.get(ticket, 0):
            return
        assignee = summary.get("assignee") or {}
        mine = assignee.get("id") == me or any(
            c.get("id") == me for c in summary.get("collaborators", [])
        )
        live = summary.get("status") not in ("closed", "spam")
        self._decided.pop(ticket, None)
        self._decided[ticket] = seq  # the newest last; whoever it names, "mine" or not
        if len(self._decided) > DECIDED_KEPT:
            del self._decided[next(iter(self._decided))]
        if mine and live:
            if ticket not in self.owned:
                self.owned.add(ticket)
                if ticket not in self.cursors:
                    # The sender is rendering this push right now: start in place.
                    self.cursors.start_at(ticket, summary["last_seq"])
                    self.subscribe(bus.ticket_topic(ticket))
        elif ticket in self.owned:
            self._forget(ticket)
