"""The scenarios other than the chat load: idle sockets, fan-out, catch-up, storm, Redis.

Each runs in the calling process's event loop against servers already started, and
returns plain dicts for the report.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bench import wsclient
from bench.load import percentile
from bench.servers import Cluster, cpu_s, rss_kib
from bench.wsclient import Client, Frame

Progress = Callable[[str], None]


def _ms(ns: int) -> float:
    return ns / 1e6


async def _opened(factory: Callable[[], Any]) -> Client | None:
    try:
        return await factory()
    except Exception:
        return None


async def _close_all(clients: list[Client]) -> None:
    await wsclient.gather_limited([c.close for c in clients], 500)


async def _send_many(
    client: Client, ticket: int, count: int, tag: str, window: int = 32
) -> list[Frame]:
    """``count`` agent messages to ``ticket``, at most ``window`` unanswered at a time."""

    def one(k: int) -> Callable[[], Any]:
        frame = {"type": "send", "ticket": ticket, "client_msg_id": f"{tag}{k}", "body": f"#{k}"}
        return lambda: client.ok(frame, timeout=120)

    return await wsclient.gather_limited([one(k) for k in range(count)], window)


# ---------------------------------------------------------------- idle connections


async def idle(
    cluster: Cluster, counts: list[int], progress: Progress, batch: int = 200
) -> list[dict[str, Any]]:
    """Visitors that say hello, get their welcome and stay idle, on one process.

    RSS is read from /proc before the first one (after a short warm-up) and once all
    of ``count`` are open and settled; the delta over ``count`` is the cost of one.
    """
    url, site, pid = cluster.ws(0, "/ws/visitor"), cluster.site_key, cluster.pids[0]
    warm = [await wsclient.visitor(url, site) for _ in range(20)]
    await _close_all(warm)
    await asyncio.sleep(1.0)
    before = rss_kib(pid)
    clients: list[Client] = []
    results = []
    for target in sorted(counts):
        started = time.perf_counter()
        failed = 0
        while len(clients) < target:
            n = min(batch, target - len(clients))
            opened = await asyncio.gather(
                *(_opened(lambda: wsclient.visitor(url, site, timeout=60)) for _ in range(n))
            )
            clients += [c for c in opened if c is not None]
            failed += sum(c is None for c in opened)
            progress(f"idle: {len(clients)}/{target} open, {failed} failed")
            if failed > target // 10:
                break
        open_s = time.perf_counter() - started
        await asyncio.sleep(3.0)  # let the server settle (writer batches, buffers)
        alive = sum(not c.closed for c in clients)
        after = rss_kib(pid)
        results.append(
            {
                "target": target,
                "connections": alive,
                "failed": failed,
                "rss_before_mib": round(before / 1024, 1),
                "rss_after_mib": round(after / 1024, 1),
                "kib_per_conn": round((after - before) / max(1, alive), 2),
                "open_per_s": round(len(clients) / max(open_s, 1e-6)),
            }
        )
    await _close_all(clients)
    return results


# ---------------------------------------------------------------- fan-out


class _Fan:
    def __init__(self, watchers: int) -> None:
        self.watchers = watchers
        self.cmid = ""
        self.left = 0
        self.first = 0
        self.last = 0
        self.done: asyncio.Future[None] | None = None

    def arm(self, cmid: str) -> asyncio.Future[None]:
        self.cmid, self.left, self.first, self.last = cmid, self.watchers, 0, 0
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def on_event(self, client: Client, event: Frame, now: int) -> None:
        if event.get("kind") != "message" or event.get("client_msg_id") != self.cmid:
            return
        self.first = self.first or now
        self.left -= 1
        if self.left == 0 and self.done is not None and not self.done.done():
            self.last = now
            self.done.set_result(None)


async def fanout(
    cluster: Cluster, admin_token: str, watchers: int, sends: int, progress: Progress
) -> dict[str, Any]:
    """One ticket watched by ``watchers`` agent sockets spread over the processes; the
    time from a visitor's send until the last watcher has the event."""
    site = cluster.site_key
    visitor = await wsclient.visitor(cluster.ws(0, "/ws/visitor"), site)
    first = {"type": "message", "client_msg_id": "fan-0", "body": "fan-out"}
    ticket = (await visitor.ok(first))["ticket"]
    agents: list[Client] = await wsclient.gather_limited(
        [
            lambda i=i: wsclient.agent(cluster.ws(i, "/ws/agent"), admin_token)
            for i in range(watchers)
        ],
        50,
    )
    fan = _Fan(watchers)
    for agent in agents:
        agent.on_event = fan.on_event
    await asyncio.gather(*(a.ok({"type": "watch", "ticket": ticket}) for a in agents))
    await asyncio.sleep(0.5)
    lasts, firsts = [], []
    cpu0 = time.process_time()
    for k in range(1, sends + 1):
        cmid = f"fan-{k}"
        done = fan.arm(cmid)
        sent = time.perf_counter_ns()
        await visitor.send({"type": "message", "rid": cmid, "client_msg_id": cmid, "body": "x"})
        await asyncio.wait_for(done, 30)
        lasts.append(fan.last - sent)
        firsts.append(fan.first - sent)
        if k % 10 == 0:
            progress(f"fan-out: {k}/{sends} sends, p50 {percentile(lasts, 50):.1f} ms")
        await asyncio.sleep(0.02)
    gen_us = (time.process_time() - cpu0) / max(1, sends * (watchers + 2)) * 1e6
    await _close_all([visitor, *agents])
    return {
        "watchers": watchers,
        "sends": sends,
        "p50_ms": round(percentile(lasts, 50), 2),
        "p99_ms": round(percentile(lasts, 99), 2),
        "max_ms": round(percentile(lasts, 100), 2),
        "first_p50_ms": round(percentile(firsts, 50), 2),
        # The first watcher's tail is the write's (commit, publish), not the fan-out's.
        "first_p99_ms": round(percentile(firsts, 99), 2),
        "generator_us_per_frame": round(gen_us, 1),
    }


# ---------------------------------------------------------------- catch-up


async def catchup(
    cluster: Cluster, admin_token: str, events: int, repeats: int, progress: Progress
) -> dict[str, Any]:
    """A visitor misses ``events`` agent messages, then reconnects with ``after_seq``;
    the time from opening the socket to a welcome holding all of them. Also an agent's
    ``sync`` (pages of up to 1000) for the same events."""
    site = cluster.site_key
    visitor = await wsclient.visitor(cluster.ws(0, "/ws/visitor"), site)
    reply = await visitor.ok({"type": "message", "client_msg_id": "cu-0", "body": "catch me up"})
    ticket, seen, token = reply["ticket"], reply["seq"], visitor.token
    await visitor.close()
    admin = await wsclient.agent(cluster.ws(1, "/ws/agent"), admin_token)
    progress(f"catch-up: writing {events} events")
    await _send_many(admin, ticket, events, "cu-")
    await asyncio.sleep(0.3)
    times, sync_times = [], []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        back = await wsclient.visitor(cluster.ws(0, "/ws/visitor"), site, token, seen)
        took = time.perf_counter_ns() - started
        got = sum(e.get("kind") == "message" for e in back.welcome.get("events", []))
        await back.close()
        if got < events:
            raise RuntimeError(f"catch-up: welcome had {got} of {events} messages")
        times.append(_ms(took))
    for _ in range(repeats):
        started = time.perf_counter_ns()
        after, got = seen, 0
        while True:
            page = (await admin.ok({"type": "sync", "ticket": ticket, "after_seq": after}))[
                "events"
            ]
            got += sum(e.get("kind") == "message" for e in page)
            if not page or got >= events:
                break
            after = page[-1]["seq"]
        sync_times.append(_ms(time.perf_counter_ns() - started))
    await admin.close()
    return {
        "events": events,
        "ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "agent_sync_ms": round(statistics.median(sync_times), 1),
    }


async def storm(
    cluster: Cluster, admin_token: str, clients: int, missed: int, progress: Progress
) -> dict[str, Any]:
    """``clients`` visitors, each having missed ``missed`` messages, reconnect at once;
    the time until the last one holds a welcome with all of its missed messages."""
    site = cluster.site_key
    n = len(cluster.procs)

    async def start(i: int) -> tuple[str, int, int]:
        v = await wsclient.visitor(cluster.ws(i, "/ws/visitor"), site, timeout=60)
        first = {"type": "message", "client_msg_id": f"st-{i}", "body": "storm"}
        reply = await v.ok(first, timeout=120)
        await v.close()
        return str(v.token), int(reply["ticket"]), int(reply["seq"])

    progress(f"storm: {clients} visitors start chats")
    records = await wsclient.gather_limited([lambda i=i: start(i) for i in range(clients)], 100)
    admins = [await wsclient.agent(cluster.ws(k, "/ws/agent"), admin_token) for k in range(n)]
    progress(f"storm: {clients * missed} messages they miss")
    await asyncio.gather(
        *(
            wsclient.gather_limited(
                [
                    lambda i=i, r=r: _send_many(admins[i % n], r[1], missed, f"st-{i}-", missed)
                    for i, r in enumerate(records)
                    if i % n == k
                ],
                16,
            )
            for k in range(n)
        )
    )
    await _close_all(admins)
    await asyncio.sleep(0.5)
    progress(f"storm: {clients} reconnect at once")
    done_at: list[int] = []
    caught = 0
    failures: list[str] = []
    short: list[str] = []
    # Where the storm's time goes: the servers' CPU, and the generator's own (it opens
    # the thousand sockets and handshakes them in one process).
    servers_before = sum(cpu_s(pid) for pid in cluster.pids)
    generator_before = time.process_time()
    started = time.perf_counter_ns()

    async def back(i: int, token: str, seq: int) -> Client | None:
        nonlocal caught
        try:
            c = await wsclient.visitor(cluster.ws(i, "/ws/visitor"), site, token, seq, timeout=60)
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}"[:200])
            return None
        done_at.append(time.perf_counter_ns() - started)
        events = c.welcome.get("events", [])
        got = sum(e.get("kind") == "message" for e in events)
        caught += got >= missed
        if got < missed:
            shown = [(e.get("seq"), e.get("kind")) for e in events][:5]
            short.append(f"after_seq {seq}: welcome had {shown}")
        return c

    opened = await asyncio.gather(*(back(i, t, s) for i, (t, _, s) in enumerate(records)))
    cpu = {
        "servers_s": round(sum(cpu_s(pid) for pid in cluster.pids) - servers_before, 2),
        "generator_s": round(time.process_time() - generator_before, 2),
    }
    await _close_all([c for c in opened if c is not None])
    return {
        "clients": clients,
        "missed_each": missed,
        "caught_up": caught,
        "failed": len(failures),
        "failure_samples": sorted(set(failures))[:3],
        "short_samples": short[:3],
        "ms": round(_ms(max(done_at)) if done_at else 0.0, 1),
        "p50_ms": round(percentile(done_at, 50), 1),
        "cpu": cpu,
    }


# ---------------------------------------------------------------- redis-benchmark


def redis_benchmark(redis_url: str, requests: int) -> dict[str, Any] | None:
    """PUBLISH throughput (one subscriber listening), unpipelined and 16-deep pipelined."""
    exe = shutil.which("redis-benchmark")
    if exe is None:
        return None
    parts = urlsplit(redis_url)
    host, port = parts.hostname or "127.0.0.1", str(parts.port or 6379)
    channel = "chatdesk-bench-redis-benchmark"
    payload = "x" * 300  # about one event on the bus
    listener = None
    if cli := shutil.which("redis-cli"):
        listener = subprocess.Popen(
            [cli, "-h", host, "-p", port, "subscribe", channel],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)
    out: dict[str, Any] = {"subscribers": 1 if listener else 0, "payload_bytes": len(payload)}
    try:
        for depth in (1, 16):
            argv = [exe, "-h", host, "-p", port, "-n", str(requests), "-c", "50"]
            argv += ["-P", str(depth), "--csv", "publish", channel, payload]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            rows = list(csv.reader(io.StringIO(done.stdout)))
            if len(rows) >= 2:
                row = dict(zip(rows[0], rows[1], strict=False))
                out[f"publish_per_s_p{depth}"] = round(float(row.get("rps", 0)))
                out[f"p50_ms_p{depth}"] = float(row.get("p50_latency_ms", 0) or 0)
    finally:
        if listener is not None:
            listener.terminate()
            listener.wait(5)
    return out
