"""Bulk actions: one change on many tickets, one event per ticket, all or nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, ChatdeskError
from chatdesk.services.agents import Principal
from chatdesk.services.ticket_ops import do_assign, do_labels, do_priority, do_status
from chatdesk.services.ticketing import Changes, TicketService

MAX_TICKETS = 500
SETTABLE = {"status", "assignee", "group", "priority", "add_labels", "remove_labels"}


class BulkFailed(ChatdeskError):
    """Some tickets refused; none changed. ``failed`` lists them with their codes."""

    code = "conflict"
    status = 409


def _check(ids: Any, changes: Any) -> tuple[list[int], dict[str, Any]]:
    if not isinstance(ids, list) or not ids or len(ids) > MAX_TICKETS:
        raise BadRequest(f"'ids' is a list of 1 to {MAX_TICKETS} ticket ids")
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 < i < 2**31:
            raise BadRequest("'ids' holds ticket ids")
    if len(set(ids)) != len(ids):
        raise BadRequest("'ids' names a ticket twice")
    if not isinstance(changes, dict) or not changes or set(changes) - SETTABLE:
        raise BadRequest(f"'set' is a map of some of {', '.join(sorted(SETTABLE))}")
    return ids, changes


class Bulk(TicketService):
    async def apply(self, agent: Principal, ids: Any, changes: Any) -> list[int]:
        ids, wanted = _check(ids, changes)

        async def one(session: AsyncSession, c: Changes, ticket_id: int) -> None:
            if "status" in wanted:
                await do_status(session, c, agent, ticket_id, wanted["status"])
            if "assignee" in wanted or "group" in wanted:
                await do_assign(
                    session, c, agent, ticket_id, wanted.get("assignee"), wanted.get("group"),
                    unassign="assignee" in wanted and wanted["assignee"] is None,
                )  # fmt: skip
            if "priority" in wanted:
                await do_priority(session, c, agent, ticket_id, wanted["priority"])
            if "add_labels" in wanted or "remove_labels" in wanted:
                add, remove = wanted.get("add_labels", []), wanted.get("remove_labels", [])
                if not isinstance(add, list) or not isinstance(remove, list):
                    raise BadRequest("labels are lists of names")
                await do_labels(session, c, agent, ticket_id, tuple(add), tuple(remove))

        async def op(session: AsyncSession, c: Changes) -> list[int]:
            failed = []
            for ticket_id in sorted(ids):
                try:
                    await one(session, c, ticket_id)
                except BadRequest:
                    raise
                except ChatdeskError as exc:
                    failed.append({"id": ticket_id, "code": exc.code})
            if failed:
                # Raising rolls the whole batch back: no ticket keeps a change.
                raise BulkFailed(f"{len(failed)} of {len(ids)} tickets refused", failed=failed)
            return ids

        return await self._write(min(ids), op)
