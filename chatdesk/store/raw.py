"""Values for statements sent as plain SQL (``exec_driver_sql``) on the hot path.

Such statements skip SQLAlchemy's per-statement work (building, cache keys,
compiling, parameter processing), which cost more than SQLite spent running them;
their values must then be stored exactly as the ORM stores them, which is what the
column types' own bind processors do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect

_BINDERS: dict[tuple[str, str, str], Callable[[Any], Any]] = {}


def binder(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """The function turning a Python value into what this column stores on ``dialect``."""
    key = (dialect.name, column.table.name, column.name)
    found = _BINDERS.get(key)
    if found is None:
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        found = _BINDERS[key] = processor if processor is not None else _same
    return found


def _same(value: Any) -> Any:
    return value
