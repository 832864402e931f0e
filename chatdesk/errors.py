"""The one error tree of chatdesk.

Every domain error carries its contract code and HTTP status, so REST handlers
and WebSocket frames map it the same way::

    ChatdeskError
    ├── BadRequest        bad_request       400
    ├── Unauthorized      unauthorized      401
    ├── Forbidden         forbidden         403
    ├── NotFound          not_found         404
    ├── Conflict          conflict          409
    ├── TooLarge          too_large         413
    ├── UnsupportedMedia  unsupported_media 415
    ├── RateLimited       rate_limited      429 (retry_after seconds)
    └── Unavailable       unavailable       503

ConfigError is separate: it stops the process at start with one line.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ConfigError(Exception):
    """Bad configuration; the CLI prints it as one line and exits 2."""


class ChatdeskError(Exception):
    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, **self.extra}


class BadRequest(ChatdeskError):
    code = "bad_request"
    status = 400


class Unauthorized(ChatdeskError):
    code = "unauthorized"
    status = 401


class Forbidden(ChatdeskError):
    code = "forbidden"
    status = 403


class NotFound(ChatdeskError):
    code = "not_found"
    status = 404


class Conflict(ChatdeskError):
    code = "conflict"
    status = 409


class TooLarge(ChatdeskError):
    code = "too_large"
    status = 413


class UnsupportedMedia(ChatdeskError):
    code = "unsupported_media"
    status = 415


class RateLimited(ChatdeskError):
    code = "rate_limited"
    status = 429

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail, retry_after=round(retry_after, 3))
        self.retry_after = retry_after


class Unavailable(ChatdeskError):
    code = "unavailable"
    status = 503
