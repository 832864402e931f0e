"""What every REST route shares: the desk, the caller, JSON bodies, error mapping."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chatdesk.desk import Desk
from chatdesk.errors import BadRequest, ChatdeskError, TooLarge, Unauthorized
from chatdesk.services.agents import Principal, authenticate

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
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value


def text_field(body: dict[str, Any], name: str, max_chars: int = 320) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > max_chars:
        raise BadRequest(f"'{name}' must be a string of 1 to {max_chars} characters")
    return value


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
