"""Uploads for agents and visitors, and downloads by signed link."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import current_agent, desk
from chatdesk.errors import BadRequest, NotFound, TooLarge, Unauthorized
from chatdesk.services import files
from chatdesk.services.secrets_ import token_hash
from chatdesk.store.models import Attachment, Customer

MULTIPART_SLACK = 64 * 1024


async def current_visitor(request: Request) -> int:
    """The customer id behind ``Authorization: Visitor TOKEN``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "visitor" or not token.strip():
        raise Unauthorized("send Authorization: Visitor TOKEN")
    async with desk(request).reads() as session:
        customer_id = await session.scalar(
            select(Customer.id).where(Customer.token_hash == token_hash(token.strip()))
        )
    if customer_id is None:
        raise Unauthorized("unknown visitor token")
    return customer_id


async def _receive(request: Request, uploader: tuple[str, int]) -> Response:
    d = desk(request)
    assert d.rules is not None
    await d.limiter.hit(d.rules.uploads, f"{uploader[0]}:{uploader[1]}")
    limit = d.files.max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise TooLarge(f"files may be at most {limit // 2**20} MB")
    try:
        form = await request.form(max_files=1, max_fields=4)
    except Exception as exc:
        raise BadRequest(f"send multipart/form-data with a 'file' field ({exc})") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequest("send multipart/form-data with a 'file' field")
        sha, mime, size, name = await asyncio.to_thread(d.files.store, upload.file, upload.filename)
    finally:
        await form.close()
    async with d.writes() as session, session.begin():
        att = await files.record(session, sha, mime, size, name, uploader)
    return JSONResponse({**files.view(att), "url": d.signer.url(att.id)}, status_code=201)


async def agent_upload(request: Request) -> Response:
    agent = await current_agent(request)
    return await _receive(request, ("agent", agent.id))


async def visitor_upload(request: Request) -> Response:
    customer_id = await current_visitor(request)
    return await _receive(request, ("visitor", customer_id))


async def download(request: Request) -> Response:
    d = desk(request)
    file_id = request.path_params["id"]
    d.signer.check(file_id, request.query_params.get("exp"), request.query_params.get("sig"))
    async with d.reads() as session:
        att = await session.get(Attachment, file_id)
    path = d.files.path(att.sha256) if att is not None else None
    if att is None or path is None or not path.exists():
        raise NotFound("no such file")
    inline = att.content_type in files.INLINE
    return FileResponse(
        path,
        media_type=att.content_type,
        filename=att.filename,
        content_disposition_type="inline" if inline else "attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600",
            "Cross-Origin-Resource-Policy": "same-site",
        },
    )


routes = [
    Route("/api/v1/uploads", agent_upload, methods=["POST"]),
    Route("/api/v1/visitor/uploads", visitor_upload, methods=["POST"]),
    Route("/files/{id}", download, methods=["GET"]),
]
