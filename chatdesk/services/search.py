"""Finding tickets: the filters of GET /api/v1/tickets, with stable cursor pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest
from chatdesk.services import views
from chatdesk.services.statuses import PRIORITIES, RESOLVE_REASONS, STATUSES
from chatdesk.store.models import Customer, Event, Label, Ticket, TicketLabel

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: tuple[str, ...] = ()
    assignee: int | None = None
    unassigned: bool = False
    label: str | None = None
    q: str | None = None
    customer: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    group: int | None = None
    priority: str | None = None
    # Contact-centre fields (contract section 8).
    kind: str | None = None
    id: int | None = None
    title: str | None = None
    channel: str | None = None
    language: str | None = None
    category: str | None = None
    service: str | None = None
    resolve_reason: str | None = None
    phone: str | None = None
    external_id: str | None = None

    @classmethod
    def from_query(cls, params: dict[str, str], me: int) -> TicketFilter:
        status = tuple(s for s in params.get("status", "").split(",") if s)
        for s in status:
            if s not in STATUSES:
                raise BadRequest(f"status must be among {', '.join(STATUSES)}")
        assignee_raw = params.get("assignee") or None
        assignee: int | None = None
        unassigned = False
        if assignee_raw == "me":
            assignee = me
        elif assignee_raw == "none":
            unassigned = True
        elif assignee_raw is not None:
            assignee = _int("assignee", assignee_raw)
        return cls(
            status=status,
            assignee=assignee,
            unassigned=unassigned,
            label=(params.get("label") or "").strip().lower() or None,
            q=(params.get("q") or "").strip() or None,
            customer=(params.get("customer") or "").strip() or None,
            created_after=_date("created_after", params.get("created_after")),
            created_before=_date("created_before", params.get("created_before")),
            group=_int("group", params["group"]) if params.get("group") else None,
            priority=_priority(params.get("priority")),
            kind=_one_of("kind", params.get("kind"), ("customer", "backoffice", "tracker")),
            id=_int("id", params["id"]) if params.get("id") else None,
            title=(params.get("title") or "").strip() or None,
            channel=_one_of("channel", params.get("channel"), ("chat", "email", "phone", "other")),
            language=params.get("language") or None,
            category=params.get("category") or None,
            service=params.get("service") or None,
            resolve_reason=_one_of("resolve_reason", params.get("resolve_reason"), RESOLVE_REASONS),
            phone=(params.get("phone") or "").strip() or None,
            external_id=params.get("external_id") or None,
        )

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.status:
            query = query.where(Ticket.status.in_(self.status))
        if self.assignee is not None:
            query = query.where(Ticket.assignee_id == self.assignee)
        if self.unassigned:
            query = query.where(Ticket.assignee_id.is_(None))
        if self.label:
            query = query.where(
                Ticket.id.in_(
                    select(TicketLabel.ticket_id)
                    .join(Label, Label.id == TicketLabel.label_id)
                    .where(Label.name == self.label)
                )
            )
        if self.q:
            pattern = f"%{_escape_like(self.q)}%"
            query = query.where(
                or_(
                    Ticket.subject.ilike(pattern, escape="\\"),
                    Ticket.id.in_(
                        select(Event.ticket_id).where(Event.body.ilike(pattern, escape="\\"))
                    ),
                )
            )
        if self.customer:
            pattern = f"%{_escape_like(self.customer)}%"
            query = query.where(
                Ticket.customer_id.in_(
                    select(Customer.id).where(
                        or_(
                            Customer.email.ilike(pattern, escape="\\"),
                            Customer.name.ilike(pattern, escape="\\"),
                        )
                    )
                )
            )
        for column, value in (
            (Ticket.kind, self.kind),
            (Ticket.id, self.id),
            (Ticket.channel, self.channel),
            (Ticket.language, self.language),
            (Ticket.category, self.category),
            (Ticket.service, self.service),
            (Ticket.resolve_reason, self.resolve_reason),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.title:
            pattern = f"%{_escape_like(self.title)}%"
            query = query.where(
                or_(
                    Ticket.title.ilike(pattern, escape="\\"),
                    Ticket.subject.ilike(pattern, escape="\\"),
                )
            )
        if self.phone:
            digits = "".join(ch for ch in self.phone if ch.isdigit())
            pattern = f"%{_escape_like(self.phone)}%"
            query = query.where(
                Ticket.customer_id.in_(
                    select(Customer.id).where(
                        or_(
                            Customer.phone.ilike(pattern, escape="\\"),
                            func.replace(func.replace(Customer.phone, " ", ""), "-", "").like(
                                f"%{digits}%"
                            ),
                        )
                    )
                )
            )
        if self.external_id:
            query = query.where(
                Ticket.customer_id.in_(
                    select(Customer.id).where(Customer.external_id == self.external_id)
                )
            )
        if self.group is not None:
            query = query.where(Ticket.group_id == self.group)
        if self.priority is not None:
            query = query.where(Ticket.priority == self.priority)
        if self.created_after is not None:
            query = query.where(Ticket.created_at >= self.created_after)
        if self.created_before is not None:
            query = query.where(Ticket.created_at < self.created_before)
        return query


def _one_of(name: str, raw: str | None, allowed: tuple[str, ...]) -> str | None:
    if not raw:
        return None
    if raw not in allowed:
        raise BadRequest(f"{name} is one of {', '.join(allowed)}")
    return raw


def _priority(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw not in PRIORITIES:
        raise BadRequest(f"priority is one of {', '.join(PRIORITIES)}")
    return raw


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number") from None
    if not 0 <= value < 2**31:
        raise BadRequest(f"'{name}' is out of range")
    return value


def _date(name: str, raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{name}' must be an ISO 8601 date or time") from None
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


async def list_tickets(
    session: AsyncSession, filters: TicketFilter, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first by id, which never changes, so pages neither skip nor repeat."""
    limit = max(1, min(limit, MAX_PAGE))
    query = filters.apply(select(Ticket))
    if cursor:
        query = query.where(Ticket.id < _int("cursor", cursor))
    rows = (
        (await session.execute(query.order_by(Ticket.id.desc()).limit(limit + 1))).scalars().all()
    )
    page = list(rows[:limit])
    next_cursor = str(page[-1].id) if len(rows) > limit else None
    return await views.ticket_views(session, page), next_cursor
