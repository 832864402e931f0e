"""Observability: Prometheus metrics that move with the traffic, and logs that keep secrets."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatdesk.services.customers import SITE_CACHE_S
from tests.client import TIMEOUT, agent, visitor
from tests.servers import Server, free_port

METRICS_TOKEN = "metrics-token-0123456789"


def cid() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def observed(request, make_backend):
    """A desk with metrics on both doors and JSON logs at INFO."""
    base = make_backend(request.param, f"metrics-{request.param}")
    port = free_port()
    backend = dataclasses.replace(
        base,
        extra={
            "CHATDESK_METRICS_TOKEN": METRICS_TOKEN,
            "CHATDESK_METRICS_PORT": str(port),
            "CHATDESK_LOG_FORMAT": "json",
            "CHATDESK_LOG_LEVEL": "info",
        },
    )
    server = Server(backend).start()
    server.metrics_url = f"http://127.0.0.1:{port}/metrics"  # type: ignore[attr-defined]
    yield server
    server.stop()


def scrape(server: Server) -> dict[tuple[str, tuple], float]:
    r = httpx.get(
        server.url + "/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def total(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and want <= set(lbls))


async def test_metrics_need_the_token_and_move_when_messages_flow(observed):
    server = observed
    assert httpx.get(server.url + "/metrics").status_code == 401
    wrong = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
    odd = httpx.get(server.url + "/metrics", headers={"Authorization": b"Bearer t\xf6ken"})
    assert odd.status_code == 401
    side = httpx.get(server.metrics_url)  # the metrics port needs no token
    assert side.status_code == 200
    assert "chatdesk_messages_stored_total" in side.text
    assert httpx.get(server.metrics_url.replace("/metrics", "/other")).status_code == 404

    before = scrape(server)
    admin = await agent(server, server.login())
    v = await visitor(server)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "count me"}))["ticket"]
    await admin.ok({"type": "claim", "ticket": ticket})
    await admin.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "counted"})
    await v.event(ticket, "message", author="agent")
    during = scrape(server)
    assert total(during, "chatdesk_connections_open", channel="visitor") >= 1
    assert total(during, "chatdesk_connections_open", channel="agent") >= 1
    await v.close()
    await admin.close()
    after = scrape(server)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("chatdesk_messages_stored_total", author="visitor") >= 1
    assert moved("chatdesk_messages_stored_total", author="agent") >= 1
    assert moved("chatdesk_events_stored_total", kind="status") >= 1
    assert moved("chatdesk_ack_seconds_count", channel="visitor", frame="message") >= 1
    assert moved("chatdesk_ack_seconds_count", channel="agent", frame="send") >= 1
    assert moved("chatdesk_push_latency_seconds_count", channel="visitor") >= 1
    assert moved("chatdesk_writer_batches_total") >= 1
    assert moved("chatdesk_writer_batch_seconds_count") >= 1
    assert moved("chatdesk_db_query_seconds_count") >= 1
    assert moved("chatdesk_http_requests_total") >= 1
    for name in (
        "chatdesk_broker_reconnects_total", "chatdesk_broker_healthy", "chatdesk_db_pool_size",
        "chatdesk_db_pool_checked_out", "chatdesk_send_queue_max_items",
        "chatdesk_outbound_queue", "chatdesk_slow_consumer_closes_total",
    ):  # fmt: skip
        assert any(n == name for n, _ in after), name
    assert ("chatdesk_outbound_queue", (("queue", "mail"),)) in after
    assert ("chatdesk_outbound_queue", (("queue", "webhook"),)) in after


async def test_a_reconnect_storm_reads_its_site_once(observed):
    """Hellos arriving together while the site's cache entry is cold share one read:
    a restart's reconnect storm does not ask the database the same question 1,000
    times."""
    server = observed
    first = [await visitor(server) for _ in range(24)]
    tokens = [v.welcome["visitor_token"] for v in first]
    for v in first:
        await v.close()

    async def reads_of_a_storm() -> float:
        before = total(scrape(server), "chatdesk_db_query_seconds_count", engine="read")
        back = await asyncio.gather(*(visitor(server, token=t) for t in tokens))
        assert all(v.welcome["type"] == "welcome" for v in back)
        after = total(scrape(server), "chatdesk_db_query_seconds_count", engine="read")
        for v in back:
            await v.close()
        return after - before

    await asyncio.sleep(SITE_CACHE_S + 0.5)  # the site's cache entry expires
    cold = await reads_of_a_storm()
    warm = await reads_of_a_storm()  # the site is cached now
    assert cold <= warm + 1, (cold, warm)

    unknown = await visitor(server, site="no-such-site")
    assert unknown.welcome["type"] == "error" and unknown.welcome["code"] == "unauthorized"
    await unknown.close()


async def test_logs_are_structured_with_ids_and_keep_bodies_and_addresses_out(observed):
    server = observed
    secret = f"logsecret{uuid.uuid4().hex[:8]}"
    email = f"{secret}@example.net"
    admin_token = server.login()
    bad = httpx.post(
        server.url + "/api/v1/auth/login", json={"email": email, "password": f"pw-{secret}"}
    )
    assert bad.status_code == 401
    v = await visitor(server)
    await v.ok({"type": "profile", "name": f"N {secret}", "email": email})
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": f"body {secret}"}))[
        "ticket"
    ]
    admin = await agent(server, admin_token)
    await admin.ok({"type": "claim", "ticket": ticket})
    await admin.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(),
                    "body": f"reply {secret}"})  # fmt: skip
    await v.event(ticket, "message", author="agent")
    given = f"trace-{uuid.uuid4().hex[:12]}"
    found = httpx.get(
        server.url + "/api/v1/tickets",
        params={"customer": email, "q": secret},
        headers={"Authorization": f"Bearer {admin_token}", "X-Request-ID": given},
    )
    assert found.status_code == 200 and found.headers["x-request-id"] == given
    assert httpx.get(server.url + "/healthz").headers["x-request-id"]
    await v.close()
    await admin.close()
    await v.quiet(0.5)  # let the access lines reach the file

    text = server.log_path.read_text()
    for needle in (secret, email, admin_token, v.welcome["visitor_token"]):
        assert needle not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all(
        {"ts", "level", "logger", "ctx", "msg"} <= set(line) and line["ctx"] for line in lines
    )
    assert any(line["level"] == "info" for line in lines)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access and all(line["ctx"].startswith("req-") for line in access)
    assert any(line["ctx"] == f"req-{given}" for line in access)
    assert any(line["ctx"].startswith("ws-") for line in lines)  # WebSocket lines name theirs
