"""POST /api/v1/auth/login and /logout: a bearer token and the same secret as a cookie."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatdesk.api.common import SESSION_COOKIE, agent_token, desk, json_body, text_field
from chatdesk.services import accounts, agents
from chatdesk.services.agents import SESSION_DAYS


async def login(request: Request) -> Response:
    body = await json_body(request)
    email = text_field(body, "email")
    password = text_field(body, "password", 1024)
    d = desk(request)
    ip = request.client.host if request.client else "?"
    assert d.rules is not None
    # Slow down password guessing, per account and per address.
    await d.limiter.hit(d.rules.logins, f"{email.strip().lower()}|{ip}")
    await d.limiter.hit(d.rules.logins_per_ip, ip)
    try:
        async with desk(request).writes() as session, session.begin():
            token, agent = await agents.login(session, email, password)
    except agents.SecondFactor as needed:
        # Right password, TOTP on: a challenge instead of a token (api/accounts.py).
        async with desk(request).writes() as session, session.begin():
            return JSONResponse(await accounts.challenge(session, needed.agent_id))
    response = JSONResponse({"token": token, "agent": agents.Principal.of(agent).wire()})
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=desk(request).settings.cookie_secure or request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    token = agent_token(request)
    if token:
        async with desk(request).writes() as session, session.begin():
            await agents.logout(session, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    Route("/api/v1/auth/login", login, methods=["POST"]),
    Route("/api/v1/auth/logout", logout, methods=["POST"]),
]
