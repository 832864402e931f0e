"""Property-based fuzzing of both live channels and JSON bodies (issue 7).

Hypothesis throws frames of known types with fields of random types, unknown
types, non-map roots, raw bytes and text, invalid UTF-8, msgpack ext types and
deep nesting at /ws/visitor and /ws/agent, in both subprotocols. After every
example: each frame with a valid `rid` got exactly one `ok` or contract `error`;
the socket still answers a `ping`, or was closed with an allowed code (never
1011, never a drop without a close frame); the server process is up and
/healthz answers. The last test reads the whole store back over REST and checks
that nothing invalid was kept.

Examples reuse one open sync connection per test (reconnecting after an allowed
close), so a run stays well under a minute per backend. The seed is fixed for
stable CI; CHATDESK_FUZZ_RANDOM=1 draws fresh examples and
CHATDESK_FUZZ_EXAMPLES=N scales every test's example count (default 1.0x).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import msgpack
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.client import TIMEOUT, agent, visitor
from tests.servers import Server

CODES = {
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "unsupported_media",
    "rate_limited",
    "unavailable",
}
# Closes a client may get for what it sent: policy (abuse), too big, unauthenticated.
ALLOWED_CLOSES = frozenset({1008, 1009, 4401})
# The server fails a connection on a too-big frame's header and closes the socket
# with the payload unread: the kernel then sends a TCP reset, which can overtake the
# 1009 close frame on the client (None: dropped without a close frame we could read).
TOO_BIG_CLOSES = frozenset({1009, None})
# RFC 6455 requires 1007 for a text frame that is not UTF-8; only those inputs may get it.
INVALID_UTF8_CLOSES = ALLOWED_CLOSES | {1007}
MAX_FRAME_BYTES = 64 * 1024
PROTOCOLS = {"json": "chatdesk.json", "msgpack": "chatdesk.msgpack"}
SCALE = float(os.environ.get("CHATDESK_FUZZ_EXAMPLES", "1"))
STATUSES = ["new", "open", "pending", "solved", "closed", "spam"]
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)

_rids = itertools.count(1)


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=not os.environ.get("CHATDESK_FUZZ_RANDOM"),
        database=None,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


# --------------------------------------------------------------------------- values


def mix(*families: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of `families`, each as likely (st.one_of flattens nested one_ofs into its own
    branches, so a family built from many would crowd the others out)."""
    return st.integers(0, len(families) - 1).flatmap(lambda i: families[i])


# Characters that tend to break things: NUL, lone surrogates, emoji, bidi and BOM,
# a capital whose lower case is two characters, combining marks, controls.
SPECIAL_CHARS = ["\x00", "\ud800", "\udfff", "😀", "\u202e", "\ufeff", "İ", "ß", "\u0301", "\x7f"]
chars = st.one_of(st.characters(), st.sampled_from(SPECIAL_CHARS), st.sampled_from(" \n\ta"))
short_texts = st.text(chars, max_size=24)
long_texts = st.builds(
    lambda c, n: c * n,
    st.sampled_from(["a", "😀", " ", "İ", "\x00"]),
    st.sampled_from([64, 65, 200, 201, 2000, 2001, 9_999, 10_000, 10_001, 40_000]),
)
texts = st.one_of(short_texts, short_texts, long_texts)
edge_ints = st.sampled_from(
    [0, -1, 1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53 + 1, 2**63, 2**64 - 1, 10**30]
)
ints = st.one_of(st.integers(-5, 50), edge_ints, st.integers())
floats = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1.0, 1.5, math.inf, math.nan]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    floats,
    texts,
    st.binary(max_size=16),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8)),
    st.builds(msgpack.Timestamp, st.integers(0, 2**34), st.integers(0, 999_999_999)),
)
keys = st.one_of(short_texts, st.integers(-3, 3), st.none(), st.booleans())
# Values no encoding turns into a string (a rid of these can never be echoed).
not_text = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    floats,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(short_texts, st.integers(), max_size=3),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


class Rid:
    """Where a frame's rid goes; a fresh one is made when the frame is sent."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"Rid({self.kind!r})"


# valid: answered with it; nul / surrogate: echoable, so a reply may carry it; the rest
# (too long, empty, not a string) can never be echoed.
RID_KINDS = ["valid", "valid", "valid", "max", "absent", "empty", "long", "nul", "surrogate"]


def fresh_rid(kind: str) -> Any:
    n = next(_rids)
    return {
        "valid": f"fz{n}",
        "max": f"fz{n}-".ljust(64, "m"),
        "empty": "",
        "long": f"fz{n}-".ljust(65, "l"),
        "nul": f"fz{n}\x00",
        "surrogate": f"fz{n}\ud800",
    }[kind]


# --------------------------------------------------------------------------- encoding


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return repr(value)


def _packable(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return float(value)
    if isinstance(value, list):
        return [_packable(v) for v in value]
    if isinstance(value, dict):
        return {_packable(k): _packable(v) for k, v in value.items()}
    return value


def encode(value: Any, encoding: str) -> str | bytes:
    """What a client would put on the socket; lone surrogates survive in both encodings."""
    if encoding == "msgpack":
        # surrogatepass: a lone surrogate becomes bytes that are not UTF-8, as a buggy
        # client would send them.
        return msgpack.packb(_packable(value), use_bin_type=True, unicode_errors="surrogatepass")
    return json.dumps(value, default=_json_default)  # ASCII: surrogates stay \\u escapes


def decode(data: str | bytes, encoding: str) -> dict[str, Any]:
    if encoding == "msgpack":
        assert isinstance(data, bytes), f"a text frame on chatdesk.msgpack: {data!r:.200}"
        frame = msgpack.unpackb(data, raw=False)
    else:
        assert isinstance(data, str), f"a binary frame on chatdesk.json: {data!r:.200}"
        frame = json.loads(data)
    assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
    return frame


def msgpack_decodable(value: Any) -> bool:
    """Whether the server can unpack this value at all: UTF-8 strings, string keys, no
    ext data (it unpacks with strict_map_key and max_ext_len=0)."""
    if isinstance(value, str):
        return _is_utf8_text(value)
    if isinstance(value, msgpack.Timestamp):
        return False
    if isinstance(value, msgpack.ExtType):
        return not value.data
    if isinstance(value, list):
        return all(msgpack_decodable(v) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and _is_utf8_text(k) and msgpack_decodable(v)
            for k, v in value.items()
        )
    return True


def _is_utf8_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- one input


@dataclass
class Input:
    """One thing sent on an open socket, and what may come back."""

    data: str | bytes
    text: bool | None = None  # None: text for str, binary for bytes
    expect: str | None = None  # a rid that must be answered exactly once
    maybe: tuple[str, ...] = ()  # rids the server may echo (at most once)
    closes: frozenset[int | None] = ALLOWED_CLOSES

    @property
    def size(self) -> int:
        return len(
            self.data.encode("utf-8", "surrogatepass") if isinstance(self.data, str) else self.data
        )

    def __repr__(self) -> str:
        shown = self.data if len(self.data) <= 600 else self.data[:600]
        return f"Input({shown!r}{'...' if len(self.data) > 600 else ''}, text={self.text})"


def frame_input(template: Any, encoding: str, answers: bool = True) -> Input:
    """A frame from a template whose top-level rid is a Rid marker; `answers`: whether a
    frame of its type with a valid rid must be answered (typing frames never are)."""
    expect: str | None = None
    maybe: list[str] = []
    value = template
    if isinstance(template, dict):
        value = dict(template)
        marker = value.get("rid")
        if isinstance(marker, Rid):
            if marker.kind == "absent":
                del value["rid"]
            else:
                rid = fresh_rid(marker.kind)
                value["rid"] = rid
                echoable = isinstance(value.get("type"), str) and (
                    encoding == "json" or msgpack_decodable(value)
                )
                if marker.kind in ("valid", "max") and echoable and answers:
                    expect = rid
                elif rid:
                    maybe.append(rid)
    return Input(encode(value, encoding), expect=expect, maybe=tuple(maybe))


# --------------------------------------------------------------------------- sockets


class Socket:
    """A sync client of one live channel that checks every frame it reads.

    Replies are matched by rid: each rid that was sent is answered at most once, and
    every `error` carries a contract code. Visitor pushes never carry internal events.
    """

    def __init__(self, desk: Server, path: str, encoding: str, hello: dict[str, Any]) -> None:
        self.desk = desk
        self.path = path
        self.encoding = encoding
        self.hello = hello
        self.ws: ClientConnection | None = None
        self.welcome: dict[str, Any] = {}
        self.outstanding: set[str] = set()
        self.http = httpx.Client(base_url=desk.url, timeout=TIMEOUT)

    @property
    def visitor(self) -> bool:
        return self.path == "/ws/visitor"

    def connect(self) -> ClientConnection:
        return connect(
            self.desk.ws(self.path),
            subprotocols=[PROTOCOLS[self.encoding]],
            open_timeout=TIMEOUT,
            close_timeout=2,
            max_size=2**24,
            proxy=None,
            legacy=True,  # a plain connection object, closed by drop()
        )

    def open(self) -> None:
        self.ws = self.connect()
        self.outstanding.clear()
        self.ws.send(encode(self.hello, self.encoding))
        deadline = time.monotonic() + TIMEOUT
        while True:
            frame = self.read(deadline)
            if frame["type"] in ("welcome", "error"):
                break
        assert frame["type"] == "welcome", frame
        self.welcome = frame

    def drop(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
        self.ws = None
        self.outstanding.clear()

    def close(self) -> None:
        self.drop()
        self.http.close()

    def read(self, deadline: float) -> dict[str, Any]:
        assert self.ws is not None
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no answer in {TIMEOUT}s; waiting for {self.outstanding}")
        try:
            data = self.ws.recv(timeout=left)
        except TimeoutError:
            raise AssertionError(
                f"no answer in {TIMEOUT}s; waiting for {self.outstanding}"
            ) from None
        frame = decode(data, self.encoding)
        self.check(frame)
        return frame

    def check(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind in ("ok", "error"):
            if kind == "error":
                assert frame.get("code") in CODES, f"not a contract code: {frame}"
                assert isinstance(frame.get("detail"), str) and frame["detail"], frame
                # The database and Redis are up all along: `unavailable` here is an
                # unexpected exception in the server turned into "internal error; retry".
                assert frame["code"] != "unavailable", f"an internal error: {frame}"
            rid = frame.get("rid")
            if rid is not None:
                assert rid in self.outstanding, f"a reply to no outstanding rid: {frame}"
                self.outstanding.discard(rid)
        if self.visitor:
            found = frame.get("events") or ([frame["event"]] if "event" in frame else [])
            for event in found:
                assert event.get("visibility") == "public", f"internal to a visitor: {frame}"

    def exchange(self, item: Input) -> int | None:
        """Send one input and a ping; wait for both answers. The close code, if closed."""
        if self.ws is None:
            self.open()
        assert self.ws is not None
        ping = fresh_rid("valid")
        waiting = {ping} | ({item.expect} if item.expect else set())
        self.outstanding |= waiting | set(item.maybe)
        try:
            self.ws.send(item.data, text=item.text)
            self.ws.send(encode({"type": "ping", "rid": ping}, self.encoding))
            deadline = time.monotonic() + TIMEOUT
            while waiting:
                before = set(self.outstanding)
                frame = self.read(deadline)
                answered = before - self.outstanding
                if ping in answered:
                    assert frame["type"] == "ok", f"ping answered {frame}"
                waiting -= answered
        except ConnectionClosed as exc:
            self.drop()
            code = exc.rcvd.code if exc.rcvd is not None else None
            sent = exc.sent.code if exc.sent is not None else None
            closes = item.closes | (TOO_BIG_CLOSES if item.size > MAX_FRAME_BYTES else set())
            if code is None:
                assert None in closes, f"dropped without a close frame (we sent {sent})"
            assert code in closes, f"closed with {code} {exc.rcvd}"
            return code
        except BaseException:
            self.drop()
            raise
        return None

    def alive(self) -> None:
        assert self.desk.proc is not None and self.desk.proc.poll() is None, "server died"
        assert self.http.get("/healthz").status_code == 200


def run(strategy: st.SearchStrategy[Any], check: Callable[[Any], None], examples: int) -> None:
    @fuzz_settings(examples)
    @given(strategy)
    def example(value: Any) -> None:
        note(repr(value))
        check(value)

    example()


# --------------------------------------------------------------------------- fixtures


def rest(desk: Server, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method, desk.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT, **kw
    )


@dataclass
class Env:
    """What the fuzzing sockets act on: their own agents, tickets and uploads."""

    desk: Server
    agent_token: str
    agent_id: int
    owner_id: int
    visitor_token: str
    customer_id: int
    own_tickets: list[int]
    other_tickets: list[int]
    visitor_uploads: list[str]
    agent_uploads: list[str]

    @property
    def tickets(self) -> list[int]:
        return self.own_tickets + self.other_tickets


def sync_visitor(desk: Server, token: str | None = None) -> Socket:
    sock = Socket(desk, "/ws/visitor", "json", {"type": "hello", "site": desk.site_key})
    sock.hello["visitor_token"] = token
    sock.open()
    return sock


def request(sock: Socket, frame: dict[str, Any]) -> dict[str, Any]:
    assert sock.ws is not None
    rid = fresh_rid("valid")
    sock.outstanding.add(rid)
    sock.ws.send(encode({**frame, "rid": rid}, sock.encoding))
    deadline = time.monotonic() + TIMEOUT
    while rid in sock.outstanding:
        reply = sock.read(deadline)
    assert reply["type"] == "ok", reply
    return reply


def new_agent(desk: Server, admin: str, label: str) -> tuple[int, str]:
    email = f"{label}-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "name": label.title(), "password": "fuzz-password", "role": "agent"}
    created = rest(desk, "POST", "/api/v1/agents", admin, json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"], desk.login(email, "fuzz-password")


def upload(desk: Server, auth: str) -> str:
    path = "/api/v1/visitor/uploads" if auth.startswith("Visitor") else "/api/v1/uploads"
    r = httpx.post(
        desk.url + path,
        headers={"Authorization": auth},
        files={"file": ("dot.png", io.BytesIO(PNG), "image/png")},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture(scope="module")
def env(desk: Server, tokens: dict[str, str]) -> Env:
    """A fuzz agent with tickets of its own, another's tickets, and a fuzz visitor."""
    agent_id, agent_token = new_agent(desk, tokens["admin"], "fuzzer")
    owner_id, owner_token = new_agent(desk, tokens["admin"], "owner")
    tickets = []
    for i in range(4):
        v = sync_visitor(desk)
        tickets.append(
            request(v, {"type": "message", "client_msg_id": f"seed{i}", "body": "seed"})["ticket"]
        )
        v.close()
    claimer = Socket(desk, "/ws/agent", "json", {"type": "hello", "token": agent_token})
    claimer.open()
    owner = Socket(desk, "/ws/agent", "json", {"type": "hello", "token": owner_token})
    owner.open()
    for ticket in tickets[:2]:
        request(claimer, {"type": "claim", "ticket": ticket})
    request(owner, {"type": "claim", "ticket": tickets[2]})  # tickets[3] stays new
    claimer.close()
    owner.close()
    v = sync_visitor(desk)
    token = v.welcome["visitor_token"]
    customer = v.welcome["customer"]["id"]
    v.close()
    return Env(
        desk=desk,
        agent_token=agent_token,
        agent_id=agent_id,
        owner_id=owner_id,
        visitor_token=token,
        customer_id=customer,
        own_tickets=tickets[:2],
        other_tickets=tickets[2:],
        visitor_uploads=[upload(desk, f"Visitor {token}") for _ in range(2)],
        agent_uploads=[upload(desk, f"Bearer {agent_token}")],
    )


def channel_socket(env: Env, channel: str, encoding: str) -> Socket:
    if channel == "visitor":
        hello = {"type": "hello", "site": env.desk.site_key, "visitor_token": env.visitor_token}
        return Socket(env.desk, "/ws/visitor", encoding, hello)
    return Socket(env.desk, "/ws/agent", encoding, {"type": "hello", "token": env.agent_token})


CHANNELS = [("visitor", "json"), ("visitor", "msgpack"), ("agent", "json"), ("agent", "msgpack")]
channels = pytest.mark.parametrize(
    "channel,encoding", CHANNELS, ids=[f"{c}-{e}" for c, e in CHANNELS]
)


def fuzz(env: Env, channel: str, encoding: str, inputs: st.SearchStrategy[Any], n: int) -> None:
    sock = channel_socket(env, channel, encoding)

    def check(made: Callable[[str], Input]) -> None:
        item = made(encoding)
        note(repr(item))
        sock.exchange(item)
        sock.alive()

    try:
        run(inputs, check, n)
    finally:
        sock.close()


# --------------------------------------------------------------------------- frames

VISITOR_FIELDS = {
    "message": ["client_msg_id", "body", "attachments"],
    "typing": ["on"],
    "read": ["seq"],
    "profile": ["name", "email"],
    "sync": ["after_seq"],
    "rating": ["score", "comment"],
    "ping": [],
}  # not `transcript`: a valid one sends e-mail
AGENT_FIELDS = {
    "watch": ["ticket", "after_seq"],
    "unwatch": ["ticket"],
    "claim": ["ticket"],
    "release": ["ticket"],
    "transfer": ["ticket", "agent", "group"],
    "send": ["ticket", "client_msg_id", "body", "attachments", "force"],
    "note": ["ticket", "client_msg_id", "body", "attachments", "cross_post"],
    "status": ["ticket", "to", "reason", "reply"],
    "labels": ["ticket", "add", "remove"],
    "typing": ["ticket", "on"],
    "request_access": ["ticket"],
    "answer_access": ["ticket", "agent", "grant"],
    "revoke_access": ["ticket", "agent"],
    "mask": ["ticket", "seq", "ranges"],
    "unmask": ["ticket", "seq"],
    "restore": ["ticket"],
    "sync": ["ticket", "after_seq"],
    "presence": ["status"],
    "ping": [],
}
UNANSWERED = {"typing"}


def field_values(env: Env, channel: str) -> dict[str, st.SearchStrategy[Any]]:
    """Plausible values for each field, so frames get past parsing and reach services."""
    small = st.one_of(st.integers(-2, 40), edge_ints)
    ids = st.sampled_from(
        [*env.tickets, 0, -1, 2**31 - 1, 2**31 - 2]
        if channel == "agent"
        else [0, 2**31 - 1]  # visitor frames have no ticket field
    )
    bodies = st.one_of(st.text(chars, min_size=1, max_size=120), long_texts)
    uploads = env.visitor_uploads if channel == "visitor" else env.agent_uploads
    labels = st.one_of(
        st.sampled_from(["fz-a", "fz-b", "FZ-A", " fz  c ", "İ" * 40, "fz-" + "x" * 62]),
        short_texts,
    )
    return {
        "ticket": ids,
        "agent": st.sampled_from([env.agent_id, env.owner_id, 0, 2**31 - 1]),
        "group": st.sampled_from([0, -1, 2**31 - 1]),
        "seq": small,
        "after_seq": small,
        "client_msg_id": st.one_of(st.uuids().map(lambda u: u.hex), short_texts),
        "body": bodies,
        "attachments": st.lists(
            st.one_of(st.sampled_from(uploads), st.uuids().map(lambda u: u.hex)), max_size=3
        ),
        "on": st.booleans(),
        "grant": st.booleans(),
        "force": st.booleans(),
        "cross_post": st.booleans(),
        "to": st.one_of(st.sampled_from(STATUSES), short_texts),
        "reason": st.one_of(st.sampled_from(["spam", "test", "other"]), short_texts),
        "reply": st.one_of(st.fixed_dictionaries({"body": bodies}), values),
        "score": st.one_of(st.integers(0, 6), edge_ints),
        "comment": st.one_of(short_texts, long_texts),
        "add": st.lists(labels, max_size=3),
        "remove": st.lists(labels, max_size=3),
        "ranges": st.lists(st.lists(st.integers(-2, 130), max_size=3), max_size=3),
        "name": st.one_of(short_texts, long_texts),
        "email": st.one_of(st.emails(), short_texts),
        "status": st.one_of(st.sampled_from(["online", "away"]), short_texts),
    }


def known_frames(env: Env, channel: str) -> st.SearchStrategy[Callable[[str], Input]]:
    table = VISITOR_FIELDS if channel == "visitor" else AGENT_FIELDS
    plausible = field_values(env, channel)

    @st.composite
    def frames(draw: st.DrawFn) -> Callable[[str], Input]:
        kind = draw(st.sampled_from(sorted(table)))
        frame: dict[str, Any] = {"type": kind}
        for name in table[kind]:
            how = draw(st.sampled_from(["plausible", "plausible", "plausible", "random", "absent"]))
            if how == "plausible":
                frame[name] = draw(plausible[name])
            elif how == "random":
                frame[name] = draw(values)
        extra = draw(st.dictionaries(short_texts, values, max_size=2))
        for key, value in extra.items():
            frame.setdefault(key, value)
        frame["rid"] = Rid(draw(st.sampled_from(["valid", "valid", "valid", "absent"])))
        return lambda encoding: frame_input(frame, encoding, answers=kind not in UNANSWERED)

    return frames()


@channels
def test_known_types_with_random_fields(env, channel, encoding):
    fuzz(env, channel, encoding, known_frames(env, channel), 150)


def envelopes(channel: str) -> st.SearchStrategy[Callable[[str], Input]]:
    """Every kind of `rid` on maps of known and unknown types, `type`s that are no
    string, maps without one, and roots that are no map at all."""
    table = VISITOR_FIELDS if channel == "visitor" else AGENT_FIELDS
    rest = st.dictionaries(short_texts, values, max_size=3)

    def framed(types: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.builds(
            lambda t, rid, more: {**more, "type": t, "rid": Rid(rid)},
            types,
            st.sampled_from(RID_KINDS),
            rest,
        )

    named = framed(
        st.one_of(
            st.sampled_from([*sorted(table), "hello", "welcome", "ok", "error", "event"]),
            short_texts,
        )
    )
    templates = mix(
        named,
        named,
        named,
        framed(values),  # a type that is mostly no string
        st.builds(
            lambda rid, more: {**more, "rid": Rid(rid)}, st.sampled_from(RID_KINDS), rest
        ).map(lambda m: {k: v for k, v in m.items() if k != "type"}),
        st.builds(lambda t, rid: {"type": t, "rid": rid}, st.sampled_from(sorted(table)), not_text),
        scalars,
        st.lists(values, max_size=4),
    )

    def made(t: Any) -> Callable[[str], Input]:
        answers = not (
            isinstance(t, dict) and isinstance(t.get("type"), str) and t["type"] in UNANSWERED
        )
        return lambda encoding: frame_input(t, encoding, answers=answers)

    return templates.map(made)


@channels
def test_random_types_rids_and_roots(env, channel, encoding):
    fuzz(env, channel, encoding, envelopes(channel), 150)


def _raw(data: str | bytes, text: bool | None = None, closes=ALLOWED_CLOSES):
    return lambda encoding: Input(data, text=text, closes=closes)


def _corrupt(extra: Any, cut: int, flip: int) -> Callable[[str], Input]:
    """A ping (without rid: a flipped byte could make any rid) cut short or altered."""

    def make(encoding: str) -> Input:
        data = encode({"type": "ping", "x": extra}, encoding)
        raw = bytearray(data.encode() if isinstance(data, str) else data)
        raw = raw[: max(0, len(raw) - cut)]
        if raw and flip:
            raw[flip % len(raw)] ^= 0x5A
        if encoding == "json":
            return Input(raw.decode("utf-8", errors="replace"))
        return Input(bytes(raw))

    return make


def _in_msgpack(value: Any) -> Callable[[str], Input]:
    """A msgpack ping carrying an ext type, a timestamp or a string that is not UTF-8."""

    def make(encoding: str) -> Input:
        rid = fresh_rid("valid")
        frame = {"type": "ping", "rid": rid, "x": value}
        data = msgpack.packb(frame, use_bin_type=True, unicode_errors="surrogatepass")
        return Input(data, maybe=(rid,))

    return make


raw_inputs = mix(
    st.binary(max_size=200).map(_raw),
    st.text(chars.filter(lambda c: not 0xD800 <= ord(c) <= 0xDFFF), max_size=200).map(_raw),
    st.sampled_from(["", "{", "}", "[]", "null", "1e999", '"type"', "{}", '{"type":null}']).map(
        _raw
    ),
    # A text frame that is not UTF-8: the WebSocket layer itself must close with 1007.
    st.binary(min_size=1, max_size=20)
    .filter(lambda b: not _is_utf8(b))
    .map(lambda b: _raw(b, text=True, closes=INVALID_UTF8_CLOSES)),
    # Strings that are not UTF-8 inside a msgpack map; ext types and timestamps.
    st.builds(
        _in_msgpack,
        st.one_of(
            st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8)),
            st.builds(msgpack.Timestamp, st.integers(0, 2**34)),
            st.text(st.sampled_from(["\ud800", "\udfff", "a"]), min_size=1, max_size=4),
        ),
    ),
    # Valid frames cut short or with a flipped byte; frames just over the size limit.
    st.builds(_corrupt, values, st.integers(0, 8), st.integers(0, 40)),
    st.sampled_from([MAX_FRAME_BYTES + 1, 2 * MAX_FRAME_BYTES]).map(
        lambda n: _raw("x" * n, closes=frozenset({1009}))
    ),
)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@channels
def test_raw_bytes_and_text(env, channel, encoding):
    fuzz(env, channel, encoding, raw_inputs, 120)


def _nested(depth: int, shape: str, encoding: str, inside: bool) -> Input:
    """`depth` levels of lists or maps, as the root or as a field of a ping frame."""
    rid = fresh_rid("valid")
    if encoding == "msgpack":
        level, leaf = (b"\x91", b"\xc0") if shape == "list" else (b"\x81\xa1a", b"\xc0")
        deep = level * depth + leaf
        if not inside:
            return Input(deep)
        head = msgpack.packb({"type": "ping", "rid": rid}, use_bin_type=True)
        data = bytes([head[0] + 1]) + head[1:] + msgpack.packb("x") + deep
        return Input(data, maybe=(rid,))
    opened, closed = ("[", "]") if shape == "list" else ('{"a":', "}")
    deep = opened * depth + "0" + closed * depth
    if not inside:
        return Input(deep)
    return Input(f'{{"type":"ping","rid":"{rid}","x":{deep}}}', maybe=(rid,))


deep_inputs = st.builds(
    lambda depth, shape, inside: lambda encoding: _nested(depth, shape, encoding, inside),
    st.one_of(st.integers(2, 1200), st.sampled_from([990, 1000, 1100, 5000, 10_000, 12_000])),
    st.sampled_from(["list", "map"]),
    st.booleans(),
)


@channels
def test_deeply_nested_frames(env, channel, encoding):
    fuzz(env, channel, encoding, deep_inputs, 40)


# --------------------------------------------------------------------------- hello


def hello_inputs(env: Env, channel: str) -> st.SearchStrategy[Callable[[str], Input]]:
    if channel == "visitor":
        fields = {
            "site": st.one_of(st.just(env.desk.site_key), short_texts, values),
            "visitor_token": st.one_of(st.none(), st.just(env.visitor_token), texts, values),
            "identity": st.one_of(st.none(), st.dictionaries(short_texts, values), values),
            "after_seq": st.one_of(ints, values),
            "page_url": st.one_of(texts, values),
        }
    else:
        fields = {"token": st.one_of(st.just(env.agent_token), texts, values)}

    @st.composite
    def hellos(draw: st.DrawFn) -> Any:
        frame: dict[str, Any] = {"type": draw(st.sampled_from(["hello", "hello", "hello", "x"]))}
        for name, strategy in fields.items():
            if draw(st.booleans()):
                frame[name] = draw(strategy)
        return frame

    templates = mix(hellos(), hellos(), hellos(), values)
    return mix(
        templates.map(lambda t: lambda encoding: Input(encode(t, encoding))),
        raw_inputs,
    )  # deep nesting in a hello: test_deeply_nested_json_hello_is_refused_with_4401


def first_frame(env: Env, channel: str, encoding: str, item: Input) -> None:
    """A fresh socket whose first frame is `item`: welcomed, or one error then 4401."""
    path = "/ws/visitor" if channel == "visitor" else "/ws/agent"
    sock = Socket(env.desk, path, encoding, {})
    ws = sock.connect()
    try:
        ws.send(item.data, text=item.text)
        frames = []
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:
                frame = decode(
                    ws.recv(timeout=max(0.01, deadline - time.monotonic())), sock.encoding
                )
                frames.append(frame)
                if frame["type"] == "welcome":
                    sock.ws = ws
                    assert sock.exchange(Input(encode({"type": "ping"}, sock.encoding))) is None
                    return
                assert frame["type"] == "error", frames
                assert frame.get("code") in CODES and frame["code"] != "unavailable", frames
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code is None and item.size > MAX_FRAME_BYTES:
                return  # see TOO_BIG_CLOSES
            assert code is not None, f"dropped without a close frame; got {frames}"
            if code == 4401:
                assert [f["type"] for f in frames] == ["error"], f"4401 after {frames}"
            else:
                assert code in item.closes, f"closed with {code} after {frames}"
        except TimeoutError:
            raise AssertionError(f"neither welcome nor close in {TIMEOUT}s: {frames}") from None
    finally:
        ws.close()
        sock.http.close()


@channels
def test_first_frames_are_welcomed_or_refused_with_4401(env, channel, encoding):
    inputs = hello_inputs(env, channel)
    http = httpx.Client(base_url=env.desk.url)

    def check(made: Callable[[str], Input]) -> None:
        item = made(encoding)
        note(repr(item))
        first_frame(env, channel, encoding, item)
        assert env.desk.proc is not None and env.desk.proc.poll() is None, "server died"
        assert http.get("/healthz").status_code == 200

    try:
        run(inputs, check, 50)
    finally:
        http.close()


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
def test_every_valid_visitor_hello_is_welcomed(env, encoding):
    """What the widget may send (page_url up to 2000 characters) and unknown fields."""
    clean = st.text(chars.filter(lambda c: c != "\x00" and not 0xD800 <= ord(c) <= 0xDFFF))
    strategy = st.fixed_dictionaries(
        {"type": st.just("hello"), "site": st.just(env.desk.site_key)},
        optional={
            "visitor_token": st.one_of(st.none(), st.just(env.visitor_token)),
            "identity": st.one_of(st.none(), st.dictionaries(short_texts, values, max_size=4)),
            "after_seq": st.one_of(st.none(), st.integers(0, 2**31 - 1)),
            "page_url": st.one_of(
                st.none(),
                clean.map(lambda s: s[:2000]),
                st.integers(0, 2000).map(lambda n: ("https://shop.example.com/p?q=" + "a" * n)[:n]),
            ),
            "zz_unknown": values,
        },
    ).filter(
        lambda hello: (
            (encoding == "json" or msgpack_decodable(hello))
            and len(encode(hello, encoding)) <= MAX_FRAME_BYTES
        )
    )

    def check(hello: dict[str, Any]) -> None:
        sock = Socket(env.desk, "/ws/visitor", encoding, hello)
        try:
            sock.open()  # asserts a welcome
            assert sock.exchange(Input(encode({"type": "ping"}, encoding))) is None
        finally:
            sock.close()

    run(strategy, check, 40)


# --------------------------------------------------------------------------- REST bodies


def rest_bodies() -> st.SearchStrategy[Any]:
    deep = st.builds(
        lambda depth, key: ("{" + f'"{key}":' + "[" * depth + "]" * depth + "}").encode(),
        st.one_of(st.integers(1, 1200), st.sampled_from([5_000, 20_000])),
        st.sampled_from(["email", "name", "body", "add"]),
    )
    documents = st.one_of(
        st.dictionaries(
            st.sampled_from(["email", "password", "name", "body", "add", "remove", "x"]),
            values,
            max_size=4,
        ),
        values,
    ).map(lambda v: json.dumps(v, default=_json_default).encode())
    return mix(documents, documents, deep, st.binary(max_size=100))


def test_json_bodies_never_fail_with_500(env):
    """REST parses the same untrusted JSON: any body is answered with a contract error."""
    token = env.agent_token
    targets = [
        ("POST", "/api/v1/auth/login", None),
        ("PATCH", f"/api/v1/customers/{env.customer_id}", token),
        ("POST", f"/api/v1/customers/{env.customer_id}/notes", token),
        ("POST", f"/api/v1/tickets/{env.own_tickets[0]}/labels", token),
    ]
    http = httpx.Client(base_url=env.desk.url, timeout=TIMEOUT)

    def check(case: tuple[tuple[str, str, str | None], bytes]) -> None:
        (method, path, auth), body = case
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {auth}"
        r = http.request(method, path, content=body, headers=headers)
        assert r.status_code < 500, f"{method} {path} answered {r.status_code}: {r.text[:300]}"
        if r.status_code >= 400:
            assert r.json()["code"] in CODES, r.text

    try:
        run(st.tuples(st.sampled_from(targets), rest_bodies()), check, 100)
    finally:
        http.close()


# --------------------------------------------------------------------------- found by fuzzing


@pytest.mark.parametrize("path", ["/ws/visitor", "/ws/agent"])
def test_a_rid_with_a_lone_surrogate_is_answered_not_1011(env, path):
    """The error for a bad rid must not echo text that cannot be encoded back."""
    sock = channel_socket(env, "visitor" if path == "/ws/visitor" else "agent", "json")
    try:
        item = Input('{"type": "ping", "rid": "fz\\ud800"}', maybe=("fz\ud800",))
        assert sock.exchange(item) is None
    finally:
        sock.close()


@pytest.mark.parametrize("path", ["/ws/visitor", "/ws/agent"])
@pytest.mark.parametrize("inside", [False, True], ids=["root", "field"])
def test_deeply_nested_json_is_a_bad_request(env, path, inside):
    """5000 levels is 10 KB, well under the frame limit: an error, not a dropped socket."""
    sock = channel_socket(env, "visitor" if path == "/ws/visitor" else "agent", "json")
    try:
        assert sock.exchange(_nested(5000, "list", "json", inside)) is None
    finally:
        sock.close()


@pytest.mark.parametrize("path", ["/ws/visitor", "/ws/agent"])
def test_deeply_nested_json_hello_is_refused_with_4401(env, path):
    deep = "[" * 5000 + "]" * 5000
    first_frame(env, path.rsplit("/", 1)[1], "json", Input(f'{{"type":"hello","site":{deep}}}'))


def test_a_long_page_url_from_the_widget_is_welcomed(env):
    """The widget sends location.href cut to 2000 characters; a hello with it is valid."""
    url = "https://shop.example.com/checkout?" + "&".join(f"utm_{i}=value{i}" for i in range(60))
    hello = {"type": "hello", "site": env.desk.site_key, "page_url": url[:2000]}
    sock = Socket(env.desk, "/ws/visitor", "json", hello)
    try:
        sock.open()
    finally:
        sock.close()


def test_deeply_nested_rest_body_is_a_bad_request(env):
    for path in ("/api/v1/auth/login", f"/api/v1/customers/{env.customer_id}"):
        body = '{"email":' + "[" * 5000 + "]" * 5000 + "}"
        r = httpx.request(
            "POST" if path.endswith("login") else "PATCH",
            env.desk.url + path,
            content=body,
            headers={"Authorization": f"Bearer {env.agent_token}"},
        )
        assert r.status_code == 400 and r.json()["code"] == "bad_request", (path, r.text[:200])


def test_a_label_longer_once_lower_cased_is_refused_cleanly(env):
    """'İ'.lower() is two characters: 40 of them pass the 64-character check, then grow."""
    sock = channel_socket(env, "agent", "json")
    try:
        item = frame_input(
            {
                "type": "labels",
                "ticket": env.own_tickets[0],
                "add": ["İ" * 40],
                "rid": Rid("valid"),
            },
            "json",
        )
        assert sock.exchange(item) is None
    finally:
        sock.close()
    ticket = rest(env.desk, "GET", f"/api/v1/tickets/{env.own_tickets[0]}", env.agent_token)
    assert all(len(label) <= 64 for label in ticket.json()["labels"]), ticket.json()["labels"]


async def test_a_write_the_database_refuses_fails_alone(env):
    """Writes share a transaction in batches: one the database refuses (that label is too
    long for its column once lower-cased) must fail alone, not the messages of visitors
    who happened to be in the same batch."""
    fuzzer = await agent(env.desk, env.agent_token)
    visitors = [await visitor(env.desk) for _ in range(10)]
    label = {"type": "labels", "ticket": env.own_tickets[1], "add": ["İ" * 40]}
    failed = []
    for _ in range(5):
        replies = await asyncio.gather(
            fuzzer.request(dict(label)),
            *(
                v.request({"type": "message", "client_msg_id": uuid.uuid4().hex, "body": "hi"})
                for v in visitors
            ),
        )
        failed += [r for r in replies[1:] if r["type"] != "ok"]
    assert not failed, f"{len(failed)} innocent messages failed: {failed[0]}"
    for c in (fuzzer, *visitors):
        await c.close()


# --------------------------------------------------------------------------- the store


def check_text(what: str, value: Any, low: int, high: int) -> None:
    assert isinstance(value, str), f"{what} is not text: {value!r:.200}"
    assert low <= len(value) <= high, f"{what} has {len(value)} characters"
    assert "\x00" not in value, f"{what} holds NUL"
    value.encode("utf-8")  # no lone surrogates


def all_pages(http: httpx.Client, path: str, cursor_param: str, **params: Any) -> Iterable[Any]:
    cursor = None
    while True:
        query = dict(params)
        if cursor is not None:
            query[cursor_param] = cursor
        r = http.get(path, params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        yield from page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def test_the_store_holds_nothing_invalid(env, tokens):
    """Read every ticket and event back: valid bodies, labels, and gap-free seqs."""
    http = httpx.Client(
        base_url=env.desk.url, headers={"Authorization": f"Bearer {tokens['admin']}"}, timeout=30
    )
    try:
        tickets = list(all_pages(http, "/api/v1/tickets", "cursor", limit=100))
        assert tickets
        customers: set[int] = set()
        for ticket in tickets:
            tid = ticket["id"]
            assert ticket["status"] in STATUSES, ticket
            check_text(f"ticket {tid} subject", ticket["subject"], 0, 200)
            for label in ticket["labels"]:
                check_text(f"ticket {tid} label", label, 1, 64)
                assert label == label.lower() and label == " ".join(label.split()), label
            if ticket.get("customer"):
                customers.add(ticket["customer"]["id"])
            events = list(all_pages(http, f"/api/v1/tickets/{tid}/events", "after_seq", limit=1000))
            seqs = [e["seq"] for e in events]
            assert seqs == list(range(1, len(seqs) + 1)), f"ticket {tid} seqs {seqs}"
            assert len(seqs) == ticket["last_seq"], f"ticket {tid}: last_seq {ticket['last_seq']}"
            for e in events:
                assert e["ticket"] == tid and e["visibility"] in ("public", "internal"), e
                if e["kind"] in ("message", "note"):
                    check_text(f"ticket {tid} event {e['seq']} body", e["body"], 1, 10_000)
                    assert e["body"].strip(), e
                    assert e["visibility"] == ("public" if e["kind"] == "message" else "internal")
                    for att in e.get("attachments", []):
                        assert set(att) >= {"id", "filename", "content_type", "size", "url"}, att
                if e["kind"] == "labels":
                    for label in e["added"] + e["removed"]:
                        check_text(f"ticket {tid} labels event", label, 1, 64)
        for customer in sorted(customers)[-200:]:
            shown = http.get(f"/api/v1/customers/{customer}").json()
            if shown.get("name") is not None:
                check_text(f"customer {customer} name", shown["name"], 1, 200)
            if shown.get("email") is not None:
                check_text(f"customer {customer} email", shown["email"], 3, 320)
                assert "@" in shown["email"], shown["email"]
    finally:
        http.close()
