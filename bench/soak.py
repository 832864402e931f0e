"""A soak: clients connect, drop and reconnect at random for minutes; afterwards every
acknowledged message must be held exactly once by its recipients, and the servers'
memory must be flat.

    python -m bench.soak --minutes 10 [--visitors 40] [--agents 4] [--sqlite]

Runs two server processes on PostgreSQL + Redis (the production setup) unless
--sqlite (one process, the embedded default). Prints a report and exits 1 when a
message was lost or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import Backend, Server

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclasses.dataclass
class Tally:
    acked: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # cmid -> t, seq
    errors: list[str] = dataclasses.field(default_factory=list)
    reconnects: int = 0
    sent: int = 0


class SoakVisitor:
    def __init__(self, n: int, servers: list[Server], site: str, tally: Tally) -> None:
        self.n = n
        self.servers = servers
        self.site = site
        self.tally = tally
        self.token: str | None = None
        self.ticket: int | None = None
        self.last_seq = 0
        self.outbox: dict[str, str] = {}  # client_msg_id -> body, until acked
        self.seen: list[int] = []  # seqs of agent messages received, in order
        self.dupes = 0

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            server = random.choice(self.servers)
            try:
                await self._session(server, until)
            except (ConnectionClosed, OSError, InvalidStatus, TimeoutError):
                pass
            self.tally.reconnects += 1
            await asyncio.sleep(random.uniform(0.05, 1.0))
        # A last clean session to flush the outbox and catch up.
        for _ in range(10):
            if not self.outbox:
                break
            try:
                await self._session(random.choice(self.servers), time.monotonic() + 3)
            except (ConnectionClosed, OSError, InvalidStatus, TimeoutError):
                await asyncio.sleep(0.5)

    async def _session(self, server: Server, until: float) -> None:
        lifetime = time.monotonic() + random.uniform(2, 20)
        async with connect(server.ws("/ws/visitor"), subprotocols=["chatdesk.json"]) as ws:
            hello = {"type": "hello", "site": self.site, "visitor_token": self.token,
                     "after_seq": self.last_seq}  # fmt: skip
            await ws.send(json.dumps(hello))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if welcome["type"] != "welcome":
                self.tally.errors.append(f"visitor {self.n}: {welcome}")
                return
            self.token = welcome["visitor_token"]
            for event in welcome["events"]:
                self._event(event)
            pending: dict[str, str] = {}
            for cmid, body in list(self.outbox.items()):  # resend what was never acked
                rid = secrets.token_hex(4)
                pending[rid] = cmid
                await ws.send(json.dumps({"type": "message", "rid": rid, "client_msg_id": cmid,
                                          "body": body}))  # fmt: skip
            next_send = time.monotonic() + random.uniform(0.2, 2)
            while time.monotonic() < min(lifetime, until):
                timeout = max(0.01, next_send - time.monotonic())
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                except TimeoutError:
                    cmid = secrets.token_hex(8)
                    body = f"v{self.n} {cmid}"
                    self.outbox[cmid] = body
                    rid = secrets.token_hex(4)
                    pending[rid] = cmid
                    self.tally.sent += 1
                    await ws.send(json.dumps({"type": "message", "rid": rid,
                                              "client_msg_id": cmid, "body": body}))  # fmt: skip
                    next_send = time.monotonic() + random.uniform(0.2, 2)
                    continue
                if frame["type"] == "ok" and frame.get("rid") in pending:
                    cmid = pending.pop(frame["rid"])
                    self.outbox.pop(cmid, None)
                    self.tally.acked[cmid] = (frame["ticket"], frame["seq"])
                    self.ticket = frame["ticket"]
                elif frame["type"] == "error":
                    self.tally.errors.append(f"visitor {self.n}: {frame}")
                elif frame["type"] == "event":
                    self._event(frame["event"])
            if random.random() < 0.5:
                ws.transport.abort()  # a dropped connection, not a goodbye

    async def catch_up(self) -> None:
        """Reconnect once more: whatever was answered after the last session arrives now."""
        async with connect(self.servers[0].ws("/ws/visitor"), subprotocols=["chatdesk.json"]) as ws:
            hello = {"type": "hello", "site": self.site, "visitor_token": self.token,
                     "after_seq": self.last_seq}  # fmt: skip
            await ws.send(json.dumps(hello))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
            for event in welcome.get("events", []):
                self._event(event)

    def _event(self, event: dict[str, Any]) -> None:
        if event["seq"] <= self.last_seq:
            self.dupes += 1
            return
        self.last_seq = event["seq"]
        self.ticket = event["ticket"]
        if event["kind"] == "message" and event["author"]["type"] == "agent":
            self.seen.append(event["seq"])


class SoakAgent:
    """Claims new chats and answers every visitor message once; reconnects at random."""

    def __init__(self, n: int, servers: list[Server], token: str, tally: Tally) -> None:
        self.n = n
        self.servers = servers
        self.token = token
        self.tally = tally
        self.answered: set[tuple[int, int]] = set()
        self.cursor: dict[int, int] = {}

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            try:
                await self._session(random.choice(self.servers), until)
            except (ConnectionClosed, OSError, InvalidStatus, TimeoutError):
                pass
            self.tally.reconnects += 1
            await asyncio.sleep(random.uniform(0.05, 1.0))

    async def _session(self, server: Server, until: float) -> None:
        lifetime = time.monotonic() + random.uniform(5, 40)
        async with connect(server.ws("/ws/agent"), subprotocols=["chatdesk.json"]) as ws:
            await ws.send(json.dumps({"type": "hello", "token": self.token}))
            json.loads(await asyncio.wait_for(ws.recv(), 10))
            for ticket, after in list(self.cursor.items()):  # catch up what was missed
                await ws.send(json.dumps({"type": "sync", "rid": f"s{ticket}", "ticket": ticket,
                                          "after_seq": after}))  # fmt: skip
            while time.monotonic() < min(lifetime, until):
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 1))
                except TimeoutError:
                    continue
                if frame["type"] == "queue" and frame["ticket"]["status"] == "new":
                    await ws.send(json.dumps({"type": "claim", "rid": f"c{frame['ticket']['id']}",
                                              "ticket": frame["ticket"]["id"]}))  # fmt: skip
                events = []
                if frame["type"] == "event":
                    events = [frame["event"]]
                elif frame["type"] == "ok" and "events" in frame:
                    events = frame["events"]
                for event in events:
                    await self._event(ws, event)
            if random.random() < 0.5:
                ws.transport.abort()

    async def _event(self, ws: Any, event: dict[str, Any]) -> None:
        ticket = event["ticket"]
        self.cursor[ticket] = max(self.cursor.get(ticket, 0), event["seq"])
        key = (ticket, event["seq"])
        if event["kind"] != "message" or event["author"]["type"] != "visitor":
            return
        if key in self.answered:
            return
        self.answered.add(key)
        # The answer's client_msg_id is derived from what it answers: a resend after a
        # reconnect is the same message, never a second one.
        await ws.send(json.dumps({"type": "send", "rid": f"a{ticket}.{event['seq']}",
                                  "ticket": ticket, "client_msg_id": f"a{ticket}.{event['seq']}",
                                  "body": f"re {event['seq']}"}))  # fmt: skip


async def soak(minutes: float, visitors: int, agents: int, sqlite: bool) -> int:
    data = Path(tempfile.mkdtemp(prefix="chatdesk-soak-"))
    if sqlite:
        backend = Backend("sqlite", data, None, None, f"soak-{secrets.token_hex(3)}")
        servers = [Server(backend).start()]
    else:
        import asyncpg

        name = f"chatdesk_soak_{secrets.token_hex(3)}"
        conn = await asyncpg.connect(PG.replace("+asyncpg", ""))
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        backend = Backend("postgres", data, PG.rsplit("/", 1)[0] + "/" + name, REDIS,
                          f"soak-{secrets.token_hex(3)}")  # fmt: skip
        servers = [Server(backend).start(), Server(backend).start()]
    site = servers[0].site_key
    for s in servers[1:]:
        s.site_key, s.admin_password = site, servers[0].admin_password
    tokens = []
    for i in range(agents):
        email = f"soak{i}@example.com"
        backend.cli("agent", "add", email, "--name", f"Soak {i}", "--password", "soak-password")
        tokens.append(servers[0].login(email, "soak-password"))
    tally = Tally()
    until = time.monotonic() + minutes * 60
    vs = [SoakVisitor(i, servers, site, tally) for i in range(visitors)]
    ags = [SoakAgent(i, servers, tokens[i], tally) for i in range(agents)]
    memory: list[list[int]] = []

    async def sample() -> None:
        while time.monotonic() < until:
            memory.append([rss_kib(s.proc.pid) for s in servers])  # type: ignore[union-attr]
            print(f"\r{int(until - time.monotonic()):4d}s left  sent {tally.sent}  "
                  f"acked {len(tally.acked)}  reconnects {tally.reconnects}  "
                  f"rss {memory[-1]} KiB", end="", file=sys.stderr, flush=True)  # fmt: skip
            await asyncio.sleep(10)

    await asyncio.gather(*(v.run(until) for v in vs), *(a.run(until + 5) for a in ags), sample())
    print(file=sys.stderr)
    await asyncio.sleep(3)  # let the last answers land
    await asyncio.gather(*(v.catch_up() for v in vs if v.token))

    admin = servers[0].login()
    lost = doubled = missing_pushes = 0
    stored_by_ticket: dict[int, list[dict[str, Any]]] = {}
    async with httpx.AsyncClient(base_url=servers[0].url,
                                 headers={"Authorization": f"Bearer {admin}"}) as http:  # fmt: skip
        for ticket in {t for t, _ in tally.acked.values()}:
            items: list[dict[str, Any]] = []
            after = 0
            while True:
                page = (await http.get(f"/api/v1/tickets/{ticket}/events",
                                       params={"after_seq": after})).json()  # fmt: skip
                items += page["items"]
                if not page["next_cursor"]:
                    break
                after = int(page["next_cursor"])
            stored_by_ticket[ticket] = items
    for cmid, (ticket, seq) in tally.acked.items():
        hits = [e for e in stored_by_ticket[ticket] if e.get("client_msg_id") == cmid]
        if not hits:
            lost += 1
        elif len(hits) > 1 or hits[0]["seq"] != seq:
            doubled += 1
    for v in vs:
        if v.ticket is None:
            continue
        agent_msgs = [e["seq"] for e in stored_by_ticket.get(v.ticket, [])
                      if e["kind"] == "message" and e["author"]["type"] == "agent"]  # fmt: skip
        if v.seen != agent_msgs:
            missing_pushes += 1
    answers = sum(
        1 for items in stored_by_ticket.values() for e in items
        if e["kind"] == "message" and e["author"]["type"] == "agent"
    )  # fmt: skip
    questions = sum(
        1 for items in stored_by_ticket.values() for e in items
        if e["kind"] == "message" and e["author"]["type"] == "visitor"
    )  # fmt: skip
    first, last = memory[1] if len(memory) > 1 else memory[0], memory[-1]
    report = {
        "minutes": minutes,
        "setup": "SQLite, 1 process" if sqlite else "PostgreSQL + Redis, 2 processes",
        "visitors": visitors,
        "agents": agents,
        "messages_acked": len(tally.acked),
        "answers_stored": answers,
        "visitor_messages_stored": questions,
        "reconnects": tally.reconnects,
        "lost": lost,
        "doubled": doubled,
        "visitors_with_wrong_history": missing_pushes,
        "duplicate_pushes": sum(v.dupes for v in vs),
        "errors": len(tally.errors),
        "rss_kib_after_warmup": first,
        "rss_kib_end": last,
        "rss_kib_max": [max(m[i] for m in memory) for i in range(len(servers))],
        "rss_kib_each_minute": memory[::6],
    }
    print(json.dumps(report, indent=2))
    for s in servers:
        s.stop()
    bad = lost or doubled or missing_pushes or tally.errors
    if tally.errors:
        print("errors:", tally.errors[:5], file=sys.stderr)
    return 1 if bad else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--visitors", type=int, default=40)
    p.add_argument("--agents", type=int, default=4)
    p.add_argument("--sqlite", action="store_true")
    args = p.parse_args()
    sys.exit(asyncio.run(soak(args.minutes, args.visitors, args.agents, args.sqlite)))


if __name__ == "__main__":
    main()
