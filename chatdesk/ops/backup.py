"""Moving a whole desk: ``chatdesk export --out FILE`` and ``chatdesk import FILE``.

The archive is a tar.gz of ``manifest.json``, one JSON-lines file per table
(``tables/NNN-name.jsonl``, in an order where every row's references come
first) and the uploaded files (``files/uploads/ab/abcdef…``). Values are plain
JSON: times in UTC ISO 8601, bytes in base64; the importing side converts them
by its own column types, which is what lets a desk move between SQLite and
PostgreSQL. Import goes into an empty, migrated database in one transaction,
then moves PostgreSQL's id sequences past the imported ids.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from chatdesk.errors import ConfigError
from chatdesk.ops import schema
from chatdesk.settings import Settings
from chatdesk.store.db import make_engine

FORMAT = 1
# Tables that are only ever filled by using a desk: rows there mean the target is in use.
CORE = ("agents", "sites", "customers", "tickets", "events")
BATCH = 500
_FILE = re.compile(r"files/uploads/([0-9a-f]{2})/([0-9a-f]{64})")


def _order(meta: MetaData) -> list[Table]:
    """Referenced tables before the tables that reference them."""
    return list(meta.sorted_tables)


def _revisions(conn: Connection) -> list[str]:
    try:
        return sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))
    except Exception:
        return []


# ------------------------------------------------------------------ export


async def export(settings: Settings, out: Path) -> dict[str, int]:
    """Write the desk to ``out``; returns the rows written per table."""
    engine = make_engine(settings)
    counts: dict[str, int] = {}
    try:
        async with engine.connect() as conn:
            revisions = await conn.run_sync(_revisions)
            if not revisions:
                raise ConfigError("this database holds no chatdesk desk: nothing to export")
            meta = await conn.run_sync(schema.reflect)
            with tempfile.TemporaryDirectory() as tmp, tarfile.open(out, "w:gz") as tar:
                for i, table in enumerate(_order(meta)):
                    path = Path(tmp) / f"{i:03d}-{table.name}.jsonl"
                    counts[table.name] = await _dump(conn, table, path)
                    tar.add(path, arcname=f"tables/{path.name}")
                files = _add_files(tar, settings.uploads_dir)
                manifest = {
                    "format": FORMAT,
                    "created_at": datetime.now(UTC).isoformat(),
                    "dialect": engine.dialect.name,
                    "revisions": revisions,
                    "tables": [{"name": t.name, "rows": counts[t.name]} for t in _order(meta)],
                    "files": files,
                }
                data = json.dumps(manifest, indent=1).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    finally:
        await engine.dispose()
    return counts


async def _dump(conn: AsyncConnection, table: Table, path: Path) -> int:
    query = select(table)
    keys = list(table.primary_key.columns)
    if keys:
        query = query.order_by(*keys)  # ids ascending: self-references come first
    n = 0
    with path.open("w", encoding="utf-8") as out:
        result = await conn.stream(query)
        async for row in result:
            plain = {k: schema.plain(v) for k, v in row._mapping.items()}
            out.write(json.dumps(plain, ensure_ascii=False) + "\n")
            n += 1
    return n


def _add_files(tar: tarfile.TarFile, root: Path) -> int:
    n = 0
    if not root.is_dir():
        return 0
    for path in sorted(root.glob("??/*")):
        if path.is_file() and _FILE.fullmatch(f"files/uploads/{path.parent.name}/{path.name}"):
            tar.add(path, arcname=f"files/uploads/{path.parent.name}/{path.name}")
            n += 1
    return n


# ------------------------------------------------------------------ import


async def import_(settings: Settings, archive: Path) -> dict[str, int]:
    """Load an archive into this (migrated, empty) desk; returns the rows per table."""
    try:
        tar = tarfile.open(archive, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise ConfigError(f"cannot read {archive}: {exc}") from None
    with tar:
        manifest = _manifest(tar)
        members = {m.name: m for m in tar.getmembers()}
        engine = make_engine(settings)
        counts: dict[str, int] = {}
        try:
            async with engine.begin() as conn:
                meta = await conn.run_sync(schema.reflect)
                await conn.run_sync(_check_target, meta, manifest)
                for i, entry in enumerate(manifest["tables"]):
                    name = entry["name"]
                    member = members.get(f"tables/{i:03d}-{name}.jsonl")
                    if member is None:
                        raise ConfigError(f"the archive lacks the rows of table {name}")
                    counts[name] = await _load(conn, meta.tables[name], _lines(tar, member))
                if engine.dialect.name == "postgresql":
                    await conn.run_sync(_fix_sequences, meta)
        finally:
            await engine.dispose()
        counts["files"] = _restore_files(tar, settings.uploads_dir)
    return counts


def _manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.getmember("manifest.json")
        handle = tar.extractfile(member)
        manifest = json.loads(handle.read()) if handle else None
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError("not a chatdesk export (no manifest.json of format 1)")
    return manifest


def _check_target(conn: Connection, meta: MetaData, manifest: dict[str, Any]) -> None:
    missing = set(manifest.get("revisions", [])) - set(_revisions(conn))
    if missing:
        raise ConfigError(
            f"this database lacks migrations {', '.join(sorted(missing))}: "
            "import with the same chatdesk version that exported"
        )
    seeded = []
    for entry in manifest["tables"]:
        table = meta.tables.get(entry["name"])
        if table is None:
            raise ConfigError(f"this database has no table {entry['name']}: migrate first")
        filled = conn.execute(select(func.count()).select_from(table)).scalar()
        if filled and table.name in CORE:
            raise ConfigError(
                f"import needs an empty database, but {table.name} has {filled} rows "
                "(run only `chatdesk migrate` before importing)"
            )
        if filled:
            seeded.append(table)
    # Rows a migration put there (defaults of a feature): the archive has the source's own.
    for table in reversed(_order(meta)):
        if table in seeded:
            conn.execute(table.delete())


def _lines(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[dict[str, Any]]:
    handle = tar.extractfile(member)
    if handle is None:
        return
    for raw in io.TextIOWrapper(handle, encoding="utf-8"):
        if raw.strip():
            yield json.loads(raw)


def _convert(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in row.items():
        col = table.c.get(name)
        if col is None:
            raise ConfigError(f"table {table.name} has no column {name}: migrate first")
        out[name] = _value(col.type, value)
    return out


def _value(kind: Any, value: Any) -> Any:
    if value is None or isinstance(kind, JSON):
        return value
    if isinstance(kind, DateTime):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value)
    if isinstance(kind, Boolean):
        return bool(value)
    if isinstance(kind, Integer) and isinstance(value, bool):
        return int(value)
    return value


async def _load(conn: AsyncConnection, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    n = 0
    for row in rows:
        batch.append(_convert(table, row))
        if len(batch) >= BATCH:
            await conn.execute(table.insert(), batch)
            n += len(batch)
            batch = []
    if batch:
        await conn.execute(table.insert(), batch)
        n += len(batch)
    return n


def _fix_sequences(conn: Connection, meta: MetaData) -> None:
    """Serial ids continue after the imported ones, or the next insert collides."""
    for table in meta.tables.values():
        for col in table.primary_key.columns:
            seq = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": f'"{table.name}"', "c": col.name},
            ).scalar()
            if seq:
                conn.execute(
                    text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{col.name}") '
                        f'FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"s": seq},
                )


def _restore_files(tar: tarfile.TarFile, root: Path) -> int:
    n = 0
    for member in tar.getmembers():
        match = _FILE.fullmatch(member.name)
        if match is None or not member.isfile():
            continue  # nothing but content-named files, never a path of the archive's choice
        handle = tar.extractfile(member)
        if handle is None:
            continue
        data = handle.read()
        if hashlib.sha256(data).hexdigest() != match.group(2):
            raise ConfigError(f"file {member.name} does not match its checksum")
        target = root / match.group(1) / match.group(2)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        n += 1
    return n
