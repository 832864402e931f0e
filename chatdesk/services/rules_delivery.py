"""Sending webhook deliveries: signed POSTs, retried with exponential backoff.

Each process runs one sender. A delivery is sent by whoever claims it first: the
claim is an UPDATE that only succeeds while nobody holds the row's lease, so two
processes never post the same attempt. A lease outlives the 10 s timeout by far;
one left by a crashed process runs out and the delivery is taken up again.

Signature (contract section 9): ``X-Chatdesk-Signature: sha256=HEX`` with HEX the
HMAC-SHA256 under the webhook's secret of ``TIMESTAMP + "." + raw body``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import time
from datetime import datetime, timedelta

import httpx
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.store.models import utcnow
from chatdesk.store.models_rules import Webhook, WebhookDelivery

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
LEASE_S = 60.0
MAX_BACKOFF_S = 3600.0
IDLE_POLL_S = 2.0  # also picks up rows whose lease ran out, or queued by a stopped process
MIN_SLEEP_S = 0.2  # between passes even when something looks due (it may be in flight)
CLAIM_BATCH = 50
IN_FLIGHT = 16


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    """Waiting for an attempt, of an active webhook, and nobody's lease on it."""
    return [
        Webhook.active.is_(True),
        WebhookDelivery.delivered_at.is_(None),
        WebhookDelivery.next_attempt_at.is_not(None),
        or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
    ]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def backoff_s(base_s: float, attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: base, 2x, 4x..."""
    return min(base_s * 2 ** max(0, attempts - 1), MAX_BACKOFF_S)


class Sender:
    def __init__(
        self,
        reads: async_sessionmaker[AsyncSession],
        writes: async_sessionmaker[AsyncSession],
        backoff_base_s: float,
        max_attempts: int,
    ) -> None:
        self._reads = reads
        self._writes = writes
        self._base = backoff_base_s
        self._max = max_attempts
        self._me = os.urandom(8).hex()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self.attempts = 0

    def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)
        self._task = asyncio.create_task(self._loop(), name="webhook-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._sending):
            task.cancel()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            idle = IDLE_POLL_S
            try:
                await self._pass()
                idle = await self._idle_s()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away: keep the loop, try again later
                log.exception("webhook pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle)

    async def _idle_s(self) -> float:
        """Sleep until the next retry falls due, but never longer than the idle poll."""
        now = utcnow()
        async with self._reads() as session:
            due = await session.scalar(
                select(WebhookDelivery.next_attempt_at)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(*_claimable(now))
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(1)
            )
        if due is None:
            return IDLE_POLL_S
        if due.tzinfo is None:
            due = due.replace(tzinfo=now.tzinfo)
        return max(MIN_SLEEP_S, min(IDLE_POLL_S, (due - now).total_seconds()))

    async def _pass(self) -> None:
        now = utcnow()
        async with self._reads() as session:
            due = list(
                (
                    await session.execute(
                        select(WebhookDelivery.id)
                        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                        .where(*_claimable(now), WebhookDelivery.next_attempt_at <= now)
                        .order_by(WebhookDelivery.next_attempt_at)
                        .limit(CLAIM_BATCH)
                    )
                ).scalars()
            )
        for delivery_id in due:
            await self._slots.acquire()
            try:
                claimed = await self._claim(delivery_id)
            except BaseException:
                self._slots.release()
                raise
            if not claimed:
                self._slots.release()
                continue
            task = asyncio.create_task(self._send(delivery_id))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _claim(self, delivery_id: str) -> bool:
        now = utcnow()
        async with self._writes() as session, session.begin():
            result = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.delivered_at.is_(None),
                    WebhookDelivery.next_attempt_at <= now,
                    or_(
                        WebhookDelivery.claimed_until.is_(None),
                        WebhookDelivery.claimed_until < now,
                    ),
                )
                .values(claimed_by=self._me, claimed_until=now + timedelta(seconds=LEASE_S))
            )
        return result.rowcount == 1

    async def _send(self, delivery_id: str) -> None:
        try:
            async with self._reads() as session:
                row = (
                    await session.execute(
                        select(WebhookDelivery.body, Webhook.url, Webhook.secret)
                        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                        .where(WebhookDelivery.id == delivery_id)
                    )
                ).first()
            if row is None:
                return  # the webhook was deleted meanwhile
            status, error = await self._post(delivery_id, row.url, row.secret, row.body.encode())
            await self._record(delivery_id, status, error)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook delivery %s failed", delivery_id)
        finally:
            self._slots.release()

    async def _post(
        self, delivery_id: str, url: str, secret: str, body: bytes
    ) -> tuple[int | None, str | None]:
        assert self._client is not None
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "chatdesk-webhooks",
            "X-Chatdesk-Delivery": delivery_id,
            "X-Chatdesk-Timestamp": timestamp,
            "X-Chatdesk-Signature": signature(secret, timestamp, body),
        }
        self.attempts += 1
        try:
            # Streamed and never read: a receiver's answer body is of no interest.
            async with self._client.stream("POST", url, content=body, headers=headers) as answer:
                return answer.status_code, None
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:
            return None, type(exc).__name__

    async def _record(self, delivery_id: str, status: int | None, error: str | None) -> None:
        now = utcnow()
        delivered = status is not None and 200 <= status < 300
        async with self._writes() as session, session.begin():
            row = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if row is None or row.claimed_by != self._me:
                return  # deleted, or our lease ran out and another process took it
            row.attempts += 1
            row.last_status = status
            row.last_error = None if delivered else (error or f"HTTP {status}")
            row.claimed_by = None
            row.claimed_until = None
            if delivered:
                row.delivered_at = now
                row.next_attempt_at = None
            elif row.attempts >= self._max:
                row.next_attempt_at = None  # given up; the list shows the last status
            else:
                row.next_attempt_at = now + timedelta(seconds=backoff_s(self._base, row.attempts))
