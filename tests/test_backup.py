"""Backups: a desk exported from one database and imported into another answers the same."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile
import uuid
from typing import Any

import httpx
import pytest

from tests.client import TIMEOUT, agent, visitor
from tests.servers import Backend, Server

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def cid() -> str:
    return uuid.uuid4().hex


def call(server: Server, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method, server.url + path, headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT, **kw,
    )  # fmt: skip


def cli(backend: Backend, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatdesk", *args],
        env=backend.env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


async def fill(server: Server) -> dict[str, Any]:
    """A small desk with one of everything."""
    admin = server.login()
    kai = {"email": "kai@example.com", "name": "Kai", "password": "kai-password"}
    made = call(server, "POST", "/api/v1/agents", admin, json=kai)
    assert made.status_code == 201
    call(
        server,
        "POST",
        "/api/v1/groups",
        admin,
        json={"name": "Billing", "agents": [made.json()["id"]]},
    )
    call(server, "POST", "/api/v1/labels", admin, json={"name": "refund"})
    hi = {"scope": "company", "shortcut": "/hi", "title": "Hi", "body": "Hi {{customer.name}}"}
    call(server, "POST", "/api/v1/canned", admin, json=hi)
    article = {"title": "Returns policy", "body": "Send it **back** in 30 days", "published": True}
    call(server, "POST", "/api/v1/kb/articles", admin, json=article)
    tickets = []
    for n in range(3):
        v = await visitor(server)
        auth = {"Authorization": f"Visitor {v.welcome['visitor_token']}"}
        shot = {"file": (f"shot{n}.png", io.BytesIO(PNG), "image/png")}
        att = httpx.post(server.url + "/api/v1/visitor/uploads", headers=auth, files=shot).json()
        await v.ok({"type": "profile", "name": f"Customer {n}", "email": f"c{n}@example.org"})
        first = {"type": "message", "client_msg_id": cid(), "body": f"Hello ünïcode {n} ✓",
                 "attachments": [att["id"]]}  # fmt: skip
        ticket = (await v.ok(first))["ticket"]
        tickets.append(ticket)
        boss = await agent(server, admin)
        await boss.ok({"type": "claim", "ticket": ticket})
        await boss.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "Hi!"})
        await boss.ok({"type": "labels", "ticket": ticket, "add": ["refund"]})
        await boss.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": "note"})
        if n == 0:
            await boss.ok({"type": "status", "ticket": ticket, "to": "solved"})
        customer = v.welcome["customer"]["id"]
        call(server, "POST", f"/api/v1/customers/{customer}/notes", admin, json={"body": "VIP"})
        await v.close()
        await boss.close()
    return {"tickets": tickets}


_SIGNED = re.compile(r"\?exp=\d+&sig=[0-9a-f]+")


def answers(server: Server, token: str, tickets: list[int]) -> dict[str, Any]:
    """What a client sees through REST (signed links without their time-bound part)."""
    paths = [
        "/api/v1/tickets", "/api/v1/tickets?status=solved", "/api/v1/tickets?label=refund",
        "/api/v1/tickets?q=unicode", "/api/v1/agents", "/api/v1/groups", "/api/v1/sites",
        "/api/v1/labels", "/api/v1/canned", "/api/v1/kb/articles", "/api/v1/kb/search?q=retur",
        "/api/v1/audit",
    ]  # fmt: skip
    for ticket in tickets:
        paths += [f"/api/v1/tickets/{ticket}", f"/api/v1/tickets/{ticket}/events"]
    out = {}
    for path in paths:
        r = call(server, "GET", path, token)
        assert r.status_code == 200, (path, r.text)
        out[path] = _SIGNED.sub("", r.text)
    customers = [
        e["author"]["id"]
        for ticket in tickets
        for e in call(server, "GET", f"/api/v1/tickets/{ticket}/events", token).json()["items"]
        if e["author"]["type"] == "visitor"
    ]
    for customer in sorted(set(customers)):
        r = call(server, "GET", f"/api/v1/customers/{customer}", token)
        out[f"customer {customer}"] = _SIGNED.sub("", r.text)
    page = httpx.get(server.url + "/kb/returns-policy")
    out["kb page"] = page.text
    events = call(server, "GET", f"/api/v1/tickets/{tickets[0]}/events", token).json()["items"]
    url = events[0]["attachments"][0]["url"]
    out["file"] = httpx.get(server.url + url).content.hex()
    return out


@pytest.mark.parametrize(
    "source,target", [("sqlite", "postgres"), ("postgres", "sqlite"), ("sqlite", "sqlite")]
)
async def test_export_and_import_move_a_whole_desk(make_backend, tmp_path, source, target):
    tag = uuid.uuid4().hex[:4]
    src_backend = make_backend(source, f"bk-src-{source}-{target}-{tag}")
    dst_backend = make_backend(target, f"bk-dst-{source}-{target}-{tag}")
    src = Server(src_backend).start()
    try:
        made = await fill(src)
        admin = src.login()
        before = answers(src, admin, made["tickets"])
    finally:
        src.stop()
    archive = tmp_path / "desk.tar.gz"
    done = cli(src_backend, "export", "--out", str(archive))
    assert done.returncode == 0, done.stderr
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and any(n.startswith("files/uploads/") for n in names)

    loaded = cli(dst_backend, "import", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    again = cli(dst_backend, "import", str(archive))  # never over an existing desk
    assert again.returncode == 2 and "empty database" in again.stderr
    assert again.stderr.count("\n") == 1

    dst = Server(dst_backend).start()
    try:
        dst.admin_password, dst.site_key = src.admin_password, src.site_key
        token = dst.login()  # the same admin, the same password
        after = answers(dst, token, made["tickets"])
        assert after == before
        # Ids go on after the imported ones (PostgreSQL sequences were moved).
        v = await visitor(dst)
        ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "new"}))["ticket"]
        assert ticket > max(made["tickets"])
        r = call(dst, "POST", "/api/v1/labels", token, json={"name": "after-import"})
        assert r.status_code == 201, r.text
        await v.close()
    finally:
        dst.stop()


def test_import_refuses_what_is_not_an_export(make_backend, tmp_path):
    backend = make_backend("sqlite", f"bk-bad-{uuid.uuid4().hex[:4]}")
    missing = cli(backend, "import", str(tmp_path / "nope.tar.gz"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    bad = cli(backend, "import", str(junk))
    assert bad.returncode == 2 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        data = b'{"format": 99}'
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    wrong = cli(backend, "import", str(empty))
    assert wrong.returncode == 2 and "not a chatdesk export" in wrong.stderr
    assert cli(backend, "export").returncode == 2  # --out is required
    fresh = make_backend("sqlite", f"bk-none-{uuid.uuid4().hex[:4]}")
    nothing = cli(fresh, "export", "--out", str(tmp_path / "x.tar.gz"))
    assert nothing.returncode == 2 and "nothing to export" in nothing.stderr
    assert not (tmp_path / "x.tar.gz").exists()
