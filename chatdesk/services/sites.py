"""Sites: each embeds the widget with its key and allows some origins."""

from __future__ import annotations

import secrets
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, NotFound
from chatdesk.services import business_hours
from chatdesk.services.agents import check_email
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


def site_view(site: Site) -> dict[str, Any]:
    """The admin's view of a site: the identity secret included, for the site's backend."""
    return {
        "id": site.id,
        "key": site.key,
        "name": site.name,
        "origins": list(site.origins or []),
        "identity_secret": site.identity_secret,
        "business_hours": site.business_hours,
        "email_from": site.email_from,
        "support_address": site.support_address,
        "send_final_answer": site.send_final_answer,
        "send_pending_reply": site.send_pending_reply,
        "inbound_secret": site.inbound_secret,
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
    hours = business_hours.check(body.get("business_hours"))
    site = await create_site(session, name, _origins(body))
    site.business_hours = hours
    await _apply_mail(session, site, body)
    await session.flush()
    return site_view(site)


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
    if "business_hours" in body:
        site.business_hours = business_hours.check(body["business_hours"])
    if body.get("rotate_identity_secret") is True:
        site.identity_secret = secrets.token_hex(32)
    await _apply_mail(session, site, body)
    await session.flush()
    return site_view(site)


def _sender(value: Any) -> str | None:
    """``email_from``: ``addr`` or ``Name <addr>``, or null for the support address."""
    if value is None or value == "":
        return None
    name, address = parseaddr(value) if isinstance(value, str) else ("", "")
    if not address or "\n" in value or "\r" in value or len(value) > 320:
        raise BadRequest("'email_from' is an address or 'Name <address>'")
    return formataddr((" ".join(name.split()), check_email(address)))


async def _apply_mail(session: AsyncSession, site: Site, body: dict[str, Any]) -> None:
    """The site's e-mail settings (contract section 10; docs/email.md)."""
    if "email_from" in body:
        site.email_from = _sender(body["email_from"])
    if "support_address" in body:
        value = body["support_address"]
        if value is not None and not isinstance(value, str):
            raise BadRequest("'support_address' is an address or null")
        address = check_email(value) if value else None
        if address is not None and "+" in address.split("@")[0]:
            raise BadRequest("'support_address' may not contain '+': reply addresses use it")
        taken = await session.scalar(
            select(Site.id).where(Site.support_address == address, Site.id != site.id)
        )
        if address is not None and taken is not None:
            raise Conflict(f"another site receives mail at {address}")
        site.support_address = address
    for flag in ("send_final_answer", "send_pending_reply"):
        if flag in body:
            if not isinstance(body[flag], bool):
                raise BadRequest(f"'{flag}' is true or false")
            setattr(site, flag, body[flag])
    if body.get("rotate_inbound_secret") is True:
        site.inbound_secret = secrets.token_urlsafe(32)
