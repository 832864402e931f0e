"""Every bad frame gets the contract's error, stores nothing, and leaves the socket usable."""
# ruff: noqa: E501  (one bad frame a line reads best)

from __future__ import annotations

import json
import uuid

import msgpack
import pytest

from tests.client import Client, agent, visitor

BAD_VISITOR_FRAMES = [
    ("not json", "{nope"),
    ("not a map", "[1, 2]"),
    ("no type", json.dumps({"rid": "x"})),
    ("unknown type", json.dumps({"type": "explode", "rid": "x"})),
    ("body not text", json.dumps({"type": "message", "rid": "x", "client_msg_id": "a", "body": 5})),
    ("missing body", json.dumps({"type": "message", "rid": "x", "client_msg_id": "a"})),
    ("empty body", json.dumps({"type": "message", "rid": "x", "client_msg_id": "a", "body": " "})),
    ("NUL in body", json.dumps({"type": "message", "rid": "x", "client_msg_id": "a", "body": "a\0b"})),
    ("lone surrogate", '{"type": "message", "rid": "x", "client_msg_id": "a", "body": "\\ud800"}'),
    ("body too long", json.dumps({"type": "message", "rid": "x", "client_msg_id": "a", "body": "x" * 10001})),
    ("rid too long", json.dumps({"type": "message", "rid": "r" * 65, "client_msg_id": "a", "body": "b"})),
    ("bool as seq", json.dumps({"type": "sync", "rid": "x", "after_seq": True})),
    ("huge seq", json.dumps({"type": "sync", "rid": "x", "after_seq": 2**40})),
    ("attachments not list", json.dumps({"type": "message", "rid": "x", "client_msg_id": "a", "body": "b", "attachments": "no"})),
]  # fmt: skip


@pytest.mark.parametrize("label,raw", BAD_VISITOR_FRAMES, ids=[b[0] for b in BAD_VISITOR_FRAMES])
async def test_bad_visitor_frame_is_refused_and_connection_stays(desk, tokens, label, raw):
    v = await visitor(desk)
    await v.send_raw(raw)
    error = await v.push(lambda f: f["type"] == "error")
    assert error["code"] == "bad_request", error
    assert error["detail"]
    # Still usable, and nothing was stored: the visitor has no ticket yet.
    ok = await v.ok({"type": "sync", "after_seq": 0})
    assert ok["events"] == []
    again = await visitor(desk, token=v.welcome["visitor_token"])
    assert again.welcome["ticket"] is None
    await v.close()
    await again.close()


async def test_bad_msgpack_frames(desk, tokens):
    v = await visitor(desk, encoding="msgpack")
    for raw in (b"\xc1", msgpack.packb([1, 2]), msgpack.packb({1: "x", "type": "sync"}), b""):
        await v.send_raw(raw)
        error = await v.push(lambda f: f["type"] == "error")
        assert error["code"] == "bad_request"
    await v.send_raw("text frame on msgpack")
    assert (await v.push(lambda f: f["type"] == "error"))["code"] == "bad_request"
    assert (await v.ok({"type": "sync", "after_seq": 0}))["events"] == []
    await v.close()


BAD_AGENT_FRAMES = [
    {"type": "claim", "ticket": "1"},
    {"type": "claim"},
    {"type": "send", "ticket": 1, "client_msg_id": "x", "body": None},
    {"type": "labels", "ticket": 1, "add": [1]},
    {"type": "status", "ticket": 1, "to": "flying"},
    {"type": "watch", "ticket": 1.5},
    {"type": "mask", "ticket": 1, "seq": 1, "ranges": "0-3"},
]


@pytest.mark.parametrize(
    "frame", BAD_AGENT_FRAMES, ids=[str(i) for i in range(len(BAD_AGENT_FRAMES))]
)
async def test_bad_agent_frame_is_refused(desk, tokens, frame):
    a = await agent(desk, tokens["ana"])
    reply = await a.request(dict(frame))
    assert reply["type"] == "error" and reply["code"] == "bad_request", reply
    assert (await a.ok({"type": "ping"}))["type"] == "ok"
    await a.close()


async def test_unknown_ticket_is_not_found(desk, tokens):
    a = await agent(desk, tokens["ana"])
    for frame in (
        {"type": "claim", "ticket": 999999},
        {"type": "watch", "ticket": 999999},
        {"type": "send", "ticket": 999999, "client_msg_id": uuid.uuid4().hex, "body": "x"},
        {"type": "sync", "ticket": 999999, "after_seq": 0},
    ):
        reply = await a.request(frame)
        assert reply["type"] == "error" and reply["code"] == "not_found", reply
    await a.close()


async def test_forged_visitor_token_closes_4401(desk):
    v = await visitor(desk, token="forged-token-" + "x" * 30)
    assert v.welcome["type"] == "error" and v.welcome["code"] == "unauthorized"
    assert (await v.closed)[0] == 4401


async def test_unknown_site_closes_4401(desk):
    v = await visitor(desk, site="no-such-site")
    assert v.welcome["code"] == "unauthorized"
    assert (await v.closed)[0] == 4401


async def test_forged_agent_token_closes_4401(desk):
    a = await agent(desk, "forged")
    assert a.welcome["code"] == "unauthorized"
    assert (await a.closed)[0] == 4401


async def test_first_frame_must_be_hello(desk):
    c = await Client.open(desk.ws("/ws/agent"))
    await c.send({"type": "claim", "rid": "1", "ticket": 1})
    error = await c.push(lambda f: f["type"] == "error")
    assert error["code"] == "unauthorized"
    assert (await c.closed)[0] == 4401


async def test_frame_over_size_limit_closes_1009(desk):
    v = await visitor(desk)
    await v.send_raw("x" * (70 * 1024))
    assert (await v.closed)[0] == 1009


async def test_unanswered_agent_cannot_write_others_ticket(desk, tokens):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": uuid.uuid4().hex, "body": "hi"}))[
        "ticket"
    ]
    ana = await agent(desk, tokens["ana"])
    bo = await agent(desk, tokens["bo"])
    await ana.ok({"type": "claim", "ticket": ticket})
    for frame in (
        {"type": "send", "ticket": ticket, "client_msg_id": uuid.uuid4().hex, "body": "hijack"},
        {"type": "note", "ticket": ticket, "client_msg_id": uuid.uuid4().hex, "body": "n"},
        {"type": "status", "ticket": ticket, "to": "solved"},
        {"type": "labels", "ticket": ticket, "add": ["x"]},
        {"type": "release", "ticket": ticket},
    ):
        reply = await bo.request(frame)
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    # Bo may still read it: watching is open to every agent.
    watched = await bo.ok({"type": "watch", "ticket": ticket})
    assert [e["kind"] for e in watched["events"]] == ["message", "assigned", "status"]
    for c in (v, ana, bo):
        await c.close()
