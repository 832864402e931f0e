"""Running triggers: match a ticket against each trigger's conditions, act as `system`.

Actions go through the ticket services with SYSTEM_PRINCIPAL, so they are the same
operations (and publish the same events) as an agent's; afterwards one internal
`system` event names the trigger and what each action did, or why it could not.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from chatdesk.errors import ChatdeskError
from chatdesk.services import business_hours, canned
from chatdesk.services.agents import SYSTEM_PRINCIPAL
from chatdesk.services.rules_system import SystemNotes
from chatdesk.services.rules_triggers import active_triggers
from chatdesk.store.models import Customer, Event, Site, Ticket
from chatdesk.store.models_rules import Trigger

if TYPE_CHECKING:
    from chatdesk.desk import Desk

log = logging.getLogger(__name__)
CACHE_S = 2.0


@dataclass(frozen=True, slots=True)
class Facts:
    """What conditions are tested against, read once per event."""

    ticket: int
    site_id: int | None
    site_key: str
    page_url: str
    email_domain: str
    language: str
    first_message: str
    open_now: bool


async def facts(desk: Desk, ticket_id: int) -> Facts | None:
    async with desk.reads() as session:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        site = await session.get(Site, ticket.site_id) if ticket.site_id else None
        customer = await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
        first = await session.scalar(
            select(Event.body)
            .where(
                Event.ticket_id == ticket_id,
                Event.kind == "message",
                Event.author_type == "visitor",
            )
            .order_by(Event.seq)
            .limit(1)
        )
    email = (customer.email or "") if customer else ""
    return Facts(
        ticket=ticket_id,
        site_id=site.id if site else None,
        site_key=site.key if site else "",
        page_url=(customer.page_url or "") if customer else "",
        email_domain=email.rpartition("@")[2].lower() if "@" in email else "",
        # The ticket's language when ticket management records one (contract section 8).
        language=getattr(ticket, "language", None) or "",
        first_message=first or "",
        open_now=business_hours.open_at(site.business_hours if site else None),
    )


def holds(condition: dict[str, Any], f: Facts) -> bool:
    field, op, value = condition["field"], condition["op"], condition["value"]
    if field == "business_hours":
        equal = (value == "open") == f.open_now
        return equal if op == "is" else not equal
    if field == "site" and isinstance(value, int):
        equal = f.site_id == value
        return equal if op == "is" else not equal
    subject = {
        "site": f.site_key,
        "page_url": f.page_url,
        "email_domain": f.email_domain,
        "language": f.language,
        "first_message": f.first_message,
    }[field].casefold()
    wanted = str(value).casefold()
    if field == "email_domain":
        wanted = wanted.removeprefix("@")
    match op:
        case "is":
            return subject == wanted
        case "is_not":
            return subject != wanted
        case "contains":
            return wanted in subject
        case _:
            return wanted not in subject


def matches(trigger: Trigger, f: Facts) -> bool:
    return all(holds(c, f) for c in trigger.conditions or [])


class Engine:
    def __init__(self, desk: Desk, notes: SystemNotes) -> None:
        self._desk = desk
        self._notes = notes
        self._cache: dict[str, tuple[float, list[Trigger]]] = {}
        self.fired = 0

    def forget(self) -> None:
        """Drop the cached triggers (after this process changed one)."""
        self._cache.clear()

    async def _triggers(self, on: str) -> list[Trigger]:
        # Every visitor message asks; a short cache keeps that off the database.
        # Other processes see a changed trigger within CACHE_S.
        cached = self._cache.get(on)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        async with self._desk.reads() as session:
            triggers = await active_triggers(session, on)
        self._cache[on] = (time.monotonic(), triggers)
        return triggers

    async def run(self, on: str, ticket_id: int, seq: int) -> None:
        """Every active trigger for ``on`` whose conditions hold, once, in position order."""
        triggers = await self._triggers(on)
        if not triggers:
            return
        found = await facts(self._desk, ticket_id)
        if found is None:
            return
        for trigger in triggers:
            if matches(trigger, found):
                try:
                    await self._fire(trigger, on, ticket_id, seq)
                except ChatdeskError as exc:  # e.g. the database went away: the next still runs
                    log.warning("trigger %s on ticket %s failed: %s", trigger.id, ticket_id, exc)

    async def _fire(self, trigger: Trigger, on: str, ticket_id: int, seq: int) -> None:
        done: list[dict[str, Any]] = []
        for action in trigger.actions or []:
            outcome: dict[str, Any] = dict(action)
            try:
                outcome["seq"] = await self._act(trigger, action, ticket_id, seq)
            except ChatdeskError as exc:
                outcome["error"] = exc.code
                outcome["reason"] = exc.detail
            done.append(outcome)
        self.fired += 1
        failed = sum(1 for o in done if "error" in o)
        detail = f"Trigger {trigger.name!r} ran on {on}: {len(done) - failed} action(s) done"
        if failed:
            detail += f", {failed} failed"
        await self._notes.record(
            ticket_id,
            "trigger",
            detail,
            trigger={"id": trigger.id, "name": trigger.name},
            on=on,
            actions=done,
        )

    async def _act(self, trigger: Trigger, action: dict[str, Any], ticket: int, seq: int) -> Any:
        tickets = self._desk.tickets
        kind, value = action["type"], action["value"]
        if kind == "assign_group":
            return (await tickets.transfer(SYSTEM_PRINCIPAL, ticket, None, value)).seq
        if kind == "assign_agent":
            return (await tickets.transfer(SYSTEM_PRINCIPAL, ticket, value, None)).seq
        if kind == "add_labels":
            return (await tickets.set_labels(SYSTEM_PRINCIPAL, ticket, tuple(value), ())).seq
        if kind == "set_priority":
            return (await tickets.set_priority(SYSTEM_PRINCIPAL, ticket, value)).seq
        async with self._desk.reads() as session:
            body = await canned.render(session, SYSTEM_PRINCIPAL, value, ticket)
        # Names the trigger and the event that caused the message, for tracing.
        client_msg_id = f"trigger-{trigger.id}-{ticket}-{seq}"
        return (await tickets.send(SYSTEM_PRINCIPAL, ticket, client_msg_id, body)).seq
