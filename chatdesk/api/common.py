"""What every REST route shares: the desk, the caller, JSON bodies, error mapping."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chatdesk.desk import Desk
from chatdesk.errors import (
    BadRequest,
    ChatdeskError,
    Forbidden,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from chatdesk.services.agents import Principal, authenticate
from chatdesk.text import check_text, check_tree

log = logging.getLogger(__name__)

SESSION_COOKIE = "chatdesk_session"
MAX_JSON_BYTES = 256 * 1024


def desk(request: Request) -> Desk:
    return request.app.state.desk


def agent_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if header:
        return None
    return request.cookies.get(SESSION_COOKIE)


async def current_agent(request: Request) -> Principal:
    token = agent_token(request)
    if token is None:
        raise Unauthorized("log in first (Authorization: Bearer TOKEN or the session cookie)")
    async with desk(request).reads() as session:
        return await authenticate(session, token)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise TooLarge(f"the body is larger than {MAX_JSON_BYTES} bytes")
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    check_tree(value)
    return value


def text_field(body: dict[str, Any], name: str, max_chars: int = 320) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > max_chars:
        raise BadRequest(f"'{name}' must be a string of 1 to {max_chars} characters")
    return value


def query(request: Request) -> dict[str, str]:
    """The query parameters, each checked to be clean text."""
    return {k: check_text(k, v, 2000) for k, v in request.query_params.items()}


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number") from None


async def chatdesk_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatdeskError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def database_down(request: Request, exc: Exception) -> Response:
    """A database that cannot be reached is a 503 the client retries, not a 500."""
    log.warning("database unreachable during %s: %s", request.url.path, type(exc).__name__)
    body = Unavailable("the database is unavailable; retry").body()
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})


MAX_ID = 2**31 - 1


def path_id(request: Request, what: str, name: str = "id") -> int:
    """A store id from the path, else `bad_request` naming `what`."""
    return parse_id(request.path_params[name], what)


def parse_id(raw: str, what: str) -> int:
    """A store id from text, else `bad_request` naming `what` (ids are 32-bit)."""
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{what} is a whole number") from None
    if not 0 < value <= MAX_ID:
        raise BadRequest(f"{what} is out of range")
    return value


def require_admin(agent: Principal) -> None:
    if not agent.is_admin:
        raise Forbidden("only an admin may do this")


def optional_text(body: dict[str, Any], name: str, max_chars: int) -> str | None:
    """A text field that may be absent (None); present, it must be a clean string."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str) or "\x00" in value or len(value) > max_chars:
        raise BadRequest(f"'{name}' must be a string of at most {max_chars} characters")
    return value
