"""The inbound SMTP server (``chatdesk serve --smtp-port``), built on aiosmtpd.

It runs in the server's own event loop. Only one process can bind the port:
with several workers the first one that starts gets it and the others keep
trying now and then, so the receiver comes back if that worker dies. It accepts
mail only for sites' support addresses and their sub-addresses (the reply
addresses), and answers 451 (try again later) when the desk cannot store a mail,
so the sending server keeps it and nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from chatdesk.errors import BadRequest, ChatdeskError, NotFound
from chatdesk.mail.inbound import MAX_MAIL_BYTES, Inbound

log = logging.getLogger(__name__)
# aiosmtpd logs every sender and recipient at INFO: addresses stay out of the logs.
logging.getLogger("mail.log").setLevel(logging.WARNING)

RETRY_BIND_S = 10.0


class _Handler:
    def __init__(self, inbound: Inbound) -> None:
        self._inbound = inbound

    # aiosmtpd calls hooks by these names.
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            ok = await self._inbound.accepts(address)
        except Exception:
            log.warning("cannot check a recipient", exc_info=True)
            return "451 4.3.0 Try again later"
        if not ok:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await self._inbound.deliver(
                raw, rcpts=list(envelope.rcpt_tos), mail_from=envelope.mail_from
            )
        except (BadRequest, NotFound) as exc:
            return f"550 5.6.0 {exc.detail[:200]}"
        except ChatdeskError as exc:
            log.warning("inbound mail not stored: %s", exc)
            return "451 4.3.0 Try again later"
        except Exception:
            log.exception("inbound mail failed")
            return "451 4.3.0 Try again later"
        return "250 2.0.0 Message accepted"


class Receiver:
    def __init__(self, inbound: Inbound, host: str, port: int) -> None:
        self._handler = _Handler(inbound)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._server is not None

    def _protocol(self) -> Any:
        return SMTP(
            self._handler,
            data_size_limit=MAX_MAIL_BYTES,
            enable_SMTPUTF8=True,
            hostname=self.host if self.host not in ("0.0.0.0", "::") else None,
        )

    async def _bind(self) -> bool:
        loop = asyncio.get_running_loop()
        try:
            # No SO_REUSEPORT: a second worker's bind fails and it leaves the port alone.
            self._server = await loop.create_server(
                self._protocol, self.host, self.port, reuse_port=False
            )
        except OSError:
            return False
        log.info("SMTP receiver listening on %s:%d", self.host, self.port)
        return True

    async def start(self) -> None:
        if not await self._bind():
            self._task = asyncio.create_task(self._keep_trying(), name="smtp-bind")

    async def _keep_trying(self) -> None:
        while True:
            await asyncio.sleep(RETRY_BIND_S)
            if await self._bind():
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
