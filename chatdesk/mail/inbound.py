"""Incoming mail: recognise what must not be answered, route the rest to its ticket.

Both ways in (the SMTP receiver and ``POST /api/v1/inbound/email``) end in
``Inbound.deliver``. A mail to a correctly signed reply address lands on that
ticket; anything else sent to a site's support address (a forged reply address
included) starts a new e-mail ticket of the customer with the sender's address.
Attachments pass the same checks as uploads: a refused one is left out, the
message is stored without it and the refusal is listed in its `email_received`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select

from chatdesk.errors import BadRequest, ChatdeskError, NotFound
from chatdesk.mail.addresses import ReplyAddresses, addresses, bare, base_address
from chatdesk.mail.compose import LOOP_HEADER, one_line
from chatdesk.mail.text import body_of, clean
from chatdesk.mail.tickets import Incoming, MailTickets, StoredFile
from chatdesk.services.files import Files
from chatdesk.store.models import Site, Ticket
from chatdesk.store.models_mail import MailOutbox

MAX_MAIL_BYTES = 25 * 2**20  # what most mail servers accept; the receiver says so too
MAX_FILES = 10  # as many as one chat message may carry
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
_BULK = {"bulk", "auto_reply", "junk"}
_ROUTE_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")


def _header(msg: EmailMessage, name: str) -> str:
    try:
        values = msg.get_all(name) or []
        return " ".join(str(v) for v in values).strip()
    except Exception:  # a header too broken to read counts as absent
        return ""


def ignored_reason(msg: EmailMessage, mail_from: str | None = None) -> str | None:
    """Why a mail must never be answered, or None for a person's mail."""
    if _header(msg, LOOP_HEADER):
        return "loop"  # one of ours came back
    sender = bare(_header(msg, "From")) or ""
    if (
        msg.get_content_type() == "multipart/report"
        or sender.split("@")[0] in _BOUNCE_SENDERS
        or mail_from == ""
        or _header(msg, "Return-Path") == "<>"
        or _header(msg, "X-Failed-Recipients")
    ):
        return "bounce"
    auto = _header(msg, "Auto-Submitted").lower()
    if (
        (auto and auto != "no")
        or _header(msg, "X-Autoreply")
        or _header(msg, "X-Autorespond")
        or _header(msg, "Precedence").lower() in _BULK
    ):
        return "auto_reply"
    return None


@dataclass(frozen=True, slots=True)
class Route:
    site_id: int
    ticket_id: int | None


def client_msg_id(message_id: str, raw: bytes) -> str:
    """The idempotency key of a mail: its Message-ID (or its bytes), hashed to 45 chars."""
    seed = message_id.encode("utf-8", "replace") if message_id else raw
    return "mail-" + hashlib.sha256(seed).hexdigest()[:40]


class Inbound:
    def __init__(self, desk: Any, replies: ReplyAddresses, tickets: MailTickets) -> None:
        self._desk = desk
        self._replies = replies
        self._tickets = tickets

    @property
    def _files(self) -> Files:
        return self._desk.files

    async def _sites(self) -> list[Site]:
        async with self._desk.reads() as session:
            return list((await session.execute(select(Site).order_by(Site.id))).scalars())

    async def accepts(self, address: str) -> bool:
        """For the SMTP receiver: is this a mailbox of ours (a support address or under it)?"""
        target = bare(address)
        if target is None:
            return False
        base = base_address(target)
        return any((s.support_address or "").lower() == base for s in await self._sites())

    async def deliver(
        self,
        raw: bytes,
        *,
        site_id: int | None = None,
        rcpts: list[str] | None = None,
        mail_from: str | None = None,
    ) -> dict[str, Any]:
        """Store one incoming mail; ``site_id`` is given by the API (its secret names it)."""
        if not raw.strip():
            raise BadRequest("the body must be a whole e-mail message (message/rfc822)")
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        reason = ignored_reason(msg, mail_from)
        if reason is not None:
            return {"ignored": reason}
        from_name, from_addr = parseaddr(_header(msg, "From"))
        sender = bare(from_addr)
        if sender is None:
            raise BadRequest("the mail has no valid From address")
        message_id = one_line(_header(msg, "Message-ID"), 255)
        sites = await self._sites()
        if await self._is_loop(message_id, sender, sites):
            return {"ignored": "loop"}
        targets = [a for a in (rcpts or []) if bare(a)] or addresses(
            [_header(msg, h) for h in _ROUTE_HEADERS]
        )
        route = await self._route([bare(a) or "" for a in targets], sites, site_id)
        files, refused = await self._attachments(msg)
        subject = one_line(_header(msg, "Subject"), 200)
        body = body_of(msg) or clean(subject) or "(no text)"
        ours = {(s.support_address or "").lower() for s in sites}
        cc = [a for a in addresses([_header(msg, "Cc")]) if base_address(a) not in ours]
        written = await self._tickets.receive(
            Incoming(
                site_id=route.site_id,
                ticket_id=route.ticket_id,
                sender=sender,
                sender_name=one_line(from_name, 200) or None,
                subject=subject,
                body=body,
                message_id=message_id,
                client_msg_id=client_msg_id(message_id, raw),
                cc=tuple(cc),
                files=tuple(files),
                refused=tuple(refused),
            )
        )
        return {"ticket": written.ticket, "seq": written.seq}

    async def _is_loop(self, message_id: str, sender: str, sites: list[Site]) -> bool:
        """Our own mail (by Message-ID) or a mail from one of our own addresses."""
        for site in sites:
            ours = {bare(site.email_from), (site.support_address or "").lower() or None}
            if sender in ours or base_address(sender) in ours:
                return True
        if not message_id:
            return False
        async with self._desk.reads() as session:
            found = await session.scalar(
                select(MailOutbox.id).where(MailOutbox.message_id == message_id).limit(1)
            )
        return found is not None

    async def _route(self, targets: list[str], sites: list[Site], site_id: int | None) -> Route:
        for address in targets:
            target = self._replies.read(address)
            if target.ticket is None:
                continue
            async with self._desk.reads() as session:
                ticket = await session.get(Ticket, target.ticket)
            if ticket is not None and ticket.site_id is not None:
                if site_id is None or ticket.site_id == site_id:
                    return Route(ticket.site_id, ticket.id)
        support = {(s.support_address or "").lower(): s.id for s in sites if s.support_address}
        for address in targets:
            found = support.get(base_address(address))
            if found is not None and (site_id is None or found == site_id):
                return Route(found, None)
        if site_id is not None:
            return Route(site_id, None)
        raise NotFound("no site receives mail for these addresses")

    async def _attachments(
        self, msg: EmailMessage
    ) -> tuple[list[StoredFile], list[dict[str, str]]]:
        stored: list[StoredFile] = []
        refused: list[dict[str, str]] = []
        for part in msg.iter_attachments():
            if part.is_multipart():
                continue
            name = one_line(part.get_filename() or "attachment", 255) or "attachment"
            if len(stored) >= MAX_FILES:
                refused.append(
                    {"filename": name, "code": "bad_request", "detail": "too many attachments"}
                )
                continue
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                data = b""
            try:
                sha, mime, size, clean_name = await asyncio.to_thread(
                    self._files.store, io.BytesIO(data), name
                )
            except ChatdeskError as exc:
                refused.append({"filename": name, "code": exc.code, "detail": exc.detail})
                continue
            stored.append(StoredFile(sha, mime, size, clean_name))
        return stored, refused
