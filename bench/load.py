"""The open-loop chat load: visitors in live chats with agents, messages both ways.

Every pair is one visitor and the agent that claimed the visitor's ticket. A step offers
``rate`` messages a second for ``seconds``: message ``i`` is due at ``t0 + i / rate``
and is sent then whatever the replies do (open loop), alternately by a visitor and by
its agent. Latency counts from the *scheduled* time, so a generator or server that
falls behind shows as latency instead of silently sending less (no coordinated
omission). A reader task per socket timestamps each ``ok`` and each peer's event.

Generator processes (``multiprocessing``, spawned) each own whole agents and their
visitors, so a message's sender and receiver are always in one process and one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from bench import wsclient
from bench.servers import Cluster
from bench.wsclient import Client, Frame

SETUP_TIMEOUT_S = 600.0
BACKLOG_S = 3.0  # a step stops when this many seconds of offered messages await their ack
RECOVER_S = 180.0  # longest wait for an overloaded server's backlog after a step


@dataclass(frozen=True)
class LoadPlan:
    site_key: str
    agent_urls: tuple[str, ...]
    agent_tokens: tuple[str, ...]
    visitor_urls: tuple[str, ...]
    visitor_agent: tuple[int, ...]  # visitor i chats with agent visitor_agent[i]
    body_chars: int = 100
    tag: str = "m"

    def split(self, parts: int) -> list[LoadPlan]:
        """Agent k goes to part k % parts, with every visitor it chats with."""
        plans = []
        for part in range(parts):
            agents = [k for k in range(len(self.agent_urls)) if k % parts == part]
            index = {k: n for n, k in enumerate(agents)}
            visitors = [i for i, k in enumerate(self.visitor_agent) if k in index]
            plans.append(
                replace(
                    self,
                    agent_urls=tuple(self.agent_urls[k] for k in agents),
                    agent_tokens=tuple(self.agent_tokens[k] for k in agents),
                    visitor_urls=tuple(self.visitor_urls[i] for i in visitors),
                    visitor_agent=tuple(index[self.visitor_agent[i]] for i in visitors),
                    tag=f"{self.tag}{part}x",
                )
            )
        return [p for p in plans if p.visitor_urls]


def plan_chat(cluster: Cluster, tokens: list[str], visitors: int, body_chars: int) -> LoadPlan:
    """Agent j on server j % n; its visitors alternate between its server and another one,
    so with several processes half the messages cross processes through the broker."""
    n = len(cluster.procs)
    agents = len(tokens)
    visitor_agent = tuple(i % agents for i in range(visitors))
    visitor_urls = tuple(
        cluster.ws((i % agents) % n + i // agents, "/ws/visitor") for i in range(visitors)
    )
    return LoadPlan(
        site_key=cluster.site_key,
        agent_urls=tuple(cluster.ws(j, "/ws/agent") for j in range(agents)),
        agent_tokens=tuple(tokens),
        visitor_urls=visitor_urls,
        visitor_agent=visitor_agent,
        body_chars=body_chars,
    )


@dataclass
class StepResult:
    offered: float  # msgs/s
    seconds: float
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    errors: int = 0  # error frames, closed sockets, acknowledged messages never delivered
    unacked: int = 0  # still no ack when the drain time ran out (overload)
    ack_span_s: float = 0.0  # from the first scheduled send to the last ack
    lag_max_ms: float = 0.0  # how far the generator's sends ran behind their schedule
    stopped_early: bool = False  # the backlog grew past BACKLOG_S: the step failed
    gen_cpu_s: float = 0.0
    v2a_ns: list[int] = field(default_factory=list)
    a2v_ns: list[int] = field(default_factory=list)
    ack_ns: list[int] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # filled in by the parent

    @property
    def msgs_per_s(self) -> float:
        return self.acked / self.ack_span_s if self.ack_span_s > 0 else 0.0

    @property
    def deliver_ns(self) -> list[int]:
        return self.v2a_ns + self.a2v_ns

    def merge(self, other: StepResult) -> None:
        self.offered += other.offered
        for name in ("sent", "acked", "delivered", "errors", "unacked", "gen_cpu_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ack_span_s = max(self.ack_span_s, other.ack_span_s)
        self.lag_max_ms = max(self.lag_max_ms, other.lag_max_ms)
        self.stopped_early = self.stopped_early or other.stopped_early
        self.v2a_ns += other.v2a_ns
        self.a2v_ns += other.a2v_ns
        self.ack_ns += other.ack_ns
        self.error_samples += other.error_samples[: 10 - len(self.error_samples)]


class Generator:
    """One process's share of the load: its sockets, its schedule, its measurements."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.pairs: list[tuple[Client, Client, int]] = []
        self.clients: list[Client] = []
        self.pending_ack: dict[str, int] = {}
        self.pending_deliver: dict[str, int] = {}
        self.counter = 0
        self.carried: tuple[int, list[str]] = (0, [])
        self.pad = "x" * max(0, plan.body_chars - 22)
        self._reset(StepResult(0, 0))

    def _reset(self, result: StepResult) -> None:
        self.result = result
        self.last_ack = 0

    async def setup(self) -> None:
        plan = self.plan

        def agent_at(k: int) -> Callable[[], Any]:
            return lambda: wsclient.agent(plan.agent_urls[k], plan.agent_tokens[k])

        def visitor_at(i: int) -> Callable[[], Any]:
            return lambda: wsclient.visitor(plan.visitor_urls[i], plan.site_key)

        agents: list[Client] = await wsclient.gather_limited(
            [agent_at(k) for k in range(len(plan.agent_urls))], 50
        )
        visitors: list[Client] = await wsclient.gather_limited(
            [visitor_at(i) for i in range(len(plan.visitor_urls))], 100
        )
        self.clients = agents + visitors
        for client in self.clients:
            client.on_event = self._on_event
            client.on_reply = self._on_reply

        async def start_chat(i: int) -> tuple[Client, Client, int]:
            visitor, agent = visitors[i], agents[plan.visitor_agent[i]]
            first = {"type": "message", "client_msg_id": f"{plan.tag}start{i}", "body": "hi"}
            ticket = int((await visitor.ok(first))["ticket"])

            def claimed(frame: Frame) -> bool:
                summary = frame.get("ticket") or {}
                return (
                    frame.get("type") == "queue"
                    and summary.get("id") == ticket
                    and (summary.get("assignee") or {}).get("id") == agent.me
                )

            # The agent follows the ticket once it has rendered the queue push of its claim.
            followed = agent.expect(claimed)
            await agent.ok({"type": "claim", "ticket": ticket})
            await asyncio.wait_for(followed, 60)
            return visitor, agent, ticket

        self.pairs = await wsclient.gather_limited(
            [lambda i=i: start_chat(i) for i in range(len(visitors))], 50
        )
        # One message each way per pair before anything is measured.
        warm = await self.step(max(100.0, 2.0 * len(self.pairs)), 1.0, time.time(), 30.0)
        if warm.unacked:
            raise RuntimeError(f"warm-up: {warm.unacked} messages never acknowledged")
        # Losses are the server's; the first measured step reports them.
        self.carried = (warm.errors, [f"warm-up: {e}" for e in warm.error_samples])
        gc.collect()
        gc.freeze()  # the sockets of the whole run: keep the collector off them

    def _on_event(self, client: Client, event: Frame, now: int) -> None:
        if event.get("kind") != "message" or event["author"]["type"] == client.kind:
            return  # a status change, or the sender's own message echoed back
        sched = self.pending_deliver.pop(event.get("client_msg_id"), None)
        if sched is None:
            return
        if client.kind == "agent":
            self.result.v2a_ns.append(now - sched)
        else:
            self.result.a2v_ns.append(now - sched)

    def _on_reply(self, client: Client, frame: Frame, now: int) -> None:
        rid = frame.get("rid")
        sched = self.pending_ack.pop(rid, None)
        if frame.get("type") == "error":
            self.result.errors += 1
            self.pending_deliver.pop(rid, None)
            if len(self.result.error_samples) < 10:
                self.result.error_samples.append(str(frame)[:300])
            return
        if sched is not None:
            self.result.ack_ns.append(now - sched)
            self.last_ack = now

    async def step(
        self, rate: float, seconds: float, start_wall: float, drain_s: float
    ) -> StepResult:
        result = StepResult(rate, seconds)
        result.errors, result.error_samples = self.carried
        self.carried = (0, [])
        self._reset(result)
        pairs, npairs, pad, tag = self.pairs, len(self.pairs), self.pad, self.plan.tag
        total = max(1, round(rate * seconds))
        interval = 1e9 / rate
        if (wait := start_wall - time.time()) > 0:
            await asyncio.sleep(wait)
        cpu0 = time.process_time()
        perf = time.perf_counter_ns
        t0 = perf()
        i = 0
        lag = 0
        # Three seconds of unanswered messages: the server is far behind; stop offering
        # more (the step has failed) rather than queue minutes of backlog.
        backlog_max = max(500, int(rate * BACKLOG_S))
        while i < total:
            if len(self.pending_ack) > backlog_max:
                result.stopped_early = True
                break
            now = perf()
            due = min(total, int((now - t0) / interval) + 1)
            if due > i:
                lag = max(lag, now - t0 - int(i * interval))
            while i < due:
                sched = t0 + int(i * interval)
                visitor, agent, ticket = pairs[(i >> 1) % npairs]
                # The id names the direction and the ticket, for reports of losses.
                cmid = f"{tag}{self.counter}{'a' if i & 1 else 'v'}{ticket}"
                self.counter += 1
                self.pending_ack[cmid] = sched
                self.pending_deliver[cmid] = sched
                if i & 1:
                    agent.send_text(
                        f'{{"type":"send","rid":"{cmid}","ticket":{ticket},'
                        f'"client_msg_id":"{cmid}","body":"t={sched} {pad}"}}'
                    )
                else:
                    visitor.send_text(
                        f'{{"type":"message","rid":"{cmid}",'
                        f'"client_msg_id":"{cmid}","body":"t={sched} {pad}"}}'
                    )
                i += 1
            await asyncio.sleep(max(0.0, (t0 + i * interval - perf()) / 1e9))
        result.sent = i
        result.lag_max_ms = lag / 1e6
        deadline = time.monotonic() + drain_s
        while (self.pending_ack or self.pending_deliver) and time.monotonic() < deadline:
            if all(c.closed for c in self.clients):
                break
            await asyncio.sleep(0.01)
        result.unacked = len(self.pending_ack)
        result.acked = len(result.ack_ns)
        result.delivered = len(result.v2a_ns) + len(result.a2v_ns)
        result.ack_span_s = max(0, self.last_ack - t0) / 1e9
        # An overloaded server still works through its backlog: wait for it (unmeasured),
        # so the next step does not start behind this one's queue. Only then is an
        # acknowledged message that never reached the other side counted as lost.
        late = StepResult(0, 0)
        self._reset(late)
        for pending, wait_s in ((self.pending_ack, RECOVER_S), (self.pending_deliver, 10.0)):
            deadline = time.monotonic() + wait_s
            while pending and time.monotonic() < deadline:
                if all(c.closed for c in self.clients):
                    break
                await asyncio.sleep(0.05)
        missing = sorted(set(self.pending_deliver) - set(self.pending_ack))
        lost = len(missing)
        result.errors += late.errors + lost + sum(c.closed for c in self.clients)
        if lost:
            result.error_samples.append(
                f"{lost} acknowledged messages never delivered (client_msg_id "
                f"<n><a: agent's, v: visitor's><ticket>): {', '.join(missing[:5])}"
            )
        result.error_samples += late.error_samples[:3]
        self.pending_ack.clear()
        self.pending_deliver.clear()
        result.gen_cpu_s = time.process_time() - cpu0
        return result

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients))


# ---------------------------------------------------------------- processes


def _child(conn: Connection, plan: LoadPlan) -> None:
    asyncio.run(_child_loop(conn, plan))


async def _child_loop(conn: Connection, plan: LoadPlan) -> None:
    loop = asyncio.get_running_loop()
    generator = Generator(plan)
    try:
        await generator.setup()
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command[0] == "step":
            conn.send(("result", await generator.step(*command[1:])))
        else:
            with contextlib.suppress(Exception):
                await generator.close()
            conn.send(("stopped", None))
            return


class LoadRunner:
    """Generator processes driven step by step from the parent."""

    def __init__(self, plan: LoadPlan, processes: int = 1) -> None:
        ctx = mp.get_context("spawn")
        self.children: list[tuple[Any, Connection]] = []
        for part in plan.split(processes):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=_child, args=(child_end, part), daemon=True)
            proc.start()
            self.children.append((proc, parent_end))
        for _, conn in self.children:
            if not conn.poll(SETUP_TIMEOUT_S):
                self.close()
                raise RuntimeError("load generator setup timed out")
            status, detail = conn.recv()
            if status != "ready":
                self.close()
                raise RuntimeError(f"load generator setup failed: {detail}")

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc, _ in self.children]

    def step(self, rate: float, seconds: float, drain_s: float | None = None) -> StepResult:
        share = rate / len(self.children)
        start = time.time() + 0.2
        drain = max(5.0, seconds) if drain_s is None else drain_s
        for _, conn in self.children:
            conn.send(("step", share, seconds, start, drain))
        merged = StepResult(0, seconds)
        for _, conn in self.children:
            if not conn.poll(seconds + drain + RECOVER_S + 60):
                raise RuntimeError("load generator stopped answering")
            _, result = conn.recv()
            merged.merge(result)
        return merged

    def close(self) -> None:
        for proc, conn in self.children:
            with contextlib.suppress(Exception):
                conn.send(("stop",))
                conn.poll(15)
            proc.join(5)
            if proc.is_alive():
                proc.kill()


# ---------------------------------------------------------------- finding the sustained rate


def percentile(values: list[int], q: float) -> float:
    """Nearest-rank percentile of nanosecond samples, in ms."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank] / 1e6


def held(result: StepResult, p99_limit_ms: float) -> bool:
    """The offered rate held: nothing lost, acks within 2 % of it, p99 under the limit."""
    return (
        not result.stopped_early
        and result.errors == 0
        and result.unacked == 0
        and result.msgs_per_s >= 0.98 * result.offered
        and percentile(result.deliver_ns, 99) < p99_limit_ms
    )


def find_sustained(
    run: Callable[[float], StepResult],
    start: float,
    max_rate: float,
    refine: int,
    p99_limit_ms: float,
) -> tuple[StepResult | None, list[StepResult]]:
    """Double the offered rate until a step fails, then bisect ``refine`` times.

    Returns the step at the highest rate that held (None if none did) and every step.
    """
    steps: list[StepResult] = []
    best: StepResult | None = None
    failed: float | None = None
    rate = start
    while rate <= max_rate:
        result = run(rate)
        steps.append(result)
        if not held(result, p99_limit_ms):
            failed = rate
            break
        best = result
        rate *= 2
    low = best.offered if best else 0.0
    for _ in range(refine):
        if failed is None:
            break
        mid = round((low + failed) / 2 / 25) * 25
        if mid <= low or mid >= failed:
            break
        result = run(mid)
        steps.append(result)
        if held(result, p99_limit_ms):
            best, low = result, mid
        else:
            failed = mid
    return best, steps
