"""Structured logs through the standard library: JSON lines or readable text.

Every line names the request or connection it belongs to (a context variable set
by chatdesk.ops.context), or the background task that wrote it. Whatever a
line says, e-mail addresses, bearer and visitor tokens, secrets in query strings
and SQL parameters are scrubbed before it is written: a log is read by more
people than the database is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from contextvars import ContextVar
from typing import Any

current_id: ContextVar[str | None] = ContextVar("chatdesk_log_context", default=None)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_AUTH = re.compile(r"(?i)\b(bearer|visitor|inbound|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_QUERY = re.compile(r"(/[^\s?\"'#]*)\?[^\s\"'#]*")
_SECRET = re.compile(
    r"(?i)\b(password|passwd|token|secret|challenge|sig|visitor_token)"
    r"([\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"
)
_SQL_PARAMS = re.compile(r"\[parameters: [^\n]*")


def scrub(text: str) -> str:
    """What may be written to a log of the given text."""
    text = _SQL_PARAMS.sub("[parameters: hidden]", text)
    text = _EMAIL.sub("[email]", text)
    text = _AUTH.sub(r"\1 [token]", text)
    text = _QUERY.sub(r"\1?[query]", text)
    return _SECRET.sub(r"\1\2[redacted]", text)


def context_id() -> str:
    """The request or connection id, else the background task's name."""
    value = current_id.get()
    if value:
        return value
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return f"task:{task.get_name()}" if task is not None else "process"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = context_id()
        return True


def _stamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _stamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "ctx": getattr(record, "ctx", None) or context_id(),
            "msg": scrub(record.getMessage()),
        }
        if record.exc_info:
            line["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = getattr(record, "ctx", None) or context_id()
        text = (
            f"{_stamp(record)} {record.levelname:<7} [{ctx}] {record.name}: {record.getMessage()}"
        )
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return scrub(text)


def log_config(fmt: str, level: str) -> dict[str, Any]:
    """A logging.dictConfig for uvicorn.run(log_config=...): every logger, one format."""
    level = level.upper()
    formatter = (
        "chatdesk.ops.logging.JsonFormatter"
        if fmt == "json"
        else ("chatdesk.ops.logging.TextFormatter")
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "chatdesk.ops.logging.ContextFilter"}},
        "formatters": {"main": {"()": formatter}},
        "handlers": {
            "main": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["context"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["main"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["main"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["main"], "level": level},
    }
