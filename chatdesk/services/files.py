"""Uploaded files: type decided by content, stored by hash, fetched by signed, expiring URL."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import filetype
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Forbidden, NotFound, TooLarge, UnsupportedMedia
from chatdesk.store.models import Attachment

URL_TTL_S = 3600
CHUNK = 64 * 1024
# What the desk accepts, by what the bytes are, whatever the name or declared type says.
ALLOWED = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "text/plain",
}
INLINE = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}
# Markup that a browser would run if it ever sniffed the file: never "plain text".
_MARKUP = re.compile(rb"<\s*(!doctype|html|svg|script|body|head|iframe|\?xml)", re.IGNORECASE)
_OLE = {".doc": "application/msword", ".xls": "application/vnd.ms-excel",
        ".ppt": "application/vnd.ms-powerpoint"}  # fmt: skip


def detect(head: bytes, filename: str) -> str:
    """The content type of a file from its first bytes; UnsupportedMedia when not allowed."""
    kind = filetype.guess(head)
    if kind is not None:
        mime = kind.mime
        if mime == "application/x-ole-storage" or mime == "application/vnd.ms-office":
            mime = _OLE.get(Path(filename).suffix.lower(), mime)
        if mime in ALLOWED:
            return mime
        raise UnsupportedMedia(f"files of type {mime} are not accepted")
    if b"\x00" in head or _MARKUP.search(head[:4096]):
        raise UnsupportedMedia("this file is not an accepted type (HTML and SVG never are)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
            raise UnsupportedMedia("this file is not an accepted type") from None
    return "text/plain"


def clean_filename(name: str | None) -> str:
    base = Path((name or "file").replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f\x7f\"/]", "", base).strip() or "file"
    return base[:255]


@dataclass(frozen=True, slots=True)
class Signer:
    secret: bytes
    ttl_s: int = URL_TTL_S

    def url(self, file_id: str, now: float | None = None) -> str:
        exp = int((now or time.time()) + self.ttl_s)
        return f"/files/{file_id}?exp={exp}&sig={self.sign(file_id, exp)}"

    def sign(self, file_id: str, exp: int) -> str:
        return hmac.new(self.secret, f"file:{file_id}:{exp}".encode(), hashlib.sha256).hexdigest()

    def check(self, file_id: str, exp: str | None, sig: str | None) -> None:
        if not exp or not sig or not exp.isdigit():
            raise Forbidden("this link is not valid")
        if not hmac.compare_digest(self.sign(file_id, int(exp)), sig):
            raise Forbidden("this link is not valid")
        if int(exp) < time.time():
            raise Forbidden("this link has expired")


def view(att: Attachment) -> dict[str, Any]:
    """An attachment as stored in events; the URL is signed when it is shown."""
    return {
        "id": att.id,
        "filename": att.filename,
        "content_type": att.content_type,
        "size": att.size,
    }


class Files:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def store(self, source: BinaryIO, filename: str | None) -> tuple[str, str, int, str]:
        """Copy an upload in, checking size and type; returns (sha256, type, size, name).

        Runs in a thread: it reads and hashes the whole file.
        """
        name = clean_filename(filename)
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise TooLarge(f"files may be at most {self.max_bytes // 2**20} MB")
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise BadRequest("the file is empty")
            mime = detect(head, name)
            sha = digest.hexdigest()
            final = self.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return sha, mime, size, name
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


async def record(
    session: AsyncSession, sha: str, mime: str, size: int, name: str, uploader: tuple[str, int]
) -> Attachment:
    att = Attachment(
        id=uuid.uuid4().hex,
        sha256=sha,
        filename=name,
        content_type=mime,
        size=size,
        uploader_type=uploader[0],
        uploader_id=uploader[1],
    )
    session.add(att)
    await session.flush()
    return att


async def own_uploads(
    session: AsyncSession, ids: tuple[str, ...], uploader: tuple[str, int]
) -> list[Attachment]:
    """The uploads named, in order; `not_found` for any that is not this uploader's."""
    if not ids:
        return []
    rows = (await session.execute(select(Attachment).where(Attachment.id.in_(ids)))).scalars()
    found = {a.id: a for a in rows}
    out = []
    for file_id in ids:
        att = found.get(file_id)
        if att is None or (att.uploader_type, att.uploader_id) != uploader:
            raise NotFound(f"no upload {file_id[:40]} of yours")
        out.append(att)
    return out


async def claim_for_ticket(
    session: AsyncSession, ids: tuple[str, ...], uploader: tuple[str, int], ticket_id: int
) -> list[dict[str, Any]]:
    """Attach uploads to a ticket's event: only the uploader's own, not used elsewhere."""
    if not ids:
        return []
    if len(set(ids)) != len(ids) or len(ids) > 10:
        raise BadRequest("at most 10 distinct attachments a message")
    atts = await own_uploads(session, ids, uploader)
    for att in atts:
        if att.ticket_id is not None and att.ticket_id != ticket_id:
            raise NotFound(f"no upload {att.id[:40]} of yours")
    await session.execute(
        update(Attachment).where(Attachment.id.in_(ids)).values(ticket_id=ticket_id)
    )
    return [view(att) for att in atts]
