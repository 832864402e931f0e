"""Messages between server processes, carried by the broker as msgpack bytes.

Every process publishes to one channel and hears all of it; the topic inside a
message says which local connections get it (see docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from chatdesk.realtime.protocol import TicketEvent


def ticket_topic(ticket_id: int) -> str:
    return f"t:{ticket_id}"


def agent_topic(agent_id: int) -> str:
    return f"a:{agent_id}"


AGENTS = "agents"  # every agent connection: queue pushes, presence
VISITORS = "visitors"  # every visitor connection: agents_online
PRESENCE = "presence"  # the presence tracker of each process


@dataclass(frozen=True, slots=True)
class EventMsg:
    event: TicketEvent


@dataclass(frozen=True, slots=True)
class EventUpdatedMsg:
    """A stored event was rewritten (masked): viewers replace what they show."""

    event: TicketEvent


@dataclass(frozen=True, slots=True)
class TicketMsg:
    """A ticket's visitor-visible state changed."""

    ticket_id: int
    visitor: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueueMsg:
    ticket: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TypingMsg:
    ticket_id: int
    on: bool
    author: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReadMsg:
    ticket_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class PresenceMsg:
    process: str
    agents: list[int]
    away: list[int]


@dataclass(frozen=True, slots=True)
class AgentPushMsg:
    """A ready server frame for one agent's connections (access requests and answers)."""

    agent_id: int
    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KickMsg:
    agent_id: int


@dataclass(frozen=True, slots=True)
class VisitorPushMsg:
    """A ready server frame for the visitor of a ticket (csat_request), on its topic."""

    ticket_id: int
    frame: dict[str, Any]


BusMessage = (
    EventMsg
    | EventUpdatedMsg
    | TicketMsg
    | QueueMsg
    | TypingMsg
    | ReadMsg
    | PresenceMsg
    | AgentPushMsg
    | KickMsg
    | VisitorPushMsg
)

_KINDS: dict[type, str] = {
    EventMsg: "e",
    EventUpdatedMsg: "u",
    TicketMsg: "t",
    QueueMsg: "q",
    TypingMsg: "y",
    ReadMsg: "r",
    PresenceMsg: "p",
    AgentPushMsg: "a",
    KickMsg: "k",
    VisitorPushMsg: "v",
}


def pack(topic: str, msg: BusMessage) -> bytes:
    kind = _KINDS[type(msg)]
    if isinstance(msg, EventMsg | EventUpdatedMsg):
        body: Any = msg.event.wire()
    else:
        body = [getattr(msg, name) for name in msg.__slots__]  # type: ignore[attr-defined]
    return msgpack.packb([topic, kind, body], use_bin_type=True)


def unpack(data: bytes) -> tuple[str, BusMessage]:
    topic, kind, body = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if kind == "e":
        return topic, EventMsg(TicketEvent.from_wire(body))
    if kind == "u":
        return topic, EventUpdatedMsg(TicketEvent.from_wire(body))
    cls = _BY_KIND[kind]
    return topic, cls(*body)


_BY_KIND = {v: k for k, v in _KINDS.items()}
