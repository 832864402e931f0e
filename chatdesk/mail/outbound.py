"""The outbox: mails queued in the database and sent by one process each, with retries.

Queuing is part of the caller's transaction, so a mail exists once what caused it
is committed. Every process runs a Sender; a due row is claimed by a conditional
UPDATE (status queued → sending with a lease), so exactly one process sends it.
A failed attempt is retried after CHATDESK_EMAIL_RETRY_S, doubling each time; an
SMTP outage only delays mail, and chats never wait on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.store.models import utcnow
from chatdesk.store.models_mail import FAILED, QUEUED, SENDING, MailOutbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
MAX_BACKOFF_S = 3600
LEASE_S = 180  # a claim not finished by then (the process died) is taken over
SMTP_TIMEOUT_S = 60
BATCH = 20


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where mail goes, from CHATDESK_SMTP_URL."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )

    async def send(self, sender: str, recipients: list[str], raw: bytes) -> dict[str, str]:
        """One SMTP transaction; STARTTLS when the server offers it (smtp://)."""
        errors, _ = await aiosmtplib.send(
            raw,
            sender=sender,
            recipients=recipients,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.implicit_tls,
            start_tls=None if not self.implicit_tls else False,
            timeout=SMTP_TIMEOUT_S,
        )
        return {address: str(reply) for address, reply in errors.items()}


def backoff_s(attempts: int, base_s: float) -> float:
    return min(base_s * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S)


async def enqueue(
    session: AsyncSession,
    *,
    ticket_id: int | None,
    kind: str,
    sender: str,
    recipients: list[str],
    message: EmailMessage,
    seqs: list[int],
) -> MailOutbox:
    """Queue one composed mail in the caller's transaction."""
    row = MailOutbox(
        ticket_id=ticket_id,
        kind=kind,
        sender=sender,
        recipients=recipients,
        message_id=str(message["Message-ID"]),
        raw=message.as_bytes(policy=policy.SMTP).decode("ascii", "surrogateescape"),
        seqs=seqs,
        status=QUEUED,
        attempts=0,
        next_try_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    ticket_id: int | None
    sender: str
    recipients: list[str]
    message_id: str
    raw: str
    seqs: list[int]
    attempts: int


OnSent = Callable[[Claimed], Awaitable[None]]


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(MailOutbox.status == QUEUED, MailOutbox.next_try_at <= now),
        and_(MailOutbox.status == SENDING, MailOutbox.lease_until < now),
    )


class Sender:
    """Sends due mails of the shared outbox; one per process, woken when mail is queued."""

    def __init__(
        self,
        reads: async_sessionmaker[AsyncSession],
        writes: async_sessionmaker[AsyncSession],
        smtp: SmtpConfig,
        retry_s: float,
        on_sent: OnSent,
    ) -> None:
        self._reads = reads
        self._writes = writes
        self._smtp = smtp
        self._retry_s = retry_s
        self._on_sent = on_sent
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Other processes queue mail too: look at the table this often anyway.
        self.poll_s = min(max(retry_s / 2, 0.5), 5.0)
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mail-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mail sender round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()

    async def run_once(self) -> int:
        """Claim and send what is due; returns how many were claimed."""
        claimed = await self._claim()
        for mail in claimed:
            await self._deliver(mail)
        return len(claimed)

    async def _claim(self) -> list[Claimed]:
        now = utcnow()
        async with self._reads() as session:
            ids = list(
                (
                    await session.execute(
                        select(MailOutbox.id)
                        .where(_due(now))
                        .order_by(MailOutbox.next_try_at)
                        .limit(BATCH)
                    )
                ).scalars()
            )
        if not ids:
            return []
        out: list[Claimed] = []
        async with self._writes() as session, session.begin():
            for mail_id in ids:
                # The condition is checked again under the row lock: one claimer wins.
                done = await session.execute(
                    update(MailOutbox)
                    .where(MailOutbox.id == mail_id, _due(now))
                    .values(
                        status=SENDING,
                        lease_until=now + timedelta(seconds=LEASE_S),
                        attempts=MailOutbox.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if done.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                row = (
                    await session.execute(
                        select(MailOutbox)
                        .where(MailOutbox.id == mail_id)
                        .execution_options(populate_existing=True)
                    )
                ).scalar_one()
                out.append(
                    Claimed(
                        row.id,
                        row.ticket_id,
                        row.sender,
                        list(row.recipients),
                        row.message_id,
                        row.raw,
                        list(row.seqs or []),
                        row.attempts,
                    )
                )
        return out

    async def _deliver(self, mail: Claimed) -> None:
        try:
            refused = await self._smtp.send(
                mail.sender, mail.recipients, mail.raw.encode("ascii", "surrogateescape")
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            permanent = all(r.code >= 500 for r in exc.recipients)
            codes = ", ".join(str(r.code) for r in exc.recipients)
            await self._failed(mail, f"recipients refused ({codes}): {exc}", permanent, codes)
            return
        except aiosmtplib.SMTPResponseException as exc:
            code = str(exc.code)
            await self._failed(mail, f"{code} {exc.message}", exc.code >= 500, code)
            return
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            kind = type(exc).__name__
            await self._failed(mail, f"{kind}: {exc}", False, kind)
            return
        if refused:  # addresses stay out of the log; the count is enough to look closer
            log.warning("mail %s: %d recipient(s) refused", mail.id, len(refused))
        self.sent += 1
        await self._on_sent(mail)

    async def _failed(self, mail: Claimed, error: str, permanent: bool, short: str) -> None:
        """Retry later, or give up; ``short`` is what the log may say (no addresses)."""
        give_up = permanent or mail.attempts >= MAX_ATTEMPTS
        delay = backoff_s(mail.attempts, self._retry_s)
        log.warning(
            "mail %s attempt %d failed (%s); %s",
            mail.id,
            mail.attempts,
            short,
            "giving up" if give_up else f"retrying in {delay:.0f} s",
        )
        async with self._writes() as session, session.begin():
            await session.execute(
                update(MailOutbox)
                .where(MailOutbox.id == mail.id)
                .values(
                    status=FAILED if give_up else QUEUED,
                    next_try_at=utcnow() + timedelta(seconds=delay),
                    lease_until=None,
                    last_error=error[:500],
                )
                .execution_options(synchronize_session=False)
            )
