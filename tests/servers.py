"""Real chatdesk servers for tests: `chatdesk serve` in a child process on a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

STARTUP_S = float(os.environ.get("CHATDESK_TEST_STARTUP", "30"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Backend:
    """Where a test desk keeps its data: one database (and maybe one Redis prefix)."""

    name: str
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    redis_prefix: str
    secret_key: str = "test-secret-key-0123456789abcdef"
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CHATDESK_") or k == "CHATDESK_LOG_LEVEL"
        }
        env.update(
            # Tests open many sockets from 127.0.0.1 in bursts; tests/test_limits.py runs
            # its own desk with the limits on.
            CHATDESK_RATE_IP_CONNECTS="0",
            CHATDESK_MAX_CONNECTIONS_PER_IP="0",
            CHATDESK_RATE_VISITOR_MESSAGES="0",
            CHATDESK_RATE_AGENT_COMMANDS="0",
            CHATDESK_RATE_LOGINS="1000",
            CHATDESK_DATA_DIR=str(self.data_dir),
            CHATDESK_SECRET_KEY=self.secret_key,
            CHATDESK_REDIS_PREFIX=self.redis_prefix,
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            env["CHATDESK_DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["CHATDESK_REDIS_URL"] = self.redis_url
        env.update(self.extra)
        return env

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "chatdesk", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(f"chatdesk {' '.join(args)} failed: {done.stderr}")
        return done.stdout


@dataclass
class Server:
    backend: Backend
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    admin_password: str | None = None
    site_key: str | None = None
    log_path: Path | None = None
    workers: int = 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def start(self) -> Server:
        self.log_path = self.backend.data_dir / f"server-{self.port}.log"
        self.backend.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            self.proc = self._spawn(log)
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log_path.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            self.stop()
            raise AssertionError(f"server did not start: {self.log_path.read_text()}")
        text = self.log_path.read_text()
        found = re.search(r"admin password:\s+(\S+)", text)
        if found:
            self.admin_password = found.group(1)
        key = re.search(r"site key:\s+(\S+)", text)
        if key:
            self.site_key = key.group(1)
        return self

    def _spawn(self, log: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chatdesk",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.backend.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def login(self, email: str = "admin@example.com", password: str | None = None) -> str:
        r = httpx.post(
            self.url + "/api/v1/auth/login",
            json={"email": email, "password": password or self.admin_password},
        )
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def get(self, path: str, token: str, **params: object) -> httpx.Response:
        return httpx.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {token}"}
        )
