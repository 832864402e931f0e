"""python -m bench: load chatdesk (and a minimal baseline) with real servers and clients.

    python -m bench --quick --json bench.json     # under 3 minutes on 2 cores
    python -m bench --json bench.json             # the longer default

The benchmark starts its own servers (``python -m chatdesk serve``) on a fresh
PostgreSQL database and a unique Redis prefix, and on a temporary SQLite data dir,
then removes them. See docs/performance.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import report, scenarios, servers
from bench.load import LoadRunner, StepResult, find_sustained, plan_chat
from bench.profile import record, summarise

SECTIONS = (
    "redis",
    "chat_pg",
    "steady",
    "fanout",
    "catchup",
    "storm",
    "chat_sqlite",
    "baseline",
    "idle",
    "widget",
)


class Progress:
    """One status line on stderr, rewritten in place on a terminal."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, message: str) -> None:
        stamp = f"[{time.monotonic() - self.t0:6.1f}s] {message}"
        if self.tty:
            sys.stderr.write("\r\x1b[K" + stamp[:200])
        else:
            sys.stderr.write(stamp + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[K")
        sys.stderr.write(f"bench: done in {time.monotonic() - self.t0:.0f}s\n")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="small sizes and short steps, for a run of minutes"
    )
    p.add_argument("--json", type=Path, help="write every figure to this file")
    p.add_argument("--only", help=f"comma-separated sections of: {','.join(SECTIONS)}")
    p.add_argument("--skip", help="comma-separated sections to leave out")
    g = p.add_argument_group("chat load")
    g.add_argument("--visitors", type=int, help="visitors in live chats (400; quick 100)")
    g.add_argument("--agents", type=int, help="agents sharing those chats (40; quick 10)")
    g.add_argument("--procs", type=int, default=1, help="load generator processes (1)")
    g.add_argument("--step-seconds", type=float, help="length of each rate step (10; quick 4)")
    g.add_argument("--rate-start", type=float, default=250, help="first offered msgs/s (250)")
    g.add_argument("--rate-max", type=float, default=64000, help="highest offered msgs/s")
    g.add_argument("--refine", type=int, help="bisections after the first failed step (3; quick 2)")
    g.add_argument("--p99-limit-ms", type=float, default=25.0, help="p99 a held step stays under")
    g.add_argument("--steady-rate", type=float, default=1000.0)
    g.add_argument("--steady-seconds", type=float, help="(30; quick 8)")
    g.add_argument("--body-chars", type=int, default=100, help="message body length (100)")
    g.add_argument("--pg-procs", type=int, default=2, help="chatdesk processes on PostgreSQL (2)")
    g = p.add_argument_group("other scenarios")
    g.add_argument(
        "--idle", help="idle connection counts, comma-separated (1000,10000; quick 1000)"
    )
    g.add_argument("--watchers", type=int, default=100)
    g.add_argument("--fanout-sends", type=int, help="(200; quick 50)")
    g.add_argument("--catchup-events", type=int, default=1000)
    g.add_argument("--storm-clients", type=int, default=1000)
    g.add_argument(
        "--storm-missed", type=int, help="messages each storm client missed (5; quick 1)"
    )
    g.add_argument("--redis-requests", type=int, help="redis-benchmark -n (200000; quick 50000)")
    g = p.add_argument_group("profile and services")
    g.add_argument(
        "--profile",
        type=Path,
        help="py-spy a PostgreSQL server at the highest held rate; "
        "write collapsed stacks here and a summary next to it (.txt)",
    )
    g.add_argument("--profile-seconds", type=float, default=20.0)
    g.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL database the benchmark may CREATE DATABASE from",
    )
    g.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {
        "visitors": (400, 100),
        "agents": (40, 10),
        "step_seconds": (10.0, 4.0),
        "refine": (3, 2),
        "steady_seconds": (30.0, 8.0),
        "fanout_sends": (200, 50),
        "storm_missed": (5, 1),
        "redis_requests": (200_000, 50_000),
    }
    for name, (long, short) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, short if quick else long)
    args.idle = [int(x) for x in (args.idle or ("1000" if quick else "1000,10000")).split(",")]
    chosen = set(args.only.split(",")) if args.only else set(SECTIONS)
    chosen -= set(args.skip.split(",")) if args.skip else set()
    unknown = chosen - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    args.sections = chosen
    return args


def _source() -> str:
    """The commit measured, and whether the work tree differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=servers.ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "chatdesk")
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes in chatdesk/' if dirty else ''}"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.progress = Progress()
        self.results: dict[str, Any] = {
            "machine": {"cores": os.cpu_count(), "loadavg_start": servers.loadavg()},
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "source": _source(),
        }

    def want(self, *names: str) -> bool:
        return any(n in self.args.sections for n in names)

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Run a section; a failure is recorded in the results and the run goes on."""
        self.progress(f"{name}: starting")
        try:
            yield
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"
            self.results[name] = {"error": detail}
            sys.stderr.write(f"\nbench: {name} failed: {detail}\n")
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()

    # ------------------------------------------------------------ chat load

    def _tokens(self, cluster: servers.Cluster) -> list[str]:
        if cluster.name == "baseline":
            return [f"agent-{i}" for i in range(self.args.agents)]
        self.progress(f"{cluster.name}: creating {self.args.agents} agents")
        return cluster.agent_tokens(self.args.agents)

    def _pg(self, cluster: servers.Cluster) -> dict[str, int]:
        return servers.pg_counters(self.args.pg_url, cluster.database) if cluster.database else {}

    def _runner(self, cluster: servers.Cluster) -> LoadRunner:
        tokens = self._tokens(cluster)
        plan = plan_chat(cluster, tokens, self.args.visitors, self.args.body_chars)
        self.progress(f"{cluster.name}: {self.args.visitors} visitors start chats")
        return LoadRunner(plan, self.args.procs)

    def _stepper(
        self, key: str, cluster: servers.Cluster, runner: LoadRunner
    ) -> Callable[[float], StepResult]:
        def run(rate: float, seconds: float | None = None) -> StepResult:
            seconds = seconds or self.args.step_seconds
            self.progress(f"{key}: offering {rate:,.0f} msgs/s for {seconds:g}s")
            meter = servers.CpuMeter({"servers": cluster.pids, "generator": runner.pids}).start()
            pg0 = self._pg(cluster)
            result = runner.step(rate, seconds)
            result.cpu = meter.stop()
            time.sleep(1.1 if pg0 else 0)  # backends flush their statistics about every second
            if pg0 and (pg1 := self._pg(cluster)) and result.acked:
                per = {k: round((pg1[k] - pg0[k]) / result.acked, 2) for k in pg0}
                result.cpu["pg_per_msg"] = per  # type: ignore[assignment]
            summary = report.step_summary(result, self.args.p99_limit_ms)
            self.progress(
                f"{key}: {rate:,.0f}/s offered -> {summary['msgs_per_s']:,}/s acked, "
                f"p99 {summary['p99_ms']} ms, {result.errors} errors, "
                f"{'held' if summary['held'] else 'not held'}"
            )
            time.sleep(1.0)  # let a backlog drain before the next step
            return result

        return run

    def _ramp(
        self, key: str, cluster: servers.Cluster, runner: LoadRunner, start: float | None = None
    ) -> float:
        """Find the sustained rate; returns the rate to profile at: the highest whose acks
        kept up (whatever the latency), else the lowest tried."""
        a = self.args
        run = self._stepper(key, cluster, runner)
        first = start or a.rate_start
        best, steps = find_sustained(run, first, a.rate_max, a.refine, a.p99_limit_ms)
        shown = best or min(steps, key=lambda s: s.offered)
        self.results[key] = report.chat_entry(shown, steps, a.p99_limit_ms)
        kept_up = [
            s.offered
            for s in steps
            if not s.stopped_early and s.unacked == 0 and s.msgs_per_s >= 0.98 * s.offered
        ]
        return max(kept_up, default=shown.offered)

    def chat_pg(self) -> None:
        a = self.args
        with servers.chatdesk_pg(a.pg_url, a.redis_url, a.pg_procs) as cluster:
            if self.want("chat_pg", "steady"):
                with self.section("chat_pg"):
                    runner = self._runner(cluster)
                    try:
                        if self.want("chat_pg"):
                            top = self._ramp("chat_pg", cluster, runner)
                            if a.profile:
                                self._profile(cluster, runner, top)
                        if self.want("steady"):
                            with self.section("steady"):
                                step = self._stepper("steady", cluster, runner)(
                                    a.steady_rate, a.steady_seconds
                                )
                                self.results["steady"] = report.chat_entry(step, [], 10.0)
                    finally:
                        runner.close()
            admin = cluster.login()
            if self.want("fanout"):
                with self.section("fanout"):
                    self.results["fanout"] = asyncio.run(
                        scenarios.fanout(cluster, admin, a.watchers, a.fanout_sends, self.progress)
                    )
            if self.want("catchup"):
                with self.section("catchup"):
                    self.results["catchup"] = asyncio.run(
                        scenarios.catchup(cluster, admin, a.catchup_events, 5, self.progress)
                    )
            if self.want("storm"):
                with self.section("storm"):
                    self.results["storm"] = asyncio.run(
                        scenarios.storm(
                            cluster, admin, a.storm_clients, a.storm_missed, self.progress
                        )
                    )

    def _profile(self, cluster: servers.Cluster, runner: LoadRunner, rate: float) -> None:
        a = self.args
        raw = a.profile
        self.progress(f"profile: py-spy on pid {cluster.pids[0]} at {rate:,.0f} msgs/s")
        spy = record(cluster.pids[0], a.profile_seconds, raw)
        time.sleep(1.0)
        step = self._stepper("profile", cluster, runner)(rate, a.profile_seconds + 2)
        _, err = spy.communicate(timeout=a.profile_seconds + 60)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {err.decode()[-500:]}")
        summary = summarise(raw)
        raw.with_suffix(".txt").write_text(summary + "\n")
        self.results["profile"] = {
            "pid": cluster.pids[0],
            "rate": round(rate),
            "msgs_per_s": round(step.msgs_per_s),
            "raw": str(raw),
            "summary": str(raw.with_suffix(".txt")),
            "cpu_cores": step.cpu,
        }

    def chat_sqlite(self) -> None:
        with servers.chatdesk_sqlite() as cluster, self.section("chat_sqlite"):
            runner = self._runner(cluster)
            try:
                self._ramp("chat_sqlite", cluster, runner)
            finally:
                runner.close()

    def baseline(self) -> None:
        a = self.args
        with servers.baseline(a.redis_url, a.pg_procs) as cluster, self.section("baseline"):
            runner = self._runner(cluster)
            try:
                # Its search starts at 4x the first rate: it holds 1,000/s with a p99
                # of 2 ms in every run, and two steps fewer keep --quick under 3 minutes.
                self._ramp("baseline", cluster, runner, start=a.rate_start * 4)
            finally:
                runner.close()

    def idle(self) -> None:
        with servers.chatdesk_sqlite() as cluster:
            runs = asyncio.run(scenarios.idle(cluster, self.args.idle, self.progress))
        self.results["idle_runs"] = runs
        largest = max(runs, key=lambda r: r["target"])
        self.results["idle"] = {
            "connections": largest["connections"],
            "kib_per_conn": largest["kib_per_conn"],
        }
        # The same sockets on the baseline: what uvicorn + websockets + Starlette cost alone.
        with servers.baseline(self.args.redis_url, 1) as cluster:
            runs = asyncio.run(scenarios.idle(cluster, self.args.idle, self.progress))
        self.results["idle_baseline_runs"] = runs

    def widget(self) -> None:
        from bench.widget_size import BUDGETS, gzipped

        sizes = {}
        for part, (names, budget) in BUDGETS.items():
            total = sum(gzipped(name)[1] for name in names)
            sizes[part] = f"{total:,} B of {budget:,} B"
        self.results["widget"] = sizes

    def run(self) -> dict[str, Any]:
        a = self.args
        servers.raise_nofile()
        if self.want("redis"):
            with self.section("redis_benchmark"):
                self.progress("redis-benchmark: PUBLISH")
                found = scenarios.redis_benchmark(a.redis_url, a.redis_requests)
                self.results["redis_benchmark"] = found or {"skipped": "redis-benchmark missing"}
        if self.want("chat_pg", "steady", "fanout", "catchup", "storm"):
            with self.section("postgres"):
                self.chat_pg()
        if self.want("chat_sqlite"):
            with self.section("chat_sqlite"):
                self.chat_sqlite()
        if self.want("baseline"):
            with self.section("baseline"):
                self.baseline()
        if self.want("idle"):
            with self.section("idle"):
                self.idle()
        if self.want("widget"):
            with self.section("widget"):
                self.widget()
        self.results["machine"]["loadavg_end"] = servers.loadavg()
        return self.results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # Servers run in their own sessions: on SIGTERM unwind, so every one is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(args)
    results = bench.run()
    bench.progress.done()
    if args.json:
        report.write_json(args.json, results)
    print(report.table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
