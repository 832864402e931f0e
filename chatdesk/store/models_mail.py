"""What the e-mail channel stores: the outbox, per-ticket mail state, visitor presence.

The schema comes from migration 0020_email; the new columns of ``sites`` and
``tickets`` are mapped on Site and Ticket in chatdesk/store/models.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chatdesk.store.models import Base, utcnow

# Outbox states: queued → sending (claimed by one process) → sent | failed.
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"


class MailOutbox(Base):
    """One mail to send, composed when queued; retried until sent or given up."""

    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # reply, final, pending, transcript, system
    sender: Mapped[str] = mapped_column(String(320))  # envelope MAIL FROM
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    raw: Mapped[str] = mapped_column(Text)  # the whole MIME message, 7-bit clean
    seqs: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_try_at"),)


class MailThread(Base):
    """A ticket's mail state: what was mailed already and whether a digest is due."""

    __tablename__ = "mail_threads"
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    mailed_seq: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    # Threading headers: the customer's last Message-ID and ours, for In-Reply-To.
    last_inbound_id: Mapped[str | None] = mapped_column(String(255))
    last_outbound_id: Mapped[str | None] = mapped_column(String(255))


class MailPresence(Base):
    """When a customer last had the widget open, kept fresh by every process's heartbeat."""

    __tablename__ = "mail_presence"
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
