"""A ticket's row in ``mail_threads``: made on first use, locked while mail is composed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.store.models_mail import MailThread


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def lock_thread(session: AsyncSession, ticket_id: int) -> MailThread:
    """The ticket's mail state, locked for this transaction (made when missing)."""
    stmt = _insert(session)(MailThread).values(ticket_id=ticket_id, mailed_seq=0)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=[MailThread.ticket_id]))
    return (
        await session.execute(
            select(MailThread)
            .where(MailThread.ticket_id == ticket_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def schedule(session: AsyncSession, ticket_id: int, due_at: datetime) -> None:
    """An offline digest for the ticket is due at ``due_at`` (later messages push it on)."""
    stmt = _insert(session)(MailThread).values(ticket_id=ticket_id, mailed_seq=0, due_at=due_at)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[MailThread.ticket_id], set_={"due_at": due_at})
    )
