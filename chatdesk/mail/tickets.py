"""Ticket writes of the e-mail channel, through the batched writer like every other.

An incoming mail becomes the customer's `message` (``via: "email"``) plus an
internal `email_received`; a sent mail becomes an internal `email_sent`. Seqs,
idempotency (the Message-ID, hashed, is the client_msg_id) and publishing work
exactly as for chat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.mail.outbound import Claimed
from chatdesk.mail.threads import lock_thread
from chatdesk.realtime.protocol import SYSTEM, Author
from chatdesk.services import files as uploads
from chatdesk.services import timeline
from chatdesk.services.ticket_ops import set_status_event
from chatdesk.services.ticketing import Changes, TicketService, Written, existing, subject_of
from chatdesk.services.tickets import _link_follow_up
from chatdesk.store.models import Customer, Ticket, utcnow
from chatdesk.store.models_mail import SENT, MailOutbox

MAX_CC = 20


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An attachment already checked and copied in by Files.store."""

    sha256: str
    content_type: str
    size: int
    filename: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """A routed inbound mail, ready to be written."""

    site_id: int
    ticket_id: int | None  # from a correctly signed reply address
    sender: str
    sender_name: str | None
    subject: str
    body: str
    message_id: str
    client_msg_id: str
    cc: tuple[str, ...] = ()
    files: tuple[StoredFile, ...] = ()
    refused: tuple[dict[str, str], ...] = field(default_factory=tuple)


def _replyable(ticket: Ticket | None) -> bool:
    """A customer ticket that mail may land on (closed ones get a follow-up)."""
    return (
        ticket is not None
        and ticket.kind == "customer"
        and ticket.customer_id is not None
        and getattr(ticket, "visibility", "public") != "internal"
    )


async def _customer(session: AsyncSession, mail: Incoming) -> Customer:
    """The site's customer with the sender's address, or a new one."""
    customer = await session.scalar(
        select(Customer)
        .where(Customer.site_id == mail.site_id, Customer.email == mail.sender)
        .order_by(Customer.id)
        .limit(1)
    )
    if customer is None:
        customer = Customer(site_id=mail.site_id, email=mail.sender, name=mail.sender_name)
        session.add(customer)
        await session.flush()
    return customer


class MailTickets(TicketService):
    async def receive(self, mail: Incoming) -> Written:
        async def op(session: AsyncSession, changes: Changes) -> Written:
            routed = None
            if mail.ticket_id is not None:
                routed = (
                    await session.execute(
                        select(Ticket)
                        .where(Ticket.id == mail.ticket_id)
                        .with_for_update()
                        .execution_options(populate_existing=True)
                    )
                ).scalar_one_or_none()
            if _replyable(routed):
                assert routed is not None and routed.customer_id is not None
                customer = await session.get(Customer, routed.customer_id)
            else:
                routed = None
                customer = await _customer(session, mail)
            assert customer is not None
            done = await existing(session, "visitor", customer.id, mail.client_msg_id)
            if done is not None:
                return done
            created = routed is None or routed.status == "closed"
            if created:
                ticket = Ticket(
                    kind="customer",
                    status="new",
                    subject=subject_of(mail.subject or mail.body),
                    site_id=customer.site_id,
                    customer_id=customer.id,
                    priority="normal",
                    last_seq=0,
                    follow_up_of=routed.id if routed is not None else None,
                    channel="email",
                    cc=[a for a in mail.cc if a != mail.sender][:MAX_CC],
                )
                session.add(ticket)
                await session.flush()
            else:
                assert routed is not None
                ticket = routed
            if ticket.status == "spam":
                # Accepted and dropped, as chat does: a spammer learns nothing.
                return Written(ticket.id, None)
            name = customer.name or mail.sender_name or mail.sender
            author = Author("visitor", customer.id, name)
            stored = []
            for f in mail.files:
                att = await uploads.record(
                    session, f.sha256, f.content_type, f.size, f.filename, ("visitor", customer.id)
                )
                att.ticket_id = ticket.id
                stored.append(uploads.view(att))
            await session.flush()
            message = await timeline.append(
                session,
                ticket,
                "message",
                "public",
                author,
                {"attachments": stored, "via": "email"},
                body=mail.body,
                client_msg_id=mail.client_msg_id,
            )
            changes.event(message)
            received: dict[str, Any] = {"message_id": mail.message_id, "from": mail.sender}
            if mail.refused:
                received["refused"] = list(mail.refused)
            changes.event(
                await timeline.append(
                    session, ticket, "email_received", "internal", SYSTEM, received
                )
            )
            if created and ticket.follow_up_of is not None:
                await _link_follow_up(session, changes, ticket)
            thread = await lock_thread(session, ticket.id)
            thread.last_inbound_id = mail.message_id[:255]
            if ticket.status in ("pending", "solved"):
                await set_status_event(session, changes, ticket, "open", author)
                await changes.ticket_changed(session, ticket)
            elif created:
                await changes.ticket_changed(session, ticket)
            await session.flush()
            return Written(ticket.id, message.seq, created)

        return await self._write(mail.ticket_id or 0, op)

    async def record_sent(self, mail: Claimed) -> None:
        """Mark a mail sent and, on its ticket, say so with an internal `email_sent`."""

        async def op(session: AsyncSession, changes: Changes) -> None:
            await session.execute(
                update(MailOutbox)
                .where(MailOutbox.id == mail.id)
                .values(status=SENT, sent_at=utcnow(), lease_until=None, last_error=None)
                .execution_options(synchronize_session=False)
            )
            if mail.ticket_id is None:
                return
            ticket = (
                await session.execute(
                    select(Ticket)
                    .where(Ticket.id == mail.ticket_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            if ticket is None:  # deleted meanwhile: the mail went out all the same
                return
            fields = {"message_id": mail.message_id, "to": mail.recipients, "seqs": mail.seqs}
            changes.event(
                await timeline.append(session, ticket, "email_sent", "internal", SYSTEM, fields)
            )

        await self._write(mail.ticket_id or 0, op)
