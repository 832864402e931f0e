"""Sites: each embeds the widget with its key and allows some origins."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, NotFound, Unauthorized
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


def site_view(site: Site) -> dict[str, Any]:
    """The admin's view of a site: the identity secret included, for the site's backend."""
    return {
        "id": site.id,
        "key": site.key,
        "name": site.name,
        "origins": list(site.origins or []),
        "identity_secret": site.identity_secret,
    }


async def list_sites(session: AsyncSession) -> list[dict[str, Any]]:
    return [site_view(s) for s in (await session.execute(select(Site).order_by(Site.id))).scalars()]


def _origins(body: dict[str, Any]) -> list[str]:
    origins = body.get("origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise BadRequest("'origins' is a list like ['https://example.com']")
    return origins


async def add_site(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str) or len(name) > 200:
        raise BadRequest("a site needs a 'name'")
    return site_view(await create_site(session, name, _origins(body)))


async def change_site(session: AsyncSession, site_id: int, body: dict[str, Any]) -> dict[str, Any]:
    site = await session.get(Site, site_id)
    if site is None:
        raise NotFound(f"no site {site_id}")
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise BadRequest("'name' is 1 to 200 characters")
        site.name = name.strip()
    if "origins" in body:
        site.origins = [normalise_origin(o) for o in _origins(body)]
    if body.get("rotate_identity_secret") is True:
        site.identity_secret = secrets.token_hex(32)
    await session.flush()
    return site_view(site)
