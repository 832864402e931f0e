"""Configuration read once from the environment into a frozen object.

Tests build a Settings from a plain dict; nothing reads ``os.environ`` after start.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chatdesk.errors import ConfigError
from chatdesk.ratelimit import Rule, Rules


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default)."""
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _smtp_url(env: Mapping[str, str]) -> str | None:
    url = env.get("CHATDESK_SMTP_URL") or None
    if url and not url.startswith(("smtp://", "smtps://")):
        raise ConfigError("CHATDESK_SMTP_URL must start with smtp:// or smtps://")
    return url


def _secret_key(env: Mapping[str, str], data_dir: Path) -> str:
    given = env.get("CHATDESK_SECRET_KEY")
    if given:
        if len(given) < 16:
            raise ConfigError("CHATDESK_SECRET_KEY must be at least 16 characters")
        return given
    path = data_dir / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
    except OSError as exc:
        raise ConfigError(f"cannot keep the secret key in {path}: {exc.strerror}") from None


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    redis_prefix: str
    secret_key: str
    max_frame_bytes: int = 64 * 1024
    max_body_chars: int = 10_000
    ws_compression: bool = False
    send_queue_size: int = 1024
    autoclose_days: int = 14
    max_upload_mb: int = 10
    demo: bool = True
    cookie_secure: bool = False
    writer_batch_max: int = 256
    db_pool_size: int = 10
    rate_ip_connects: int = 120  # per IP per minute
    rate_visitor_messages: int = 30  # per visitor per 10 s
    rate_agent_commands: int = 600  # per agent per 10 s
    rate_uploads: int = 20  # per uploader per minute
    rate_logins: int = 10  # per e-mail and IP per 5 minutes
    max_connections_per_ip: int = 500  # open sockets per IP in one process
    autoclose_check_s: int = 3600  # how often the elected auto-close job looks
    routing_check_s: int = 10  # how often waiting round-robin chats are offered again
    webhook_backoff_s: int = 10  # first retry delay of a webhook; doubles each time
    webhook_attempts: int = 8  # attempts before a webhook delivery is given up
    sla_check_s: int = 60
    # The e-mail channel (contract section 10; docs/email.md).
    smtp_url: str | None = None  # outbound: smtp://user:pass@host:587 or smtps://...
    email_delay_s: int = 120  # offline replies wait this long after the visitor left
    email_retry_s: int = 30  # first retry of a failed send; doubles each time
    smtp_port: int = 0  # inbound SMTP receiver (0: none)
    smtp_host: str = "127.0.0.1"
    # Operations (contract section 11; docs/operations.md).
    metrics_token: str | None = None  # Bearer token for /metrics on the main port
    metrics_port: int = 0  # a second, token-free listener for /metrics (0: none)
    metrics_host: str = "127.0.0.1"
    log_format: str = "text"  # text | json
    retention_days: int = 0  # delete closed tickets older than this (0: keep forever)
    debug_mail_links: bool = False  # tests only: answer invitation/reset links in the response

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def rules(self) -> Rules:
        return Rules(
            ip_connects=Rule("connections", self.rate_ip_connects, 60),
            visitor_messages=Rule("messages", self.rate_visitor_messages, 10),
            agent_commands=Rule("commands", self.rate_agent_commands, 10),
            uploads=Rule("uploads", self.rate_uploads, 60),
            logins=Rule("login attempts", self.rate_logins, 300),
            logins_per_ip=Rule("login attempts", self.rate_logins * 5, 300),
        )

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @classmethod
    def from_environ(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("CHATDESK_DATA_DIR") or "./chatdesk-data").resolve()
        database_url = env.get("CHATDESK_DATABASE_URL") or (
            f"sqlite+aiosqlite:///{data_dir / 'chatdesk.db'}"
        )
        if database_url.startswith(("postgres://", "postgresql://")):
            # Operators paste libpq URLs; the async engine needs the driver named.
            database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
        if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ConfigError(
                "CHATDESK_DATABASE_URL must start with sqlite+aiosqlite:// or "
                f"postgresql+asyncpg://, got {database_url.split('://', 1)[0]!r}"
            )
        redis_url = env.get("CHATDESK_REDIS_URL") or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("CHATDESK_REDIS_URL must start with redis://, rediss:// or unix://")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            redis_prefix=env.get("CHATDESK_REDIS_PREFIX") or "chatdesk",
            secret_key=_secret_key(env, data_dir),
            max_frame_bytes=_int(env, "CHATDESK_MAX_FRAME_BYTES", 64 * 1024, minimum=1024),
            ws_compression=_bool(env, "CHATDESK_WS_COMPRESSION", False),
            send_queue_size=_int(env, "CHATDESK_SEND_QUEUE", 1024, minimum=8),
            autoclose_days=_int(env, "CHATDESK_AUTOCLOSE_DAYS", 14, minimum=1),
            max_upload_mb=_int(env, "CHATDESK_MAX_UPLOAD_MB", 10, minimum=1),
            demo=_bool(env, "CHATDESK_DEMO", True),
            cookie_secure=_bool(env, "CHATDESK_COOKIE_SECURE", False),
            db_pool_size=_int(env, "CHATDESK_DB_POOL_SIZE", 10, minimum=1),
            rate_ip_connects=_int(env, "CHATDESK_RATE_IP_CONNECTS", 120),
            rate_visitor_messages=_int(env, "CHATDESK_RATE_VISITOR_MESSAGES", 30),
            rate_agent_commands=_int(env, "CHATDESK_RATE_AGENT_COMMANDS", 600),
            rate_uploads=_int(env, "CHATDESK_RATE_UPLOADS", 20),
            rate_logins=_int(env, "CHATDESK_RATE_LOGINS", 10),
            max_connections_per_ip=_int(env, "CHATDESK_MAX_CONNECTIONS_PER_IP", 500),
            autoclose_check_s=_int(env, "CHATDESK_AUTOCLOSE_CHECK_S", 3600, minimum=1),
            routing_check_s=_int(env, "CHATDESK_ROUTING_CHECK_S", 10, minimum=1),
            webhook_backoff_s=_int(env, "CHATDESK_WEBHOOK_BACKOFF_S", 10, minimum=1),
            webhook_attempts=_int(env, "CHATDESK_WEBHOOK_ATTEMPTS", 8, minimum=5),
            sla_check_s=_int(env, "CHATDESK_SLA_CHECK_S", 60, minimum=1),
            smtp_url=_smtp_url(env),
            email_delay_s=_int(env, "CHATDESK_EMAIL_DELAY_S", 120),
            email_retry_s=_int(env, "CHATDESK_EMAIL_RETRY_S", 30, minimum=1),
            smtp_port=_int(env, "CHATDESK_SMTP_PORT", 0),
            smtp_host=env.get("CHATDESK_SMTP_HOST") or "127.0.0.1",
            metrics_token=env.get("CHATDESK_METRICS_TOKEN") or None,
            metrics_port=_int(env, "CHATDESK_METRICS_PORT", 0),
            metrics_host=env.get("CHATDESK_METRICS_HOST") or "127.0.0.1",
            log_format=_choice(env, "CHATDESK_LOG_FORMAT", ("text", "json")),
            retention_days=_int(env, "CHATDESK_RETENTION_DAYS", 0),
            debug_mail_links=_bool(env, "CHATDESK_DEBUG_MAIL_LINKS", False),
        )
