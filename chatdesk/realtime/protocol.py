"""Every frame of the visitor and agent channels, typed, with decode and encode.

Client frames are frozen dataclasses built from a decoded map by ``parse``,
which checks every field against its annotation and the contract's limits and
raises BadRequest (carrying the frame's ``rid`` when it had one). Server frames
are dataclasses whose ``wire()`` gives the map sent on the socket.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

import msgpack

from chatdesk.errors import BadRequest, ChatdeskError
from chatdesk.text import check_text

JSON_PROTOCOL = "chatdesk.json"
MSGPACK_PROTOCOL = "chatdesk.msgpack"
SUBPROTOCOLS = (JSON_PROTOCOL, MSGPACK_PROTOCOL)

MAX_ID_CHARS = 64
MAX_BODY_CHARS = 10_000
MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 320
MAX_LIST_ITEMS = 100

Encoding = Literal["json", "msgpack"]


# --------------------------------------------------------------------------- decoding


def decode(data: str | bytes, encoding: Encoding, max_bytes: int) -> dict[str, Any]:
    """Turn one socket frame into a map; BadRequest for anything that is not one."""
    if len(data) > max_bytes:
        raise BadRequest(f"frame is larger than {max_bytes} bytes")
    try:
        if encoding == "msgpack":
            if isinstance(data, str):
                raise BadRequest("chatdesk.msgpack frames must be binary")
            value = msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=True,
                max_str_len=max_bytes,
                max_bin_len=max_bytes,
                max_array_len=10_000,
                max_map_len=1_000,
                max_ext_len=0,
            )
        else:
            value = json.loads(data)
    except BadRequest:
        raise
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise BadRequest(f"frame is not valid {encoding}") from None
    except RecursionError:
        raise BadRequest("frame is nested too deeply") from None
    if not isinstance(value, dict):
        raise BadRequest("a frame must be a map with a string field 'type'")
    if not isinstance(value.get("type"), str):
        raise BadRequest("a frame must have a string field 'type'")
    return value


def encode(frame: dict[str, Any] | Encoded, encoding: Encoding) -> str | bytes:
    if isinstance(frame, Encoded):
        return frame.encoded(encoding)
    if encoding == "msgpack":
        return msgpack.packb(frame, use_bin_type=True)
    return _JSON.encode(frame)


# One encoder: json.dumps() with options builds a new one for every frame.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Encoded:
    """A frame encoded once per encoding, however many sockets it goes to: an event
    watched by a hundred agents was rendered and serialised a hundred times."""

    __slots__ = ("_by_encoding", "frame")

    def __init__(self, frame: dict[str, Any]) -> None:
        self.frame = frame
        self._by_encoding: dict[str, str | bytes] = {}

    def encoded(self, encoding: Encoding) -> str | bytes:
        data = self._by_encoding.get(encoding)
        if data is None:
            data = self._by_encoding[encoding] = encode(self.frame, encoding)
        return data


Outgoing = dict[str, Any] | Encoded  # what a socket's render hands its writer


# --------------------------------------------------------------------------- field checks


# Per-field text limits; unnamed string fields get MAX_ID_CHARS.
_TEXT_LIMITS: dict[str, tuple[int, int]] = {
    "body": (1, MAX_BODY_CHARS),
    "rid": (1, MAX_ID_CHARS),
    "client_msg_id": (1, MAX_ID_CHARS),
    "site": (1, MAX_ID_CHARS),
    "visitor_token": (1, 256),
    "token": (1, 256),
    "name": (0, MAX_NAME_CHARS),
    "email": (0, MAX_EMAIL_CHARS),
    "to": (1, 32),
    "reason": (1, 32),
    "page_url": (0, 2000),
    "comment": (0, 2000),
}


def _coerce(name: str, value: Any, hint: Any) -> Any:
    # The plain types first: every frame has them, and get_origin() is not free.
    if value is None and hint in (str, int, bool):
        raise BadRequest(f"'{name}' must not be null")
    if hint is str:
        if not isinstance(value, str):
            raise BadRequest(f"'{name}' must be a string")
        low, high = _TEXT_LIMITS.get(name, (0, MAX_ID_CHARS))
        return check_text(name, value, high, low)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest(f"'{name}' must be a whole number")
        # Ids and seqs are 32-bit in the store; anything wider cannot name a thing.
        if not -(2**31) <= value < 2**31:
            raise BadRequest(f"'{name}' is out of range")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise BadRequest(f"'{name}' must be true or false")
        return value
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if value is None:
            if type(None) in get_args(hint):
                return None
            raise BadRequest(f"'{name}' must not be null")
        return _coerce(name, value, options[0])
    if value is None:
        raise BadRequest(f"'{name}' must not be null")
    if origin is tuple:  # tuple[X, ...]: a bounded list
        (item,) = get_args(hint)[:1]
        if not isinstance(value, list):
            raise BadRequest(f"'{name}' must be a list")
        if len(value) > MAX_LIST_ITEMS:
            raise BadRequest(f"'{name}' has more than {MAX_LIST_ITEMS} items")
        return tuple(_coerce(name, v, item) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise BadRequest(f"'{name}' must be a map")
        return value
    raise TypeError(f"protocol field {name!r} has an unsupported annotation {hint!r}")


def _echoable(rid: Any) -> bool:
    """Whether a bad frame's rid can be sent back: only clean, short text can."""
    if not isinstance(rid, str) or not 0 < len(rid) <= MAX_ID_CHARS:
        return False
    try:
        check_text("rid", rid, MAX_ID_CHARS, 1)
    except BadRequest:
        return False
    return True


_PLANS: dict[type, tuple[tuple[str, Any, bool], ...]] = {}


def _plan(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(field, type hint, required) of a frame class, worked out once per class."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = get_type_hints(cls)
        plan = _PLANS[cls] = tuple(
            (f.name, hints[f.name], f.default is MISSING and f.default_factory is MISSING)
            for f in fields(cls)  # type: ignore[arg-type]
        )
    return plan


class ClientFrame:
    """Base of every frame a client sends; subclasses are frozen slotted dataclasses."""

    type: ClassVar[str]

    @classmethod
    def build(cls, raw: dict[str, Any]) -> ClientFrame:
        rid = raw.get("rid")
        try:
            values: dict[str, Any] = {}
            for name, hint, required in _plan(cls):
                if name in raw:
                    values[name] = _coerce(name, raw[name], hint)
                elif required:
                    raise BadRequest(f"'{cls.type}' needs the field '{name}'")
            return cls(**values)
        except ChatdeskError as exc:
            if _echoable(rid):
                exc.rid = rid  # type: ignore[attr-defined]
            raise


# --------------------------------------------------------------------------- visitor frames


@dataclass(frozen=True, slots=True)
class VisitorHello(ClientFrame):
    type: ClassVar[str] = "hello"
    site: str
    visitor_token: str | None = None
    identity: dict | None = None
    after_seq: int | None = None
    page_url: str | None = None


@dataclass(frozen=True, slots=True)
class VisitorMessage(ClientFrame):
    type: ClassVar[str] = "message"
    client_msg_id: str
    body: str
    rid: str | None = None
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VisitorTyping(ClientFrame):
    type: ClassVar[str] = "typing"
    on: bool


@dataclass(frozen=True, slots=True)
class VisitorRead(ClientFrame):
    type: ClassVar[str] = "read"
    seq: int
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class VisitorProfile(ClientFrame):
    type: ClassVar[str] = "profile"
    rid: str | None = None
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class VisitorSync(ClientFrame):
    type: ClassVar[str] = "sync"
    after_seq: int
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class Ping(ClientFrame):
    """Added to the contract: an application-level keepalive answered ``ok``."""

    type: ClassVar[str] = "ping"
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class Rating(ClientFrame):
    """Contract section 9: the visitor rates the solve a csat_request asked about."""

    type: ClassVar[str] = "rating"
    score: int
    rid: str | None = None
    comment: str | None = None


VISITOR_FRAMES: dict[str, type[ClientFrame]] = {
    c.type: c
    for c in (VisitorMessage, VisitorTyping, VisitorRead, VisitorProfile, VisitorSync, Ping, Rating)
}

# --------------------------------------------------------------------------- agent frames


@dataclass(frozen=True, slots=True)
class AgentHello(ClientFrame):
    type: ClassVar[str] = "hello"
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Watch(ClientFrame):
    type: ClassVar[str] = "watch"
    ticket: int
    rid: str | None = None
    after_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Unwatch(ClientFrame):
    type: ClassVar[str] = "unwatch"
    ticket: int
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class Claim(ClientFrame):
    type: ClassVar[str] = "claim"
    ticket: int
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class Release(ClientFrame):
    type: ClassVar[str] = "release"
    ticket: int
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class Transfer(ClientFrame):
    type: ClassVar[str] = "transfer"
    ticket: int
    rid: str | None = None
    agent: int | None = None
    group: int | None = None


@dataclass(frozen=True, slots=True)
class Send(ClientFrame):
    type: ClassVar[str] = "send"
    ticket: int
    client_msg_id: str
    body: str
    rid: str | None = None
    attachments: tuple[str, ...] = ()
    force: bool = False


@dataclass(frozen=True, slots=True)
class Note(ClientFrame):
    type: ClassVar[str] = "note"
    ticket: int
    client_msg_id: str
    body: str
    rid: str | None = None
    attachments: tuple[str, ...] = ()
    cross_post: bool = False


@dataclass(frozen=True, slots=True)
class SetStatus(ClientFrame):
    type: ClassVar[str] = "status"
    ticket: int
    to: str
    rid: str | None = None
    reason: str | None = None
    reply: dict | None = None


@dataclass(frozen=True, slots=True)
class SetLabels(ClientFrame):
    type: ClassVar[str] = "labels"
    ticket: int
    rid: str | None = None
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentTyping(ClientFrame):
    type: ClassVar[str] = "typing"
    ticket: int
    on: bool


@dataclass(frozen=True, slots=True)
class RequestAccess(ClientFrame):
    type: ClassVar[str] = "request_access"
    ticket: int
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerAccess(ClientFrame):
    type: ClassVar[str] = "answer_access"
    ticket: int
    agent: int
    grant: bool
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class Mask(ClientFrame):
    type: ClassVar[str] = "mask"
    ticket: int
    seq: int
    ranges: tuple[tuple[int, ...], ...]
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class AgentSync(ClientFrame):
    type: ClassVar[str] = "sync"
    ticket: int
    after_seq: int
    rid: str | None = None


AGENT_FRAMES: dict[str, type[ClientFrame]] = {
    c.type: c
    for c in (
        Watch,
        Unwatch,
        Claim,
        Release,
        Transfer,
        Send,
        Note,
        SetStatus,
        SetLabels,
        AgentTyping,
        RequestAccess,
        AnswerAccess,
        Mask,
        AgentSync,
        Ping,
    )
}


def parse(raw: dict[str, Any], table: dict[str, type[ClientFrame]]) -> ClientFrame:
    cls = table.get(raw["type"])
    if cls is None:
        err = BadRequest(f"unknown frame type {raw['type'][:40]!r}")
        rid = raw.get("rid")
        if _echoable(rid):
            err.rid = rid  # type: ignore[attr-defined]
        raise err
    return cls.build(raw)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Author:
    type: Literal["visitor", "agent", "system"]
    id: int | None
    name: str

    def wire(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "name": self.name}


SYSTEM = Author("system", None, "chatdesk")


# Set at start by the desk: turns an attachment id into a signed, expiring URL. Signed
# when shown, never stored, so a link in old history has not silently expired.
def _unsigned(file_id: str) -> str:
    return f"/files/{file_id}"


_url_for: list[Callable[[str], str]] = [_unsigned]


def set_attachment_url(sign: Callable[[str], str]) -> None:
    _url_for[0] = sign


def with_urls(fields: dict[str, Any]) -> dict[str, Any]:
    atts = fields.get("attachments")
    if not atts:
        return fields
    sign = _url_for[0]
    return {**fields, "attachments": [{**a, "url": sign(a["id"])} for a in atts]}


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One timeline entry as it travels: from the store to the broker to sockets."""

    ticket: int
    seq: int
    kind: str
    visibility: Literal["public", "internal"]
    author: Author
    at: str
    fields: dict[str, Any] = field(default_factory=dict)
    # The event's pushes, encoded once for all the sockets of this process it reaches.
    _pushes: dict[str, Encoded | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def public(self) -> bool:
        return self.visibility == "public"

    def agent_push(self) -> Encoded:
        """The ``event`` push agents get, shared by every agent socket."""
        push = self._pushes.get("agent")
        if push is None:
            push = self._pushes["agent"] = Encoded(EventPush(self.wire()).wire())
        return push

    def visitor_push(self) -> Encoded | None:
        """The ``event`` push a visitor gets, or None for an internal event."""
        if "visitor" not in self._pushes:
            shown = self.visitor_wire()
            self._pushes["visitor"] = Encoded(EventPush(shown).wire()) if shown else None
        return self._pushes["visitor"]

    def wire(self) -> dict[str, Any]:
        # Kind fields first: none of them may shadow the event's own keys.
        return {
            **with_urls(self.fields),
            "ticket": self.ticket,
            "seq": self.seq,
            "kind": self.kind,
            "visibility": self.visibility,
            "author": self.author.wire(),
            "at": self.at,
        }

    def visitor_wire(self) -> dict[str, Any] | None:
        """The one place deciding what of an event a visitor may see: nothing internal."""
        if not self.public:
            return None
        author = self.author
        shown = {"type": author.type, "id": author.id, "name": author.name}
        if author.type == "agent":
            shown["id"] = None  # visitors see the display name only
        fields_ = with_urls({k: v for k, v in self.fields.items() if k in _VISITOR_FIELDS})
        return {
            **fields_,
            "ticket": self.ticket,
            "seq": self.seq,
            "kind": self.kind,
            "visibility": "public",
            "author": shown,
            "at": self.at,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> TicketEvent:
        rest = {
            k: v
            for k, v in data.items()
            if k not in ("ticket", "seq", "kind", "visibility", "author", "at")
        }
        a = data["author"]
        return cls(
            ticket=data["ticket"],
            seq=data["seq"],
            kind=data["kind"],
            visibility=data["visibility"],
            author=Author(a["type"], a["id"], a["name"]),
            at=data["at"],
            fields=rest,
        )


# Public event kinds carry only these fields to visitors.
_VISITOR_FIELDS = frozenset({"body", "attachments", "client_msg_id", "from", "to", "via"})

# --------------------------------------------------------------------------- server frames


class ServerFrame:
    type: ClassVar[str]

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in _names(type(self)):
            value = getattr(self, name)
            if name == "extra":
                out.update(value)
            elif value is not None or name != "rid":
                out[name] = value
        return out


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """A server frame's field names, looked up once per class (three frames a message)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    return names


@dataclass(frozen=True, slots=True)
class Ok(ServerFrame):
    type: ClassVar[str] = "ok"
    rid: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Error(ServerFrame):
    type: ClassVar[str] = "error"
    rid: str | None
    code: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, exc: ChatdeskError, rid: str | None) -> Error:
        return cls(rid=rid, code=exc.code, detail=exc.detail, extra=dict(exc.extra))


@dataclass(frozen=True, slots=True)
class VisitorWelcome(ServerFrame):
    type: ClassVar[str] = "welcome"
    visitor_token: str
    customer: dict[str, Any]
    ticket: dict[str, Any] | None
    events: list[dict[str, Any]]
    agents_online: bool
    open_now: bool = True


@dataclass(frozen=True, slots=True)
class AgentWelcome(ServerFrame):
    type: ClassVar[str] = "welcome"
    agent: dict[str, Any]
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class EventPush(ServerFrame):
    type: ClassVar[str] = "event"
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TicketPush(ServerFrame):
    type: ClassVar[str] = "ticket"
    ticket: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueuePush(ServerFrame):
    type: ClassVar[str] = "queue"
    ticket: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VisitorTypingPush(ServerFrame):
    type: ClassVar[str] = "typing"
    on: bool
    name: str


@dataclass(frozen=True, slots=True)
class AgentTypingPush(ServerFrame):
    """Added: a visitor or teammate typing on a ticket the agent watches."""

    type: ClassVar[str] = "typing"
    ticket: int
    on: bool
    author: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AgentsOnlinePush(ServerFrame):
    type: ClassVar[str] = "agents_online"
    value: bool


@dataclass(frozen=True, slots=True)
class AccessRequestPush(ServerFrame):
    type: ClassVar[str] = "access_request"
    ticket: int
    agent: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AccessAnswerPush(ServerFrame):
    """Added: the answer to an access request, pushed to the agent who asked."""

    type: ClassVar[str] = "access_answer"
    ticket: int
    agent: dict[str, Any]
    granted: bool


@dataclass(frozen=True, slots=True)
class SyncHint(ServerFrame):
    """Added: the server lost live pushes (broker outage); resync tickets by seq."""

    type: ClassVar[str] = "sync_needed"


@dataclass(frozen=True, slots=True)
class PresencePush(ServerFrame):
    """Added: who of the team is online or away, pushed to agents when it changes."""

    type: ClassVar[str] = "presence"
    agents: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ReadPush(ServerFrame):
    """Added: the visitor has read their ticket up to ``seq``."""

    type: ClassVar[str] = "read"
    ticket: int
    seq: int


@dataclass(frozen=True, slots=True)
class AgentPresence(ClientFrame):
    """Added: an agent sets themself online or away."""

    type: ClassVar[str] = "presence"
    status: str
    rid: str | None = None


AGENT_FRAMES[AgentPresence.type] = AgentPresence


@dataclass(frozen=True, slots=True)
class EventUpdatedPush(ServerFrame):
    """Added: a stored event was rewritten (masked); show this version instead."""

    type: ClassVar[str] = "event_updated"
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RevokeAccess(ClientFrame):
    """Added: the assignee or an admin removes a collaborator."""

    type: ClassVar[str] = "revoke_access"
    ticket: int
    agent: int
    rid: str | None = None


AGENT_FRAMES[RevokeAccess.type] = RevokeAccess


@dataclass(frozen=True, slots=True)
class Restore(ClientFrame):
    type: ClassVar[str] = "restore"
    ticket: int
    rid: str | None = None


@dataclass(frozen=True, slots=True)
class Unmask(ClientFrame):
    type: ClassVar[str] = "unmask"
    ticket: int
    seq: int
    rid: str | None = None


AGENT_FRAMES[Restore.type] = Restore
AGENT_FRAMES[Unmask.type] = Unmask


@dataclass(frozen=True, slots=True)
class VisitorTranscript(ClientFrame):
    """Contract section 10: mail the conversation to ``email`` or the customer's address."""

    type: ClassVar[str] = "transcript"
    rid: str | None = None
    email: str | None = None


VISITOR_FRAMES[VisitorTranscript.type] = VisitorTranscript
