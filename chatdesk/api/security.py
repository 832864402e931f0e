"""Origin checks, CSRF protection for cookie sessions, and security headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatdesk.api.common import SESSION_COOKIE

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def origin_netloc(origin: str | None) -> str | None:
    if not origin or origin == "null":
        return None
    parts = urlsplit(origin)
    return parts.netloc.lower() if parts.scheme in ("http", "https") else None


def same_origin(headers: Headers) -> bool:
    """Whether the Origin header (if any) names this server, as the Host header does."""
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser: no ambient cookie to abuse
    return origin_netloc(origin) == (headers.get("host") or "").lower()


def allowed_origin(headers: Headers, allowed: list[str]) -> bool:
    """This server itself, or one of a site's allowed origins (none listed: any)."""
    if same_origin(headers) or not allowed:
        return True
    return (headers.get("origin") or "").rstrip("/").lower() in allowed


CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


class SecurityMiddleware:
    """Refuses cross-site writes that ride on the session cookie, and adds headers.

    A write authenticated by the cookie alone must come from this server's own pages:
    its Origin (or, lacking one, Referer) must name this host. Bearer-token calls carry
    no ambient credential and pass as they are.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if (
            scope["method"] in UNSAFE
            and self._cookie_only(headers)
            and not self._same_site(headers)
        ):
            await _refuse(send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                names = {k.lower() for k, _ in raw}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"same-origin",
                }
                if path.startswith("/console"):
                    extra[b"content-security-policy"] = CONSOLE_CSP.encode()
                    extra[b"x-frame-options"] = b"DENY"
                for name, value in extra.items():
                    if name not in names:
                        raw.append((name, value))
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _cookie_only(headers: Headers) -> bool:
        return "authorization" not in headers and SESSION_COOKIE in headers.get("cookie", "")

    @staticmethod
    def _same_site(headers: Headers) -> bool:
        host = (headers.get("host") or "").lower()
        origin = headers.get("origin")
        if origin is not None:
            return origin_netloc(origin) == host
        referer = headers.get("referer")
        return referer is not None and urlsplit(referer).netloc.lower() == host


async def _refuse(send: Send) -> None:
    body = b'{"code":"forbidden","detail":"cross-site request refused (Origin does not match)"}'
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
