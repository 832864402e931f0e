"""The label catalogue: admins create, rename and delete; agents attach with `labels`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import Conflict, NotFound
from chatdesk.services.ticket_ops import label_name
from chatdesk.store.models import Label, TicketLabel


async def list_labels(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Label.id, Label.name, func.count(TicketLabel.ticket_id))
        .outerjoin(TicketLabel, TicketLabel.label_id == Label.id)
        .group_by(Label.id, Label.name)
        .order_by(Label.name)
    )
    return [{"id": i, "name": n, "tickets": c} for i, n, c in rows]


async def create_label(session: AsyncSession, raw: str) -> dict[str, Any]:
    name = label_name(raw)
    if await session.scalar(select(Label.id).where(Label.name == name)) is not None:
        raise Conflict(f"a label {name!r} exists already")
    label = Label(name=name)
    session.add(label)
    await session.flush()
    return {"id": label.id, "name": label.name, "tickets": 0}


async def rename_label(session: AsyncSession, label_id: int, raw: str) -> dict[str, Any]:
    label = await session.get(Label, label_id)
    if label is None:
        raise NotFound(f"no label {label_id}")
    name = label_name(raw)
    clash = await session.scalar(select(Label.id).where(Label.name == name, Label.id != label_id))
    if clash is not None:
        raise Conflict(f"a label {name!r} exists already")
    label.name = name
    await session.flush()
    return {"id": label.id, "name": label.name}


async def delete_label(session: AsyncSession, label_id: int) -> None:
    label = await session.get(Label, label_id)
    if label is None:
        raise NotFound(f"no label {label_id}")
    await session.delete(label)
