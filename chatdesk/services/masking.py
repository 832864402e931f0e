"""Masking personal data in a stored message: rewritten in the database itself."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from chatdesk.realtime import bus
from chatdesk.services import timeline
from chatdesk.services.agents import Principal
from chatdesk.services.ticketing import (
    Changes,
    TicketService,
    Written,
    author_of,
    locked,
    require_writer,
    subject_of,
    writable,
)
from chatdesk.services.writer import Writer
from chatdesk.store.models import Event
from chatdesk.store.models_backoffice import MaskedOriginal

MASKABLE = ("message", "note")


def apply_mask(body: str, ranges: tuple[tuple[int, ...], ...]) -> str:
    """Replace each [start, end) range of ``body`` with '*'; BadRequest for a bad range."""
    if not ranges:
        raise BadRequest("'ranges' needs at least one [start, end] pair")
    chars = list(body)
    for pair in ranges:
        if len(pair) != 2:
            raise BadRequest("each range is [start, end]")
        start, end = pair
        if not 0 <= start < end <= len(chars):
            raise BadRequest(f"range [{start}, {end}] is outside the body (0..{len(chars)})")
        chars[start:end] = "*" * (end - start)
    return "".join(chars)


class Vault:
    """Encrypts masked originals with a key derived from CHATDESK_SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        key = hashlib.sha256(b"chatdesk-masking:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        return self._fernet.decrypt(token).decode("utf-8")


class Masking(TicketService):
    def __init__(
        self, writer: Writer, reads: async_sessionmaker[AsyncSession], secret_key: str
    ) -> None:
        super().__init__(writer, reads)
        self.vault = Vault(secret_key)

    async def unmask(self, agent: Principal, ticket_id: int, seq: int) -> Written:
        """Restore every masked range of an event to its original (admins only)."""
        if not agent.is_admin:
            raise Forbidden("only an admin may unmask")

        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            target = await session.scalar(
                select(Event).where(Event.ticket_id == ticket.id, Event.seq == seq)
            )
            if target is None:
                raise NotFound(f"ticket {ticket.id} has no event {seq}")
            first = await session.scalar(
                select(MaskedOriginal)
                .where(MaskedOriginal.event_id == target.id)
                .order_by(MaskedOriginal.id)
                .limit(1)
            )
            if first is None:
                raise Conflict(f"event {seq} of ticket {ticket.id} is not masked")
            original = self.vault.decrypt(first.ciphertext)
            await session.execute(update(Event).where(Event.id == target.id).values(body=original))
            await session.execute(
                delete(MaskedOriginal).where(MaskedOriginal.event_id == target.id)
            )
            changes.raw(bus.ticket_topic(ticket.id), bus.EventUpdatedMsg(timeline.to_event(target)))
            event = await timeline.append(
                session, ticket, "unmasked", "internal", author_of(agent), {"target_seq": seq}
            )
            changes.event(event)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)

    async def mask(
        self, agent: Principal, ticket_id: int, seq: int, ranges: tuple[tuple[int, ...], ...]
    ) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            ticket = await locked(session, ticket_id)
            writable(ticket)
            await require_writer(session, ticket, agent)
            target = await session.scalar(
                select(Event).where(Event.ticket_id == ticket.id, Event.seq == seq)
            )
            if target is None:
                raise NotFound(f"ticket {ticket.id} has no event {seq}")
            if target.kind not in MASKABLE or target.body is None:
                raise BadRequest(f"only messages and notes can be masked, not {target.kind}")
            original = target.body
            masked = apply_mask(original, ranges)
            await session.execute(update(Event).where(Event.id == target.id).values(body=masked))
            # The original is kept only encrypted, beside the row, for an admin's unmask.
            session.add(MaskedOriginal(event_id=target.id, ciphertext=self.vault.encrypt(original)))
            if ticket.subject == subject_of(original):
                # The subject was cut from this message: it must not keep what was masked.
                ticket.subject = subject_of(masked)
                await session.flush()
                await changes.ticket_changed(session, ticket)
            changes.raw(bus.ticket_topic(ticket.id), bus.EventUpdatedMsg(timeline.to_event(target)))
            event = await timeline.append(
                session, ticket, "masked", "internal", author_of(agent),
                {"target_seq": seq, "ranges": [list(r) for r in ranges]},
            )  # fmt: skip
            changes.event(event)
            return Written(ticket.id, event.seq)

        return await self._write(ticket_id, op)
