"""Uploads: type by content, size limit, signed expiring links, visitors see only their own."""

from __future__ import annotations

import io
import uuid

import httpx

from tests.client import agent, visitor

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def cid() -> str:
    return uuid.uuid4().hex


def upload(desk, auth: str, name: str, data: bytes, mime: str) -> httpx.Response:
    return httpx.post(
        desk.url + ("/api/v1/visitor/uploads" if auth.startswith("Visitor") else "/api/v1/uploads"),
        headers={"Authorization": auth},
        files={"file": (name, io.BytesIO(data), mime)},
    )


async def test_visitor_sends_an_image_and_the_agent_downloads_it(desk, tokens):
    v = await visitor(desk)
    auth = f"Visitor {v.welcome['visitor_token']}"
    r = upload(desk, auth, "shot.png", PNG, "image/png")
    assert r.status_code == 201, r.text
    att = r.json()
    assert att["content_type"] == "image/png" and att["size"] == len(PNG)
    msg = {"type": "message", "client_msg_id": cid(), "body": "see", "attachments": [att["id"]]}
    ticket = (await v.ok(msg))["ticket"]
    ana = await agent(desk, tokens["ana"])
    watched = await ana.ok({"type": "watch", "ticket": ticket})
    shown = watched["events"][0]["attachments"][0]
    assert shown["filename"] == "shot.png" and shown["url"].startswith("/files/")
    got = httpx.get(desk.url + shown["url"])
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-type"] == "image/png"
    assert "inline" in got.headers["content-disposition"]
    await v.close()
    await ana.close()


def test_html_claiming_to_be_png_is_refused(desk, tokens):
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    for data, name in ((html, "x.png"), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "a.svg")):
        r = upload(desk, f"Bearer {tokens['ana']}", name, data, "image/png")
        assert r.status_code == 415 and r.json()["code"] == "unsupported_media", r.text
    ok = upload(desk, f"Bearer {tokens['ana']}", "notes.txt", "plain text ✓".encode(), "x/y")
    assert ok.status_code == 201 and ok.json()["content_type"] == "text/plain"
    pdf = upload(desk, f"Bearer {tokens['ana']}", "doc.bin", PDF, "text/html")
    assert pdf.status_code == 201 and pdf.json()["content_type"] == "application/pdf"


def test_oversized_upload_is_refused_and_stores_nothing(desk, tokens):
    uploads = desk.backend.data_dir / "uploads"
    before = sorted(p.name for p in uploads.rglob("*")) if uploads.exists() else []
    big = b"a" * (10 * 2**20 + 1)
    r = upload(desk, f"Bearer {tokens['ana']}", "big.txt", big, "text/plain")
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    after = sorted(p.name for p in uploads.rglob("*")) if uploads.exists() else []
    assert after == before


def test_uploads_need_a_caller(desk):
    assert upload(desk, "Bearer forged", "a.png", PNG, "image/png").status_code == 401
    assert upload(desk, "Visitor forged", "a.png", PNG, "image/png").status_code == 401
    r = httpx.post(desk.url + "/api/v1/uploads", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401


def test_file_links_need_a_valid_unexpired_signature(desk, tokens):
    att = upload(desk, f"Bearer {tokens['ana']}", "a.png", PNG, "image/png").json()
    url = desk.url + att["url"]
    assert httpx.get(url).status_code == 200
    base, _, query = url.partition("?")
    params = dict(p.split("=") for p in query.split("&"))
    for bad in (
        {**params, "sig": "0" * 64},
        {**params, "exp": str(int(params["exp"]) + 1)},
        {"exp": "1", "sig": params["sig"]},
        {},
    ):
        r = httpx.get(base, params=bad)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", bad
    other = httpx.get(desk.url + f"/files/{uuid.uuid4().hex}", params=params)
    assert other.status_code == 403


async def test_visitor_never_gets_a_note_attachment_or_anothers_upload(desk, tokens):
    v = await visitor(desk)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    ana = await agent(desk, tokens["ana"])
    await ana.ok({"type": "claim", "ticket": ticket})
    secret = upload(desk, f"Bearer {tokens['ana']}", "internal.pdf", PDF, "application/pdf").json()
    note = {"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": "n"}
    await ana.ok({**note, "attachments": [secret["id"]]})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "public"})
    await v.event(ticket, "message", author="agent")
    again = await visitor(desk, token=v.welcome["visitor_token"], after_seq=0)
    synced = await again.ok({"type": "sync", "after_seq": 0})
    for seen in (str(again.welcome), str(synced), str(v.pushes)):
        assert secret["id"] not in seen and "internal.pdf" not in seen
    # Another visitor cannot attach someone else's upload (nor learn it exists).
    stranger = await visitor(desk)
    msg = {"type": "message", "client_msg_id": cid(), "body": "x", "attachments": [secret["id"]]}
    assert (await stranger.request(msg))["code"] == "not_found"
    # Nor an agent another agent's upload.
    bo = await agent(desk, tokens["bo"])
    mine = upload(desk, f"Bearer {tokens['bo']}", "b.png", PNG, "image/png").json()
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "ok"})
    send = {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "x"}
    assert (await ana.request({**send, "attachments": [mine["id"]]}))["code"] == "not_found"
    for c in (v, again, stranger, ana, bo):
        await c.close()
