"""CSAT ratings over the visitor channel, and reports (JSON and CSV) computed from events."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.client import agent, visitor


def cid() -> str:
    return uuid.uuid4().hex


def call(desk, method: str, path: str, token: str, **kw) -> httpx.Response:
    return httpx.request(
        method, desk.url + path, headers={"Authorization": f"Bearer {token}"}, **kw
    )


def is_csat(ticket: int):
    return lambda f: f["type"] == "csat_request" and f["ticket"] == ticket


async def test_csat_once_per_solve_and_the_report_shows_it(desk, tokens):
    admin = tokens["admin"]
    tag = uuid.uuid4().hex[:8]
    group = call(desk, "POST", "/api/v1/groups", admin, json={"name": f"Reports {tag}"}).json()
    ana = await agent(desk, tokens["ana"])
    ana_id = ana.welcome["agent"]["id"]
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "help"}))["ticket"]
    early = await v.request({"type": "rating", "score": 5})
    assert early["type"] == "error" and early["code"] == "conflict"  # nothing solved yet
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.ok({"type": "transfer", "ticket": ticket, "agent": ana_id, "group": group["id"]})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "Sure!"})
    await ana.ok({"type": "status", "ticket": ticket, "to": "solved"})
    await v.push(is_csat(ticket))

    for bad in (
        {"score": 6},
        {"score": 0},
        {"score": "5"},
        {"score": True},
        {},
        {"score": 4, "comment": 7},
        {"score": 4, "comment": "x" * 2001},
    ):
        r = await v.request({"type": "rating", **bad})
        assert r["type"] == "error" and r["code"] == "bad_request", (bad, r)
    rated = await v.ok({"type": "rating", "score": 4, "comment": "quick, thanks"})
    assert rated["ticket"] == ticket
    again = await v.request({"type": "rating", "score": 1})
    assert again["type"] == "error" and again["code"] == "conflict"
    rating = await ana.event(ticket, "rating")
    assert rating["visibility"] == "internal" and rating["score"] == 4
    assert rating["comment"] == "quick, thanks" and rating["author"]["type"] == "visitor"
    # The visitor never gets the internal rating event back.
    assert not [p for p in v.pushes if p.get("type") == "event" and p["event"]["kind"] == "rating"]

    # Reopened and solved again: a new solve, a new rating.
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "one more thing"})
    await ana.ok({"type": "status", "ticket": ticket, "to": "solved"})
    await v.push(is_csat(ticket))
    await v.ok({"type": "rating", "score": 2})

    today = datetime.now(UTC).date()
    params = {"from": str(today - timedelta(days=1)), "to": str(today), "group": group["id"]}
    r = call(desk, "GET", "/api/v1/reports/summary", admin, params=params)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["csat"] == {"count": 2, "average": 3.0}
    assert report["tickets"] == 1 and report["solved"] == 1
    assert [d["count"] for d in report["new_per_day"]] == [0, 1]
    assert report["first_response_s"]["median"] >= 0
    assert report["resolution_s"]["median"] >= report["first_response_s"]["median"]
    (mine,) = report["per_agent"]
    assert mine["agent"] == {"id": ana_id, "name": "Ana"} and mine["csat"]["count"] == 2
    (team,) = report["per_group"]
    assert team["group"] == {"id": group["id"], "name": group["name"]}
    assert team["first_response_s"] == report["first_response_s"]
    await v.close()
    await ana.close()


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def num(cell: str) -> float | None:
    return float(cell) if cell != "" else None


async def test_csv_export_has_the_same_numbers_as_the_api(desk, tokens):
    admin = tokens["admin"]
    ana = await agent(desk, tokens["ana"])
    for body in ("first", "second"):
        v = await visitor(desk)
        t = (await v.ok({"type": "message", "client_msg_id": cid(), "body": body}))["ticket"]
        await ana.ok({"type": "claim", "ticket": t})
        await ana.ok({"type": "send", "ticket": t, "client_msg_id": cid(), "body": "hi"})
        await ana.ok({"type": "status", "ticket": t, "to": "solved"})
        await v.ok({"type": "rating", "score": 5})
        await v.close()
    today = datetime.now(UTC).date()
    params = {"from": str(today - timedelta(days=6)), "to": str(today)}
    report = call(desk, "GET", "/api/v1/reports/summary", admin, params=params).json()
    exported = call(desk, "GET", "/api/v1/reports/export.csv", admin, params=params)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = rows_of(exported.content.decode("utf-8-sig"))
    (total,) = [r for r in rows if r["scope"] == "total"]
    assert int(total["tickets"]) == report["tickets"] and int(total["solved"]) == report["solved"]
    assert num(total["first_response_median_s"]) == report["first_response_s"]["median"]
    assert num(total["first_response_p90_s"]) == report["first_response_s"]["p90"]
    assert num(total["resolution_median_s"]) == report["resolution_s"]["median"]
    assert num(total["resolution_p90_s"]) == report["resolution_s"]["p90"]
    assert int(total["csat_count"]) == report["csat"]["count"] >= 2
    assert num(total["csat_average"]) == report["csat"]["average"]
    days = [(r["day"], int(r["tickets"])) for r in rows if r["scope"] == "day"]
    assert days == [(d["day"], d["count"]) for d in report["new_per_day"]]
    assert len(days) == 7
    agents = {r["id"]: r for r in rows if r["scope"] == "agent"}
    for item in report["per_agent"]:
        row = agents[str(item["agent"]["id"])]
        assert row["name"] == item["agent"]["name"] and int(row["tickets"]) == item["tickets"]
        assert num(row["csat_average"]) == item["csat"]["average"]
        assert num(row["resolution_median_s"]) == item["resolution_s"]["median"]
    assert len(agents) == len(report["per_agent"])
    assert len([r for r in rows if r["scope"] == "group"]) == len(report["per_group"])
    await ana.close()


async def test_report_queries_are_checked(desk, tokens):
    admin = tokens["admin"]
    for params in (
        {"from": "yesterday"},
        {"to": "2025-02-30"},
        {"from": "2025-03-02", "to": "2025-03-01"},
        {"from": "2020-01-01", "to": "2025-01-01"},
        {"group": "sales"},
        {"agent": "0"},
        {"agent": "99999999999"},
    ):
        for path in ("/api/v1/reports/summary", "/api/v1/reports/export.csv"):
            r = call(desk, "GET", path, admin, params=params)
            assert r.status_code == 400 and r.json()["code"] == "bad_request", (params, r.text)
    r = call(desk, "GET", "/api/v1/reports/summary", admin, params={"group": "999999"})
    assert r.status_code == 404
    assert call(desk, "GET", "/api/v1/reports/summary", tokens["ana"]).status_code == 403
    assert httpx.get(desk.url + "/api/v1/reports/export.csv").status_code == 401
    quiet = call(
        desk,
        "GET",
        "/api/v1/reports/summary",
        admin,
        params={"from": "2001-01-01", "to": "2001-01-03"},
    ).json()
    assert quiet["tickets"] == 0 and quiet["csat"] == {"count": 0, "average": None}
    assert quiet["first_response_s"] == {"median": None, "p90": None}
    assert [d["day"] for d in quiet["new_per_day"]] == ["2001-01-01", "2001-01-02", "2001-01-03"]
    assert quiet["per_agent"] == [] and quiet["per_group"] == []


async def test_sqlite_stores_every_time_in_one_format(make_backend):
    """SQLite keeps times as text and compares them as text: a report's or retention's
    date range is only right if every path (the ORM, the writer's plain statements)
    writes the same format."""
    import re
    import sqlite3

    from tests.servers import Server

    backend = make_backend("sqlite", f"times-{uuid.uuid4().hex[:4]}")
    server = Server(backend).start()
    admin = await agent(server, server.login())
    v = await visitor(server)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    await admin.ok({"type": "claim", "ticket": ticket})
    await v.ok({"type": "message", "client_msg_id": cid(), "body": "again"})  # notifies
    await admin.push(lambda f: f["type"] == "notification")
    await v.close()
    await admin.close()
    server.stop()
    db = sqlite3.connect(backend.data_dir / "chatdesk.db")
    stored = [
        *db.execute("SELECT at FROM events"),
        *db.execute("SELECT created_at FROM tickets"),
        *db.execute("SELECT updated_at FROM tickets"),
        *db.execute("SELECT at FROM notifications"),
    ]
    db.close()
    assert len(stored) >= 6
    one_format = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
    assert [t for (t,) in stored if not one_format.fullmatch(t)] == []
