"""chatdesk serve | migrate | agent add | site add — scriptable by tests and operators."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Sequence

from chatdesk.errors import ChatdeskError, ConfigError
from chatdesk.settings import Settings


def _fail(message: str) -> int:
    print(f"chatdesk: error: {message}", file=sys.stderr)
    return 2


def _settings() -> Settings:
    return Settings.from_environ()


def _migrate(settings: Settings) -> None:
    from chatdesk.store.migrate import upgrade

    try:
        upgrade(settings)
    except ConfigError:
        raise
    except Exception as exc:  # any driver's "cannot connect" becomes one line
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise ConfigError(f"cannot migrate the database: {type(exc).__name__}: {reason}") from None


async def _with_session(settings: Settings, work):  # type: ignore[no-untyped-def]
    from chatdesk.store.db import make_engine, make_sessionmaker

    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


async def _bootstrap(settings: Settings) -> tuple[str, str, str] | None:
    """On an empty desk: a demo site and an admin. Returns (email, password, site key)."""
    from sqlalchemy import func, select

    from chatdesk.services.agents import create_agent
    from chatdesk.services.sites import create_site
    from chatdesk.store.models import Agent

    async def work(session):  # type: ignore[no-untyped-def]
        if await session.scalar(select(func.count()).select_from(Agent)):
            return None
        password = secrets.token_urlsafe(12)
        await create_agent(session, "admin@example.com", "Admin", password, admin=True)
        site = await create_site(session, "Demo site", [])
        return "admin@example.com", password, site.key

    return await _with_session(settings, work)


def _embed_snippet(base: str, key: str) -> str:
    return f'<script src="{base}/widget.js" data-site="{key}" async></script>'


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from chatdesk.ops.logging import log_config

    if args.smtp_port is not None:
        if not 0 < args.smtp_port < 65536:
            raise ConfigError("--smtp-port must be 1 to 65535")
        # Workers read their settings from the environment; the first to bind receives mail.
        os.environ["CHATDESK_SMTP_PORT"] = str(args.smtp_port)
        os.environ["CHATDESK_SMTP_HOST"] = args.host
    settings = _settings()
    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if args.workers > 1 and not settings.redis_url:
        # Without a shared broker each process would only hear its own clients.
        raise ConfigError("--workers above 1 needs CHATDESK_REDIS_URL (processes share Redis)")
    if args.workers > 1 and settings.is_sqlite:
        print(
            "chatdesk: warning: several processes on SQLite share one writer lock; "
            "use PostgreSQL for production",
            file=sys.stderr,
        )
    _migrate(settings)
    created = asyncio.run(_bootstrap(settings))
    shown_host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "::") else args.host
    base = f"http://{shown_host}:{args.port}"
    if created is not None:
        email, password, key = created
        print("chatdesk: a new desk was created with a demo site and an admin.")
        print(f"  admin e-mail:    {email}")
        print(f"  admin password:  {password}")
        print(f"  site key:        {key}")
        print(f"  embed snippet:   {_embed_snippet(base, key)}")
    print(f"chatdesk: console at {base}/console/  demo page at {base}/", flush=True)
    uvicorn.run(
        "chatdesk.app:app_from_environ",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        ws="chatdesk.realtime.wsproto:LeanWebSocketProtocol",
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=settings.ws_compression,
        timeout_graceful_shutdown=10,
        log_level=os.environ.get("CHATDESK_LOG_LEVEL", "warning").lower(),
        log_config=log_config(settings.log_format, os.environ.get("CHATDESK_LOG_LEVEL", "warning")),
        proxy_headers=True,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    _migrate(settings)
    print("chatdesk: database is up to date")
    return 0


def cmd_agent_add(args: argparse.Namespace) -> int:
    from chatdesk.services.agents import create_agent

    settings = _settings()
    _migrate(settings)

    async def work(session):  # type: ignore[no-untyped-def]
        return await create_agent(session, args.email, args.name, args.password, admin=args.admin)

    agent = asyncio.run(_with_session(settings, work))
    print(f"agent {agent.id} {agent.email} ({agent.role})")
    return 0


def cmd_site_add(args: argparse.Namespace) -> int:
    from chatdesk.services.sites import create_site

    settings = _settings()
    _migrate(settings)

    async def work(session):  # type: ignore[no-untyped-def]
        return await create_site(session, args.name, args.origin or [])

    site = asyncio.run(_with_session(settings, work))
    print(f"site {site.id} {site.name!r} origins: {', '.join(site.origins) or '(any)'}")
    print(f"identity secret: {site.identity_secret}")
    print(site.key)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from chatdesk.ops.backup import export

    settings = _settings()
    if settings.is_sqlite:
        path = make_url(settings.database_url).database or ""
        if not Path(path).is_file():  # opening it would make an empty one
            raise ConfigError(f"no desk at {path}: nothing to export")
    counts = asyncio.run(export(settings, Path(args.out)))
    print(f"chatdesk: exported {sum(counts.values())} rows of {len(counts)} tables to {args.out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chatdesk.ops.backup import import_

    settings = _settings()
    if not Path(args.file).is_file():
        raise ConfigError(f"no such file: {args.file}")
    _migrate(settings)
    counts = asyncio.run(import_(settings, Path(args.file)))
    files = counts.pop("files", 0)
    print(f"chatdesk: imported {sum(counts.values())} rows and {files} files from {args.file}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatdesk", description="Self-hosted live chat desk")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, then run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--smtp-port", type=int, default=None, help="receive mail over SMTP on this port"
    )
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(func=cmd_migrate)
    agent = sub.add_parser("agent", help="manage agents").add_subparsers(
        dest="action", required=True
    )
    add = agent.add_parser("add", help="add an agent")
    add.add_argument("email")
    add.add_argument("--name", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--admin", action="store_true")
    add.set_defaults(func=cmd_agent_add)
    site = sub.add_parser("site", help="manage sites").add_subparsers(dest="action", required=True)
    sadd = site.add_parser("add", help="add a site; prints its key last")
    sadd.add_argument("name")
    sadd.add_argument("--origin", action="append", help="allowed origin (repeatable)")
    sadd.set_defaults(func=cmd_site_add)
    export = sub.add_parser("export", help="write the whole desk (rows and files) to a tar.gz")
    export.add_argument("--out", required=True, help="the archive to write")
    export.set_defaults(func=cmd_export)
    load = sub.add_parser("import", help="load an export into an empty database")
    load.add_argument("file", help="an archive written by chatdesk export")
    load.set_defaults(func=cmd_import)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        return _fail(str(exc))
    except ChatdeskError as exc:
        return _fail(exc.detail)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
