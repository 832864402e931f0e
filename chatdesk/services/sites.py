"""Sites: each embeds the widget with its key and allows some origins."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Unauthorized
from chatdesk.store.models import Site


def normalise_origin(origin: str) -> str:
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"an origin looks like https://example.com, got {origin[:80]!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


async def create_site(session: AsyncSession, name: str, origins: list[str]) -> Site:
    if not name.strip():
        raise BadRequest("a site needs a name")
    site = Site(
        key=secrets.token_urlsafe(12),
        name=name.strip(),
        origins=[normalise_origin(o) for o in origins],
        identity_secret=secrets.token_hex(32),
    )
    session.add(site)
    await session.flush()
    return site


async def site_by_key(session: AsyncSession, key: str) -> Site:
    site = await session.scalar(select(Site).where(Site.key == key))
    if site is None:
        raise Unauthorized("unknown site")
    return site
