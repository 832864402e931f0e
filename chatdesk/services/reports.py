"""Reports computed from the timeline: volume, first response, resolution, CSAT.

The scope is the customer tickets created in [from, to] (whole UTC days), narrowed
to a group and/or an assignee. For each ticket:

- first response: the first public `message` by an agent minus the ticket's creation;
- resolution: the first `status` event to "solved" minus the ticket's creation;
- CSAT: every `rating` event (one per solve).

Medians and 90th percentiles (nearest rank) are in seconds, one decimal; a metric
with no data is null. The CSV export renders this same summary.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, NotFound
from chatdesk.store.models import Agent, Event, Group, Ticket

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Scope:
    first_day: date
    last_day: date
    group: int | None = None
    agent: int | None = None

    @property
    def start(self) -> datetime:
        return datetime(self.first_day.year, self.first_day.month, self.first_day.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime(
            self.last_day.year, self.last_day.month, self.last_day.day, tzinfo=UTC
        ) + timedelta(days=1)

    def days(self) -> list[date]:
        n = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(n)]


def _day(params: dict[str, str], name: str) -> date | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"'{name}' is a day like 2025-01-31") from None


def _id(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' is an id") from None
    if not 0 < value < 2**31:
        raise BadRequest(f"'{name}' is out of range")
    return value


def scope_of(params: dict[str, str], today: date | None = None) -> Scope:
    """from/to (inclusive days, UTC; default the last 30 days), group and agent ids."""
    last = _day(params, "to") or today or datetime.now(UTC).date()
    first = _day(params, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadRequest("'from' must not be after 'to'")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(f"a report covers at most {MAX_DAYS} days")
    return Scope(first, last, _id(params, "group"), _id(params, "agent"))


@dataclass(slots=True)
class _Tally:
    tickets: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    scores: list[int] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "solved": len(self.resolution),
            "first_response_s": spread(self.first_response),
            "resolution_s": spread(self.resolution),
            "csat": csat_of(self.scores),
        }


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {"median": round(statistics.median(ordered), 1), "p90": round(p90, 1)}


def csat_of(scores: list[int]) -> dict[str, Any]:
    if not scores:
        return {"count": 0, "average": None}
    return {"count": len(scores), "average": round(sum(scores) / len(scores), 2)}


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def summary(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    if scope.group is not None and await session.get(Group, scope.group) is None:
        raise NotFound(f"no group {scope.group}")
    if scope.agent is not None and await session.get(Agent, scope.agent) is None:
        raise NotFound(f"no agent {scope.agent}")
    where = [
        Ticket.kind == "customer",
        Ticket.created_at >= scope.start,
        Ticket.created_at < scope.end,
    ]
    if scope.group is not None:
        where.append(Ticket.group_id == scope.group)
    if scope.agent is not None:
        where.append(Ticket.assignee_id == scope.agent)
    tickets = (
        await session.execute(
            select(Ticket.id, Ticket.created_at, Ticket.assignee_id, Ticket.group_id).where(*where)
        )
    ).all()
    in_scope = select(Ticket.id).where(*where)
    first_reply = dict(
        (
            await session.execute(
                select(Event.ticket_id, func.min(Event.at))
                .where(
                    Event.ticket_id.in_(in_scope),
                    Event.kind == "message",
                    Event.author_type == "agent",
                    Event.visibility == "public",
                )
                .group_by(Event.ticket_id)
            )
        ).all()
    )
    solved: dict[int, datetime] = {}
    scores: dict[int, list[int]] = defaultdict(list)
    rows = await session.execute(
        select(Event.ticket_id, Event.kind, Event.data, Event.at)
        .where(Event.ticket_id.in_(in_scope), Event.kind.in_(("status", "rating")))
        .order_by(Event.ticket_id, Event.seq)
    )
    for ticket_id, kind, data, at in rows.tuples():
        data = data or {}
        if kind == "status" and data.get("to") == "solved":
            solved.setdefault(ticket_id, at)
        elif kind == "rating" and isinstance(data.get("score"), int):
            scores[ticket_id].append(data["score"])

    total = _Tally()
    per_day: dict[date, int] = defaultdict(int)
    per_agent: dict[int, _Tally] = defaultdict(_Tally)
    per_group: dict[int, _Tally] = defaultdict(_Tally)
    for ticket_id, created, assignee, group in tickets:
        created = _utc(created)
        per_day[created.date()] += 1
        buckets = [total]
        if assignee is not None:
            buckets.append(per_agent[assignee])
        if group is not None:
            buckets.append(per_group[group])
        reply = first_reply.get(ticket_id)
        done = solved.get(ticket_id)
        for tally in buckets:
            tally.tickets += 1
            if reply is not None:
                tally.first_response.append((_utc(reply) - created).total_seconds())
            if done is not None:
                tally.resolution.append((_utc(done) - created).total_seconds())
            tally.scores.extend(scores.get(ticket_id, []))

    agents = await _names(session, Agent, per_agent)
    groups = await _names(session, Group, per_group)
    return {
        "from": scope.first_day.isoformat(),
        "to": scope.last_day.isoformat(),
        "group": scope.group,
        "agent": scope.agent,
        "new_per_day": [{"day": d.isoformat(), "count": per_day.get(d, 0)} for d in scope.days()],
        **total.wire(),
        "per_agent": [
            {"agent": {"id": a, "name": agents.get(a, "")}, **per_agent[a].wire()}
            for a in sorted(per_agent, key=lambda a: (agents.get(a, ""), a))
        ],
        "per_group": [
            {"group": {"id": g, "name": groups.get(g, "")}, **per_group[g].wire()}
            for g in sorted(per_group, key=lambda g: (groups.get(g, ""), g))
        ],
    }


async def _names(session: AsyncSession, model: Any, ids: dict[int, Any]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(model.id, model.name).where(model.id.in_(list(ids))))
    return {row_id: name for row_id, name in rows.tuples()}
