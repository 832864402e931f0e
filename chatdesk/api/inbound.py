"""Inbound mail over HTTP, for mail services that forward by webhook (contract section 10).

``POST /api/v1/inbound/email`` takes the raw message as the body with
``Authorization: Inbound SECRET``, the site's ``inbound_secret``; a wrong secret is
401 before the body is even read, and nothing is stored. Also the admin's view of
the outbox, ``GET /api/v1/mail/outbox``.
"""

from __future__ import annotations

import hmac

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk, int_param, query, require_admin
from chatdesk.errors import BadRequest, TooLarge, Unauthorized, Unavailable, UnsupportedMedia
from chatdesk.mail.inbound import MAX_MAIL_BYTES
from chatdesk.services.timeline import iso
from chatdesk.store.models import Site
from chatdesk.store.models_mail import MailOutbox

ACCEPTED_TYPES = {"", "message/rfc822", "text/plain", "application/octet-stream"}
STATUSES = ("queued", "sending", "sent", "failed")


async def _site_of(request: Request) -> int:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "inbound" or not secret:
        raise Unauthorized("send Authorization: Inbound SECRET (the site's inbound_secret)")
    async with desk(request).reads() as session:
        rows = (await session.execute(select(Site.id, Site.inbound_secret))).all()
    found = None
    for site_id, expected in rows:
        # Every site is compared, in constant time, so timing reveals nothing.
        if expected and hmac.compare_digest(expected.encode(), secret.encode("utf-8", "replace")):
            found = site_id
    if found is None:
        raise Unauthorized("wrong inbound secret")
    return found


async def _raw(request: Request) -> bytes:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ACCEPTED_TYPES:
        raise UnsupportedMedia("send the raw message as Content-Type: message/rfc822")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_MAIL_BYTES:
        raise TooLarge(f"a mail may be at most {MAX_MAIL_BYTES // 2**20} MB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_MAIL_BYTES:
            raise TooLarge(f"a mail may be at most {MAX_MAIL_BYTES // 2**20} MB")
        chunks.append(chunk)
    return b"".join(chunks)


async def inbound_email(request: Request) -> Response:
    site_id = await _site_of(request)
    raw = await _raw(request)
    mail = desk(request).ext.get("mail")
    if mail is None:
        raise Unavailable("the e-mail channel is not running")
    return JSONResponse(await mail.receive(raw, site_id), status_code=202)


def _row(row: MailOutbox) -> dict[str, object]:
    return {
        "id": row.id,
        "ticket": row.ticket_id,
        "kind": row.kind,
        "to": list(row.recipients),
        "message_id": row.message_id,
        "seqs": list(row.seqs or []),
        "status": row.status,
        "attempts": row.attempts,
        "next_try_at": iso(row.next_try_at),
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "sent_at": iso(row.sent_at) if row.sent_at else None,
    }


async def outbox(request: Request) -> Response:
    require_admin(await current_agent(request))
    params = query(request)
    limit = int_param(request, "limit", 50)
    if not 1 <= limit <= 100:
        raise BadRequest("'limit' is 1 to 100")
    stmt = select(MailOutbox).order_by(MailOutbox.id.desc()).limit(limit)
    status = params.get("status")
    if status:
        if status not in STATUSES:
            raise BadRequest(f"'status' is one of {', '.join(STATUSES)}")
        stmt = stmt.where(MailOutbox.status == status)
    if params.get("ticket"):
        ticket = int_param(request, "ticket", 0)
        stmt = stmt.where(MailOutbox.ticket_id == ticket)
    async with desk(request).reads() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return JSONResponse({"items": [_row(r) for r in rows], "next_cursor": None})


routes = [
    Route("/api/v1/inbound/email", inbound_email, methods=["POST"]),
    Route("/api/v1/mail/outbox", outbox, methods=["GET"]),
]
