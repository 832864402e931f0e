"""The servers a benchmark runs against, started and stopped by the benchmark itself.

chatdesk on PostgreSQL + Redis (several ``serve`` processes, one port each), chatdesk on
the embedded default (SQLite, one process, in-process broker), and the baseline. Each
run gets its own database, data directory and Redis prefix, removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-secret-key-0123456789abcdef"
AGENT_PASSWORD = "bench-agent-password-1"
STARTUP_S = 60.0
LIMITS_OFF = {
    "CHATDESK_RATE_IP_CONNECTS": "0",
    "CHATDESK_MAX_CONNECTIONS_PER_IP": "0",
    "CHATDESK_RATE_VISITOR_MESSAGES": "0",
    "CHATDESK_RATE_AGENT_COMMANDS": "0",
    "CHATDESK_RATE_LOGINS": "100000",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the machine


def raise_nofile() -> int:
    """Lift the soft open-files limit to the hard one; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# ---------------------------------------------------------------- HTTP


def http_json(url: str, body: Any = None, token: str | None = None, timeout: float = 30) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{url}: HTTP {exc.code} {exc.read()[:300]!r}") from None


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


# ---------------------------------------------------------------- processes


@dataclass
class Proc:
    """One server process listening on ``port``, its output in ``log``."""

    argv: list[str]
    env: dict[str, str]
    port: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> Proc:
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log.read_text()[-3000:]}")
            if _healthy(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


@dataclass
class Cluster:
    """Server processes sharing one backend, and what the first start printed."""

    name: str
    procs: list[Proc] = field(default_factory=list)
    database: str | None = None  # the PostgreSQL database's name, if any
    site_key: str = ""
    admin_password: str = ""
    admin_email: str = "admin@example.com"

    def ws(self, index: int, path: str) -> str:
        return f"ws://127.0.0.1:{self.procs[index % len(self.procs)].port}{path}"

    def http(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.procs[index % len(self.procs)].port}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()

    def login(self, email: str | None = None, password: str | None = None) -> str:
        body = {
            "email": email or self.admin_email,
            "password": password or self.admin_password,
        }
        return str(http_json(self.http() + "/api/v1/auth/login", body)["token"])

    def add_agents(self, admin_token: str, count: int) -> list[str]:
        """Create ``count`` agents (admin REST); returns their e-mails."""
        emails = []
        for i in range(count):
            email = f"bench-agent-{i}@example.com"
            body = {
                "email": email,
                "name": f"Agent {i}",
                "password": AGENT_PASSWORD,
                "role": "agent",
            }
            http_json(self.http() + "/api/v1/agents", body, admin_token)
            emails.append(email)
        return emails

    def agent_tokens(self, count: int) -> list[str]:
        admin = self.login()
        emails = self.add_agents(admin, count)
        return [self.login(email, AGENT_PASSWORD) for email in emails]


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    return env


def chatdesk_env(data_dir: Path, database_url: str | None, redis_url: str | None) -> dict[str, str]:
    env = _base_env()
    env.update(LIMITS_OFF)
    env["CHATDESK_DATA_DIR"] = str(data_dir)
    env["CHATDESK_SECRET_KEY"] = SECRET_KEY
    env["CHATDESK_REDIS_PREFIX"] = f"chatdesk-bench-{secrets.token_hex(4)}"
    if database_url:
        env["CHATDESK_DATABASE_URL"] = database_url
    if redis_url:
        env["CHATDESK_REDIS_URL"] = redis_url
    if os.environ.get("CHATDESK_LOG_LEVEL"):
        env["CHATDESK_LOG_LEVEL"] = os.environ["CHATDESK_LOG_LEVEL"]
    return env


def _read_credentials(cluster: Cluster, log: Path) -> None:
    text = log.read_text()
    password = re.search(r"admin password:\s+(\S+)", text)
    key = re.search(r"site key:\s+(\S+)", text)
    if not password or not key:
        raise RuntimeError(f"no admin password or site key printed:\n{text[-2000:]}")
    cluster.admin_password = password.group(1)
    cluster.site_key = key.group(1)


# ---------------------------------------------------------------- backends


async def _pg_execute(admin_url: str, statement: str) -> None:
    import asyncpg  # chatdesk's own PostgreSQL driver

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A fresh database next to ``admin_url``'s; yields chatdesk's URL for it."""
    name = f"chatdesk_bench_{secrets.token_hex(4)}"
    asyncio.run(_pg_execute(admin_url, f'CREATE DATABASE "{name}"'))
    base = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{base}/{name}"
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(_pg_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg_counters(admin_url: str, database: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit, xact_rollback, tup_fetched, tup_inserted, tup_updated "
            "FROM pg_stat_database WHERE datname = $1",
            database,
        )
    finally:
        await conn.close()
    return dict(row) if row else {}


def pg_counters(admin_url: str, database: str) -> dict[str, int]:
    """The database's transaction and row counters (flushed by backends about every second)."""
    try:
        return asyncio.run(_pg_counters(admin_url, database))
    except Exception:
        return {}


def redis_forget(redis_url: str, prefix: str) -> None:
    """Delete whatever keys a run left under its prefix."""
    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        keys = list(client.scan_iter(f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@contextlib.contextmanager
def _workdir(label: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"chatdesk-bench-{label}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _serve_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "chatdesk", "serve", "--port", str(port)]


@contextlib.contextmanager
def chatdesk_pg(pg_admin_url: str, redis_url: str, processes: int = 2) -> Iterator[Cluster]:
    """``processes`` chatdesk servers (one port each) on a new database and one Redis."""
    with _workdir("pg") as work, pg_database(pg_admin_url) as db_url:
        env = chatdesk_env(work, db_url, redis_url)
        cluster = Cluster("chatdesk-pg", database=db_url.rsplit("/", 1)[1])
        try:
            for i in range(processes):
                port = free_port()
                # One at a time: the first migrates and bootstraps, the rest find it done.
                proc = Proc(_serve_argv(port), env, port, work / f"server-{i}.log").start()
                cluster.procs.append(proc)
                if i == 0:
                    _read_credentials(cluster, proc.log)
            yield cluster
        finally:
            cluster.stop()
            redis_forget(redis_url, env["CHATDESK_REDIS_PREFIX"])


@contextlib.contextmanager
def chatdesk_sqlite() -> Iterator[Cluster]:
    """The embedded default: one process, SQLite in a temporary data dir, no Redis."""
    with _workdir("sqlite") as work:
        env = chatdesk_env(work, None, None)
        cluster = Cluster("chatdesk-sqlite")
        try:
            port = free_port()
            proc = Proc(_serve_argv(port), env, port, work / "server.log").start()
            cluster.procs.append(proc)
            _read_credentials(cluster, proc.log)
            yield cluster
        finally:
            cluster.stop()


@contextlib.contextmanager
def baseline(redis_url: str, processes: int = 2) -> Iterator[Cluster]:
    """The minimal broadcast server (bench/baseline.py), ``processes`` ports, one Redis."""
    with _workdir("baseline") as work:
        prefix = f"chatdesk-bench-baseline-{secrets.token_hex(4)}"
        cluster = Cluster("baseline", site_key="baseline")
        try:
            for i in range(processes):
                port = free_port()
                argv = [sys.executable, "-m", "bench.baseline", "--port", str(port)]
                argv += ["--redis-url", redis_url, "--prefix", prefix]
                proc = Proc(argv, _base_env(), port, work / f"baseline-{i}.log").start()
                cluster.procs.append(proc)
            yield cluster
        finally:
            cluster.stop()
            redis_forget(redis_url, prefix)


# ---------------------------------------------------------------- CPU accounting


def _pids_named(names: tuple[str, ...]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in names:
                    found.append(int(entry.name))
    return found


@dataclass
class CpuMeter:
    """CPU used between start() and stop(), in cores, by named groups of processes.

    ``machine`` is the whole machine's busy time; ``others`` is what no named group
    used (other people's test suites share this machine). PostgreSQL and Redis are
    counted whoever uses them.
    """

    groups: dict[str, list[int]]
    _start: dict[str, dict[int, float]] = field(default_factory=dict)
    _t0: float = 0.0

    def _read(self) -> dict[str, dict[int, float]]:
        groups = dict(self.groups)
        groups["postgres+redis"] = _pids_named(("postgres", "redis-server"))
        seen = {name: {pid: cpu_s(pid) for pid in pids} for name, pids in groups.items()}
        seen["machine"] = {0: machine_cpu()[0]}
        return seen

    def start(self) -> CpuMeter:
        self._start = self._read()
        self._t0 = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        elapsed = max(1e-6, time.monotonic() - self._t0)
        end = self._read()
        used: dict[str, float] = {}
        for name, pids in end.items():
            before = self._start.get(name, {})
            # A process that started meanwhile counts from zero; one that ended is lost.
            spent = sum(cpu - before.get(pid, 0.0) for pid, cpu in pids.items())
            used[name] = max(0.0, spent / elapsed)
        named = sum(v for k, v in used.items() if k != "machine")
        used["others"] = max(0.0, used["machine"] - named)
        used["loadavg"] = loadavg()
        return {k: round(v, 2) for k, v in used.items()}
