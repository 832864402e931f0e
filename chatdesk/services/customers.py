"""Customers: who a visitor is, found again by their visitor token."""

from __future__ import annotations

import asyncio
import contextvars
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import NotFound, Unauthorized
from chatdesk.services.agents import check_email
from chatdesk.services.secrets_ import identity_hmac_ok, new_token, token_hash
from chatdesk.services.writer import Outcome, Writer
from chatdesk.store.db import RowReads
from chatdesk.store.models import Customer, Site


@dataclass(frozen=True, slots=True)
class Visitor:
    """An authenticated visitor as handlers see it."""

    customer_id: int
    site_id: int
    name: str | None
    email: str | None

    def wire(self) -> dict[str, Any]:
        return {"id": self.customer_id, "name": self.name, "email": self.email}


def _visitor(c: Any) -> Visitor:
    """From a Customer or a row of its id, site_id, name and email."""
    return Visitor(c.id, c.site_id, c.name, c.email)


@dataclass(frozen=True, slots=True)
class Arrival:
    """Where a visitor's connection comes from, recorded on a new customer."""

    ip: str | None = None
    user_agent: str | None = None
    page_url: str | None = None


SITE_CACHE_S = 5.0
# The columns a Visitor needs, as a row: every hello with a token runs this.
_BY_TOKEN = select(Customer.id, Customer.site_id, Customer.name, Customer.email).where(
    Customer.token_hash == bindparam("hash")
)


class Customers:
    def __init__(
        self, writer: Writer, reads: async_sessionmaker[AsyncSession], rows: RowReads
    ) -> None:
        self._writer = writer
        self._reads = reads
        self._rows = rows
        # Every visitor's hello names its site: a short cache keeps reconnect storms
        # off the database. A site changed here is forgotten at once (forget_sites);
        # other processes see the change within SITE_CACHE_S.
        self._sites: dict[str, tuple[float, Site]] = {}
        # A reconnect storm's hellos arrive together, when the cache is cold (a restart)
        # or has just expired: they wait for one read instead of each making it.
        self._loading: dict[str, asyncio.Task[Site | None]] = {}
        self._generation = 0

    async def site(self, key: str) -> Site:
        cached = self._sites.get(key)
        if cached is not None and time.monotonic() - cached[0] < SITE_CACHE_S:
            return cached[1]
        loading = self._loading.get(key)
        if loading is None:
            # A context of its own: its log lines belong to no one hello.
            loading = asyncio.create_task(
                self._load_site(key, self._generation), context=contextvars.Context()
            )
            self._loading[key] = loading
            loading.add_done_callback(lambda done: self._loaded(key, done))
        # Shielded: a hello cancelled (the server's graceful shutdown running out) must
        # not cancel the read the others are waiting for.
        site = await asyncio.shield(loading)
        if site is None:
            raise Unauthorized("unknown site")
        return site

    async def _load_site(self, key: str, generation: int) -> Site | None:
        async with self._reads() as session:
            site = await session.scalar(select(Site).where(Site.key == key))
        if site is not None and generation == self._generation:
            if len(self._sites) > 10_000:  # keys are the caller's to choose: stay bounded
                self._sites.clear()
            self._sites[key] = (time.monotonic(), site)
        return site

    def _loaded(self, key: str, done: asyncio.Task[Site | None]) -> None:
        if self._loading.get(key) is done:
            del self._loading[key]
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have left

    def forget_sites(self) -> None:
        """An admin changed a site: reads already under way may hold the old row."""
        self._generation += 1
        self._sites.clear()
        self._loading.clear()

    async def by_token(self, site: Site, token: str) -> Visitor:
        async with self._rows() as conn:
            customer = (await conn.execute(_BY_TOKEN, {"hash": token_hash(token)})).first()
        # One answer for unknown and other-site tokens: a token reveals nothing.
        if customer is None or customer.site_id != site.id:
            raise Unauthorized("unknown visitor token")
        return _visitor(customer)

    async def arrive(
        self,
        site: Site,
        token: str | None,
        identity: dict[str, Any] | None,
        arrival: Arrival,
    ) -> tuple[Visitor, str]:
        """Resume the visitor of ``token`` or make a new one; returns it and its token."""
        verified = _verified_identity(site, identity)
        if token is not None:
            visitor = await self.by_token(site, token)
            if verified:
                visitor = await self._apply_identity(visitor.customer_id, verified)
            return visitor, token
        fresh = new_token()

        async def op(session: AsyncSession) -> Outcome:
            customer = Customer(
                site_id=site.id,
                token_hash=token_hash(fresh),
                ip=arrival.ip,
                user_agent=(arrival.user_agent or "")[:500] or None,
                page_url=(arrival.page_url or "")[:2000] or None,
                external_id=verified.get("external_id") if verified else None,
                name=verified.get("name") if verified else None,
                email=verified.get("email") if verified else None,
            )
            session.add(customer)
            await session.flush()
            return Outcome(_visitor(customer))

        return await self._writer.run(op), fresh

    async def _apply_identity(self, customer_id: int, verified: dict[str, str]) -> Visitor:
        async def op(session: AsyncSession) -> Outcome:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound("unknown visitor")
            customer.external_id = verified["external_id"]
            if verified.get("name"):
                customer.name = verified["name"]
            if verified.get("email"):
                customer.email = verified["email"]
            await session.flush()
            return Outcome(_visitor(customer))

        return await self._writer.run(op, customer_id)


def _verified_identity(site: Site, identity: dict[str, Any] | None) -> dict[str, str] | None:
    """Identity is trusted only with a valid HMAC of external_id; otherwise ignored."""
    if not identity:
        return None
    external_id = identity.get("external_id")
    given = identity.get("hmac")
    if not isinstance(external_id, str) or not isinstance(given, str) or not external_id:
        return None
    if len(external_id) > 200 or not identity_hmac_ok(site.identity_secret, external_id, given):
        return None
    out = {"external_id": external_id}
    name = identity.get("name")
    if isinstance(name, str) and name.strip() and "\x00" not in name:
        out["name"] = " ".join(name.split())[:200]
    email = identity.get("email")
    if isinstance(email, str):
        try:
            out["email"] = check_email(email)
        except Exception:
            pass
    return out
