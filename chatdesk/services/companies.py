"""Companies customers belong to, matched by their e-mail domain."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, NotFound
from chatdesk.store.models_backoffice import Classification, Company

_DOMAIN = re.compile(r"^(?=.{3,200}$)([a-z0-9-]+\.)+[a-z]{2,}$")
CLASSIFICATION_KINDS = ("category", "service")


def view(c: Company) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "domain": c.domain}


def _fields(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise BadRequest("a company needs a 'name' of 1 to 200 characters")
        out["name"] = name.strip()
    if "domain" in body:
        domain = body["domain"]
        if domain is not None:
            if not isinstance(domain, str) or not _DOMAIN.match(domain.lower()):
                raise BadRequest("'domain' looks like example.com")
            domain = domain.lower()
        out["domain"] = domain
    return out


async def list_companies(session: AsyncSession) -> list[dict[str, Any]]:
    return [
        view(c) for c in (await session.execute(select(Company).order_by(Company.name))).scalars()
    ]


async def _domain_free(session: AsyncSession, domain: str | None, but: int = 0) -> None:
    if domain and await session.scalar(
        select(Company.id).where(Company.domain == domain, Company.id != but)
    ):
        raise Conflict(f"a company with domain {domain} exists already")


async def add_company(session: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
    values = _fields(body, partial=False)
    await _domain_free(session, values.get("domain"))
    row = Company(**values)
    session.add(row)
    await session.flush()
    return view(row)


async def change_company(
    session: AsyncSession, company_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    row = await session.get(Company, company_id)
    if row is None:
        raise NotFound(f"no company {company_id}")
    values = _fields(body, partial=True)
    await _domain_free(session, values.get("domain"), but=company_id)
    for key, value in values.items():
        setattr(row, key, value)
    await session.flush()
    return view(row)


async def company_for_email(session: AsyncSession, email: str | None) -> Company | None:
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].lower()
    return await session.scalar(select(Company).where(Company.domain == domain))


async def classification(session: AsyncSession) -> dict[str, list[str]]:
    rows = (await session.execute(select(Classification).order_by(Classification.name))).scalars()
    out: dict[str, list[str]] = {"categories": [], "services": []}
    for row in rows:
        out["categories" if row.kind == "category" else "services"].append(row.name)
    return out


async def set_classification(session: AsyncSession, body: dict[str, Any]) -> dict[str, list[str]]:
    from sqlalchemy import delete

    for key, kind in (("categories", "category"), ("services", "service")):
        if key not in body:
            continue
        names = body[key]
        if not isinstance(names, list) or not all(
            isinstance(n, str) and n.strip() and len(n) <= 64 for n in names
        ):
            raise BadRequest(f"'{key}' is a list of names of 1 to 64 characters")
        await session.execute(delete(Classification).where(Classification.kind == kind))
        for name in sorted({n.strip() for n in names}):
            session.add(Classification(kind=kind, name=name))
    await session.flush()
    return await classification(session)
