"""The CLI is scriptable: clear one-line errors, the site key as the last line."""

from __future__ import annotations

import subprocess
import sys


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatdesk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_site_and_agent_add(make_backend):
    backend = make_backend("sqlite", "cli")
    out = backend.cli("site", "add", "Shop", "--origin", "https://shop.example.com/")
    key = out.strip().splitlines()[-1]
    assert len(key) >= 12 and " " not in key
    assert "https://shop.example.com" in out
    added = backend.cli(
        "agent", "add", "cli@example.com", "--name", "Cli", "--password", "pw-12345678"
    )
    assert "cli@example.com" in added
    again = run(
        backend.env(), "agent", "add", "cli@example.com", "--name", "C", "--password", "pw-12345678"
    )
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "exists" in again.stderr
    bad = run(backend.env(), "site", "add", "X", "--origin", "ftp://nope")
    assert bad.returncode == 2 and "origin" in bad.stderr and "Traceback" not in bad.stderr


def test_bad_configuration_fails_with_one_line(make_backend):
    backend = make_backend("sqlite", "badconf")
    env = backend.env()
    for key, value, words in (
        ("CHATDESK_DATABASE_URL", "mysql://x", "CHATDESK_DATABASE_URL"),
        ("CHATDESK_REDIS_URL", "http://x", "CHATDESK_REDIS_URL"),
        ("CHATDESK_MAX_FRAME_BYTES", "lots", "whole number"),
        ("CHATDESK_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/x", "cannot migrate"),
    ):
        done = run({**env, key: value}, "migrate")
        assert done.returncode == 2, done
        assert done.stderr.startswith("chatdesk: error:") and words in done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_several_workers_need_redis(make_backend):
    backend = make_backend("sqlite", "workers")
    done = run(backend.env(), "serve", "--workers", "2", "--port", "1")
    assert done.returncode == 2 and "CHATDESK_REDIS_URL" in done.stderr
