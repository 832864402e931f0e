"""Models of ticket management: types, links, SLA, banned words, notifications, companies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatdesk.store.models import Base, utcnow


class TicketType(Base):
    """An admin-defined kind of back-office or tracker ticket and its custom attributes."""

    __tablename__ = "ticket_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class TicketLink(Base):
    """Stored once per direction so either side lists its links with one query."""

    __tablename__ = "ticket_links"
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    other_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class BannedWord(Base):
    __tablename__ = "banned_words"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    word: Mapped[str] = mapped_column(String(100), unique=True)


class SlaTarget(Base):
    __tablename__ = "sla_targets"
    priority: Mapped[str] = mapped_column(String(8), primary_key=True)
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    seq: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200), unique=True)


class Classification(Base):
    """Admin-defined categories and services tickets are filed under."""

    __tablename__ = "classifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_classifications_kind_name"),)


class MaskedOriginal(Base):
    """What `mask` removed, encrypted with a key from the secret; never in the event row."""

    __tablename__ = "masked_originals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(default=utcnow)
