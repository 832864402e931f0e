"""The e-mail channel: offline replies, replies by mail, safety, outages (contract section 10).

The outside world's mail server is a real aiosmtpd server in a thread of the test;
the desk sends to it over SMTP and receives over its own SMTP port or the inbound API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.client import TIMEOUT, agent, visitor
from tests.servers import Server, free_port

DELAY_S = 2  # CHATDESK_EMAIL_DELAY_S: how long an offline reply waits
MAIL_WAIT = TIMEOUT * 3
SUPPORT = "help@acme.test"
HTML_AS_PDF = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def cid() -> str:
    return uuid.uuid4().hex


def address() -> str:
    return f"kim-{uuid.uuid4().hex[:8]}@example.com"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return part.get_content()

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return part.get_content()


class World:
    """The outside world's mail server: aiosmtpd in its own thread, keeping what arrives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.inbox.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, rcpt: str) -> list[Received]:
        with self._lock:
            return [m for m in self.inbox if rcpt in m.rcpt_tos]

    async def wait(self, match: Callable[[Received], bool], timeout: float = MAIL_WAIT) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.inbox if match(m)]
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no such mail in {timeout}s; inbox has {len(self.inbox)}")


@dataclass
class MailDesk:
    server: Server
    world: World
    admin: str
    ana: str
    secret: str
    site_id: int

    @property
    def smtp_port(self) -> int:
        """The desk's own SMTP receiver."""
        return int(self.server.backend.extra["CHATDESK_SMTP_PORT"])


def call(server: Server, method: str, path: str, token: str, **kw) -> httpx.Response:
    return httpx.request(
        method, server.url + path, headers={"Authorization": f"Bearer {token}"}, **kw
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def maildesk(request, make_backend) -> Iterator[MailDesk]:
    world = World()
    world.start()
    base = make_backend(request.param, f"mail-{request.param}")
    env = {
        "CHATDESK_SMTP_URL": f"smtp://127.0.0.1:{world.port}",
        "CHATDESK_EMAIL_DELAY_S": str(DELAY_S),
        "CHATDESK_EMAIL_RETRY_S": "1",
        "CHATDESK_SMTP_PORT": str(free_port()),
    }
    backend = dataclasses.replace(base, extra=env)
    server = Server(backend).start()
    backend.cli("agent", "add", "ana@example.com", "--name", "Ana", "--password", "ana-password")
    admin = server.login()
    site = call(server, "GET", "/api/v1/sites", admin).json()["items"][0]
    r = call(
        server,
        "PATCH",
        f"/api/v1/sites/{site['id']}",
        admin,
        json={"name": "Acme <Shop>", "email_from": "Acme Support <help@acme.test>",
              "support_address": SUPPORT},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["support_address"] == SUPPORT and shown["send_final_answer"] is True
    yield MailDesk(
        server,
        world,
        admin,
        server.login("ana@example.com", "ana-password"),
        shown["inbound_secret"],
        site["id"],
    )
    server.stop()
    world.stop()


def mail(
    frm: str,
    to: str,
    body: str,
    subject: str = "Question",
    *,
    cc: str | None = None,
    headers: dict[str, str] | None = None,
    files: list[tuple[str, bytes, str]] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Kim Customer <{frm}>"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.com")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, data, mime in files or []:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def post_mail(md: MailDesk, raw: bytes, secret: str | None = None) -> httpx.Response:
    return httpx.post(
        md.server.url + "/api/v1/inbound/email",
        content=raw,
        headers={
            "Authorization": f"Inbound {md.secret if secret is None else secret}",
            "Content-Type": "message/rfc822",
        },
    )


def events(md: MailDesk, ticket: int) -> list[dict]:
    r = md.server.get(f"/api/v1/tickets/{ticket}/events", md.admin, limit=1000)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def reply_to(received: Received) -> str:
    return str(received.message["Reply-To"])


async def offline_visitor(md: MailDesk, email: str, body: str = "my order is late") -> int:
    v = await visitor(md.server)
    await v.ok({"type": "profile", "email": email})
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": body}))["ticket"]
    await v.close()
    return ticket


async def test_an_offline_visitor_gets_one_mail_and_answers_it(maildesk: MailDesk):
    md = maildesk
    email = address()
    ticket = await offline_visitor(md, email)
    ana = await agent(md.server, md.ana)
    await ana.ok({"type": "claim", "ticket": ticket})
    first = await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(),
                          "body": "Sorry <b>Kim</b>, checking now."})  # fmt: skip
    await ana.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(),
                  "body": "INTERNAL-NOTE courier lost it"})  # fmt: skip
    second = await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(),
                           "body": "It ships tomorrow."})  # fmt: skip
    got = await md.world.wait(lambda m: email in m.rcpt_tos)
    text, page = got.text(), got.html()
    assert "Sorry <b>Kim</b>, checking now." in text and "It ships tomorrow." in text
    assert "Sorry &lt;b&gt;Kim&lt;/b&gt;" in page and "<b>Kim</b>" not in page
    assert "Acme &lt;Shop&gt;" in page  # the site's name, escaped
    assert "INTERNAL-NOTE" not in text + page + got.message.as_string()
    assert got.message["From"].addresses[0].addr_spec == SUPPORT
    assert reply_to(got).startswith(f"help+{ticket}.") and reply_to(got).endswith("@acme.test")
    await asyncio.sleep(DELAY_S + 2)  # a debounced digest: still exactly one
    assert len(md.world.to(email)) == 1
    sent = [e for e in events(md, ticket) if e["kind"] == "email_sent"]
    assert len(sent) == 1 and sent[0]["visibility"] == "internal"
    assert sent[0]["to"] == [email] and sent[0]["seqs"] == [first["seq"], second["seq"]]
    assert sent[0]["message_id"] == got.message["Message-ID"]

    # Solving sends the final answer; the visitor's reply by mail reopens the ticket.
    await ana.ok({"type": "status", "ticket": ticket, "to": "solved"})
    final = await md.world.wait(lambda m: email in m.rcpt_tos and m is not got)
    assert "has been solved" in final.text()
    await ana.ok({"type": "watch", "ticket": ticket})
    answer = mail(
        email,
        reply_to(got),
        "Thanks, that helps!\n\nOn Mon, 1 Jan 2024 at 10:00, Acme Support <help@acme.test>"
        " wrote:\n> Sorry Kim, checking now.\n> It ships tomorrow.\n",
        subject=f"Re: {got.message['Subject']}",
        headers={"In-Reply-To": got.message["Message-ID"]},
    )
    await aiosmtplib.send(
        answer, sender=email, recipients=[reply_to(got)], hostname="127.0.0.1", port=md.smtp_port
    )
    shown = await ana.event(ticket, "message", "visitor")
    assert shown["body"] == "Thanks, that helps!" and shown["via"] == "email"
    await ana.push(
        lambda f: (
            f.get("type") == "event"
            and f["event"]["kind"] == "status"
            and (f["event"]["from"], f["event"]["to"]) == ("solved", "open")
        )
    )
    received = await ana.event(ticket, "email_received")
    assert received["from"] == email and received["visibility"] == "internal"
    await ana.close()


async def test_no_mail_while_the_widget_is_open_or_without_an_address(maildesk: MailDesk):
    md = maildesk
    email = address()
    v = await visitor(md.server)
    await v.ok({"type": "profile", "email": email})
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    nomail = await visitor(md.server)
    other = (await nomail.ok({"type": "message", "client_msg_id": cid(), "body": "hi"}))["ticket"]
    await nomail.close()
    ana = await agent(md.server, md.ana)
    for t in (ticket, other):
        await ana.ok({"type": "claim", "ticket": t})
        await ana.ok({"type": "send", "ticket": t, "client_msg_id": cid(), "body": "Hello!"})
    await v.event(ticket, "message", "agent")
    await asyncio.sleep(DELAY_S + 3)
    assert md.world.to(email) == []
    assert not [e for e in events(md, other) if e["kind"] == "email_sent"]
    await v.close()
    await ana.close()


async def test_an_email_ticket_is_answered_by_mail_with_its_cc(maildesk: MailDesk):
    md = maildesk
    email, carol = address(), address()
    r = post_mail(md, mail(email, SUPPORT, "My invoice is wrong.", "Invoice 42", cc=carol))
    assert r.status_code == 202, r.text
    ticket = r.json()["ticket"]
    shown = md.server.get(f"/api/v1/tickets/{ticket}", md.admin).json()
    assert shown["subject"] == "Invoice 42" and shown["status"] == "new"
    ana = await agent(md.server, md.ana)
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "Fixed it."})
    got = await md.world.wait(lambda m: email in m.rcpt_tos)  # at once: no offline delay
    assert sorted(got.rcpt_tos) == sorted([email, carol])
    assert "Fixed it." in got.text() and got.message["In-Reply-To"]
    await ana.ok({"type": "status", "ticket": ticket, "to": "pending"})
    pending = await md.world.wait(lambda m: carol in m.rcpt_tos and m is not got)
    assert "waiting for your answer" in pending.text()

    # A reply to the signed address lands on the ticket; a tampered one starts a new ticket.
    good = post_mail(md, mail(email, reply_to(got), "Thanks!", "Re: Invoice 42"))
    assert good.status_code == 202 and good.json()["ticket"] == ticket
    assert md.server.get(f"/api/v1/tickets/{ticket}", md.admin).json()["status"] == "open"
    local, _, domain = reply_to(got).partition("@")
    flipped = local[:-1] + ("0" if local[-1] != "0" else "1")
    forged = post_mail(md, mail(email, f"{flipped}@{domain}", "Forged?", "Re: Invoice 42"))
    assert forged.status_code == 202
    assert forged.json()["ticket"] not in (ticket, None)
    other = f"help+{ticket + 1}.{local.rsplit('.', 1)[1]}@{domain}"  # a real MAC, another id
    moved = post_mail(md, mail(email, other, "Other ticket?", "Re: Invoice 42"))
    assert moved.json()["ticket"] not in (ticket, ticket + 1)
    bodies = [e.get("body") for e in events(md, ticket) if e["kind"] == "message"]
    assert "Forged?" not in bodies and "Other ticket?" not in bodies
    await ana.close()


async def test_auto_replies_bounces_and_loops_are_never_answered(maildesk: MailDesk):
    md = maildesk
    email = address()
    first = post_mail(md, mail(email, SUPPORT, "Where is my parcel?"))
    ticket = first.json()["ticket"]
    ana = await agent(md.server, md.ana)
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "On its way."})
    got = await md.world.wait(lambda m: email in m.rcpt_tos)
    before = md.server.get(f"/api/v1/tickets/{ticket}", md.admin).json()["last_seq"]
    ooo = mail(email, reply_to(got), "I am out of office until Monday.", "Automatic reply",
               headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"})  # fmt: skip
    bulk = mail(email, reply_to(got), "Newsletter", headers={"Precedence": "bulk"})
    bounce = mail("MAILER-DAEMON@mx.example.com", SUPPORT, "Delivery failed", "Undelivered")
    for raw, reason in ((ooo, "auto_reply"), (bulk, "auto_reply"), (bounce, "bounce"),
                        (got.message.as_bytes(), "loop")):  # fmt: skip
        r = post_mail(md, raw)
        assert r.status_code == 202 and r.json() == {"ignored": reason}, r.text
    await asyncio.sleep(DELAY_S + 2)
    assert md.server.get(f"/api/v1/tickets/{ticket}", md.admin).json()["last_seq"] == before
    assert len(md.world.to(email)) == 1  # nothing answered the autoresponder
    await ana.close()


async def test_mail_waits_out_an_smtp_outage_and_chat_goes_on(maildesk: MailDesk):
    md = maildesk
    email = address()
    ticket = await offline_visitor(md, email)
    ana = await agent(md.server, md.ana)
    await ana.ok({"type": "claim", "ticket": ticket})
    md.world.stop()
    try:
        acked = await ana.ok(
            {"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "During outage"}
        )
        assert acked["seq"] > 0
        deadline = time.monotonic() + MAIL_WAIT
        while True:
            rows = call(md.server, "GET", "/api/v1/mail/outbox", md.admin,
                        params={"ticket": ticket}).json()["items"]  # fmt: skip
            if rows and rows[0]["attempts"] >= 1 and rows[0]["status"] == "queued":
                break
            assert time.monotonic() < deadline, rows
            await asyncio.sleep(0.2)
        assert rows[0]["last_error"]
    finally:
        md.world.start()
    got = await md.world.wait(lambda m: email in m.rcpt_tos)
    assert "During outage" in got.text()
    rows = call(md.server, "GET", "/api/v1/mail/outbox", md.admin,
                params={"ticket": ticket}).json()["items"]  # fmt: skip
    assert rows[0]["status"] == "sent" and len(md.world.to(email)) == 1
    assert call(md.server, "GET", "/api/v1/mail/outbox", md.ana).status_code == 403
    await ana.close()


async def test_an_html_file_posing_as_pdf_is_refused_like_an_upload(maildesk: MailDesk):
    md = maildesk
    raw = mail(
        address(), SUPPORT, "Please see the attached invoice.", "Invoice attached",
        files=[("invoice.pdf", HTML_AS_PDF, "application/pdf"),
               ("notes.txt", b"order 42, two items", "text/plain")],
    )  # fmt: skip
    r = post_mail(md, raw)
    assert r.status_code == 202, r.text
    ticket, seq = r.json()["ticket"], r.json()["seq"]
    timeline = events(md, ticket)
    message = next(e for e in timeline if e["seq"] == seq)
    assert message["body"] == "Please see the attached invoice." and message["via"] == "email"
    assert [a["filename"] for a in message["attachments"]] == ["notes.txt"]
    note = next(e for e in timeline if e["kind"] == "email_received")
    assert note["visibility"] == "internal"
    assert [(r["filename"], r["code"]) for r in note["refused"]] == [
        ("invoice.pdf", "unsupported_media")
    ]
    kept = httpx.get(md.server.url + message["attachments"][0]["url"])
    assert kept.status_code == 200 and kept.content == b"order 42, two items"
    upload = httpx.post(
        md.server.url + "/api/v1/uploads",
        headers={"Authorization": f"Bearer {md.ana}"},
        files={"file": ("invoice.pdf", HTML_AS_PDF, "application/pdf")},
    )
    assert upload.status_code == 415  # the same rule as an upload


async def test_the_inbound_api_refuses_a_wrong_secret_and_bad_input(maildesk: MailDesk):
    md = maildesk
    email = address()
    raw = mail(email, SUPPORT, "Let me in", f"Unique {email}")
    before = md.server.get("/api/v1/tickets", md.admin, limit=5).json()["items"]
    for secret in ("wrong-secret", md.secret + "x", md.secret[:-1]):
        r = post_mail(md, raw, secret=secret)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    for auth in ({}, {"Authorization": "Inbound"}, {"Authorization": f"Bearer {md.admin}"}):
        r = httpx.post(md.server.url + "/api/v1/inbound/email", content=raw, headers=auth)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert md.server.get("/api/v1/tickets", md.admin, limit=5).json()["items"] == before
    assert post_mail(md, b"").status_code == 400
    assert post_mail(md, b"Subject: no sender\r\n\r\nhello\r\n").json()["code"] == "bad_request"
    wrong_type = httpx.post(
        md.server.url + "/api/v1/inbound/email",
        content=b'{"a": 1}',
        headers={"Authorization": f"Inbound {md.secret}", "Content-Type": "application/json"},
    )
    assert wrong_type.status_code == 415
    assert md.server.get("/api/v1/tickets", md.admin, limit=5).json()["items"] == before
    ok = post_mail(md, raw)
    assert ok.status_code == 202
    again = post_mail(md, raw)  # the same Message-ID again stores nothing new
    assert again.json() == ok.json()


async def test_a_visitor_asks_for_the_transcript(maildesk: MailDesk):
    md = maildesk
    v = await visitor(md.server)
    ticket = (await v.ok({"type": "message", "client_msg_id": cid(), "body": "Q?"}))["ticket"]
    ana = await agent(md.server, md.ana)
    await ana.ok({"type": "claim", "ticket": ticket})
    await ana.ok({"type": "send", "ticket": ticket, "client_msg_id": cid(), "body": "A!"})
    await ana.ok({"type": "note", "ticket": ticket, "client_msg_id": cid(), "body": "SECRET-N"})
    assert (await v.request({"type": "transcript"}))["code"] == "bad_request"  # no address
    bad = await v.request({"type": "transcript", "email": "not-an-address"})
    assert bad["type"] == "error" and bad["code"] == "bad_request"
    to = address()
    await v.ok({"type": "transcript", "email": to})
    got = await md.world.wait(lambda m: to in m.rcpt_tos)
    assert "Q?" in got.text() and "A!" in got.text() and "SECRET-N" not in got.message.as_string()
    fresh = await visitor(md.server)
    assert (await fresh.request({"type": "transcript", "email": to}))["code"] == "not_found"
    await v.close()
    await fresh.close()
    await ana.close()


async def test_the_smtp_receiver_takes_only_our_addresses(maildesk: MailDesk):
    md = maildesk
    email = address()
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(
            mail(email, "someone@else.test", "relay me"), sender=email,
            recipients=["someone@else.test"], hostname="127.0.0.1", port=md.smtp_port,
        )  # fmt: skip
    subject = f"By SMTP {uuid.uuid4().hex[:6]}"
    await aiosmtplib.send(
        mail(email, SUPPORT, "Hello by SMTP", subject), sender=email,
        recipients=[SUPPORT], hostname="127.0.0.1", port=md.smtp_port,
    )  # fmt: skip
    items = md.server.get("/api/v1/tickets", md.admin, limit=10).json()["items"]
    assert any(t["subject"] == subject for t in items)


def test_site_mail_settings_are_checked(maildesk: MailDesk):
    md = maildesk
    path = f"/api/v1/sites/{md.site_id}"
    for body in (
        {"email_from": "not an address"},
        {"email_from": "Evil\r\nBcc: x@y.zz <a@b.cc>"},
        {"support_address": "help+x@acme.test"},
        {"support_address": 5},
        {"send_final_answer": "yes"},
    ):
        r = call(md.server, "PATCH", path, md.admin, json=body)
        assert r.status_code == 400 and r.json()["code"] == "bad_request", (body, r.text)
    denied = call(md.server, "PATCH", path, md.ana, json={"send_final_answer": False})
    assert denied.status_code == 403
    site = call(md.server, "GET", "/api/v1/sites", md.admin).json()["items"][0]
    assert site["support_address"] == SUPPORT and site["send_final_answer"] is True
    rotated = call(md.server, "PATCH", path, md.admin, json={"rotate_inbound_secret": True}).json()
    assert rotated["inbound_secret"] != md.secret
    raw = mail(address(), SUPPORT, "old secret")
    assert post_mail(md, raw).status_code == 401
    assert post_mail(md, raw, secret=rotated["inbound_secret"]).status_code == 202
    md.secret = rotated["inbound_secret"]


def test_serve_checks_the_smtp_port(make_backend):
    backend = make_backend("sqlite", "mail-cli")
    with pytest.raises(AssertionError, match="--smtp-port must be 1 to 65535"):
        backend.cli("serve", "--smtp-port", "70000")
