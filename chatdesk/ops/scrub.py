"""How stored values lose their personal content while keeping their shape.

Erasure keeps tickets and events as shells (counts, statuses, seqs, who handled
them) and removes what a person wrote or is: bodies, names, addresses, files.
Tables of other features are scrubbed by what their columns are, so a feature
added later is covered without code here: rows linked to the customer (by a
``customer_id``, ``ticket_id`` or ``event_id``, with or without a foreign key)
lose every free-text, JSON and binary value.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    JSON,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

ERASED = "[erased]"
VISITOR = "Visitor"
# Event kinds whose fields say only who handled the ticket and how: kept as they are.
STRUCTURAL_KINDS = {
    "status", "assigned", "labels", "access", "linked", "unlinked", "linked_status",
    "masked", "unmasked", "sla",
}  # fmt: skip
# Keys of other kinds' fields that are codes, never free text.
CODE_KEYS = {
    "via", "state", "relation", "seqs", "target_seq", "score", "other", "kind", "other_kind",
    "status_label", "source", "on", "solved_seq",
}  # fmt: skip
SHORT_CODE = 64  # strings up to this long are codes (status, kind, channel), not content


def scrub_tree(value: Any, keep: frozenset[str] | set[str] = frozenset()) -> Any:
    """Every string in a JSON value replaced, numbers and structure kept."""
    if isinstance(value, str):
        return ERASED
    if isinstance(value, list):
        return [scrub_tree(v, keep) for v in value]
    if isinstance(value, dict):
        return {k: (v if k in keep else scrub_tree(v, keep)) for k, v in value.items()}
    return value


def scrub_event_fields(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    if kind in STRUCTURAL_KINDS:
        return data
    if kind in ("message", "note"):
        kept = {k: data[k] for k in ("via", "cross_posted_to", "cross_posted_from") if k in data}
        return {**kept, "attachments": []}
    return scrub_tree(data, CODE_KEYS)


def is_content(table: Table, name: str) -> bool:
    """Whether a column may hold what a person wrote: free text, JSON or bytes."""
    col = table.c[name]
    if col.primary_key or col.foreign_keys:
        return False  # keys link rows; text ids (a Message-ID) are content like any text
    kind = col.type
    if isinstance(kind, JSON | LargeBinary | Text):
        return True
    if isinstance(kind, String):
        return kind.length is None or kind.length > SHORT_CODE
    return False


def _unique_columns(table: Table) -> set[str]:
    names: set[str] = set()
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns) == 1:
            names.update(c.name for c in constraint.columns)
    for index in table.indexes:
        if index.unique and len(index.columns) == 1:
            names.update(c.name for c in index.columns)
    return names


def scrubbed_value(table: Table, name: str, value: Any, row_key: str) -> Any:
    """The erased form of one stored value."""
    if value is None:
        return None
    col = table.c[name]
    if col.nullable:
        return None
    if isinstance(col.type, LargeBinary):
        return b""
    if isinstance(col.type, JSON):
        return scrub_tree(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict | list):
            return json.dumps(scrub_tree(parsed))  # stays valid JSON for whoever reads it
        if name in _unique_columns(table):
            return f"{ERASED} {row_key}"
        return ERASED
    return value


def link_conditions(table: Table, links: dict[str, tuple[str, list[Any]]]) -> list[Any]:
    """Conditions selecting a table's rows linked to the erased data.

    ``links`` maps a referenced table (customers, tickets, events) to the column
    name that conventionally points at it and the ids erased there.
    """
    conds = []
    for col in table.columns:
        for target, (conventional, ids) in links.items():
            refers = any(fk.column.table.name == target for fk in col.foreign_keys)
            if (refers or col.name == conventional) and ids:
                conds.append(col.in_(ids))
    return conds


async def scrub_linked(
    session: AsyncSession, table: Table, links: dict[str, tuple[str, list[Any]]]
) -> int:
    """Scrub the content columns of a table's linked rows; returns the rows changed."""
    content = [c.name for c in table.columns if is_content(table, c.name)]
    keys = list(table.primary_key.columns)
    conds = link_conditions(table, links)
    if not content or not keys or not conds:
        return 0
    rows = (
        await session.execute(select(*keys, *[table.c[n] for n in content]).where(or_(*conds)))
    ).all()
    changed = 0
    for row in rows:
        mapping = row._mapping
        key = "/".join(str(mapping[k.name]) for k in keys)
        values = {n: scrubbed_value(table, n, mapping[n], key) for n in content}
        values = {n: v for n, v in values.items() if v != mapping[n]}
        if not values:
            continue
        where = [k == mapping[k.name] for k in keys]
        await session.execute(update(table).where(*where).values(**values))
        changed += 1
    return changed
