"""Customer satisfaction: one rating per solve, stored as an internal `rating` event.

A solve is a `status` event to "solved"; the rating answers the latest one and
records its seq (``solved_seq``), so a ticket reopened and solved again may be
rated again, while a second rating of the same solve is a `conflict`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, Conflict, NotFound
from chatdesk.realtime.protocol import Author
from chatdesk.services import timeline
from chatdesk.services.ticketing import Changes, TicketService, Written
from chatdesk.store.models import Customer, Event, Ticket

KIND = "rating"
MAX_COMMENT = 2000
CSAT_REQUEST = "csat_request"


def request_frame(ticket_id: int) -> dict[str, Any]:
    """The push that asks a visitor to rate their just-solved ticket."""
    return {"type": CSAT_REQUEST, "ticket": ticket_id}


def wants_rating(kind: str, fields: dict[str, Any]) -> bool:
    """A solve the customer hears of; one resolved internally (with a reason) asks nothing."""
    return kind == "status" and fields.get("to") == "solved" and not fields.get("reason")


def check(score: Any, comment: Any) -> tuple[int, str | None]:
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise BadRequest("'score' is a whole number from 1 to 5")
    if comment is not None:
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT or "\x00" in comment:
            raise BadRequest(f"'comment' is text of at most {MAX_COMMENT} characters")
        comment = comment.strip() or None
    return score, comment


async def _last_solve(session: AsyncSession, ticket_id: int) -> int | None:
    rows = await session.execute(
        select(Event.seq, Event.data)
        .where(Event.ticket_id == ticket_id, Event.kind == "status")
        .order_by(Event.seq.desc())
    )
    return next((seq for seq, data in rows.tuples() if (data or {}).get("to") == "solved"), None)


class Csat(TicketService):
    async def rate(self, customer_id: int, score: Any, comment: Any = None) -> Written:
        score, comment = check(score, comment)

        async def op(session: AsyncSession, changes: Changes) -> Written:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound("unknown visitor")
            ticket = (
                await session.execute(
                    select(Ticket)
                    .where(Ticket.customer_id == customer_id)
                    .order_by(Ticket.id.desc())
                    .limit(1)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            if ticket is None or ticket.status != "solved":
                state = ticket.status if ticket is not None else "not started"
                raise Conflict(f"only a solved ticket can be rated; yours is {state}")
            solved_seq = await _last_solve(session, ticket.id)
            if solved_seq is None:
                raise Conflict("this ticket was never solved")
            rated = await session.scalar(
                select(Event.seq).where(
                    Event.ticket_id == ticket.id, Event.kind == KIND, Event.seq > solved_seq
                )
            )
            if rated is not None:
                raise Conflict("this solve is rated already")
            author = Author("visitor", customer.id, customer.name or "Visitor")
            event = await timeline.append(
                session,
                ticket,
                KIND,
                "internal",
                author,
                {"score": score, "comment": comment, "solved_seq": solved_seq},
            )
            changes.event(event)
            return Written(ticket.id, event.seq)

        return await self._write(customer_id, op)
