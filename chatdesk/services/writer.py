"""The write path: one writer task per process that commits waiting operations together.

Per-message commits cap a process near a thousand messages a second; here every
operation waiting when the writer wakes shares one transaction, and whatever the
operations want published goes to the broker only after that commit, in order,
off the callers' path.

An operation is an async function of a session returning an Outcome. It must
raise a ChatdeskError *before* it writes if it refuses; even so, when one refuses
the whole batch is rolled back and run again without it, so nothing it did half
way is ever committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import BadRequest, ChatdeskError, Conflict, Unavailable
from chatdesk.realtime.protocol import TicketEvent
from chatdesk.services.prefetch import Hint, prefetch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What an operation hands back: the caller's value and what to publish after commit."""

    value: Any = None
    publish: list[bytes] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)


Operation = Callable[[AsyncSession], Awaitable[Outcome]]
# Called in this process, once, with the events a batch committed (rules, mail, webhooks).
AfterCommit = Callable[[list[TicketEvent]], None]
Publish = Callable[[Sequence[bytes]], None]
# session.info keys: set while a writer transaction runs; messages that what the
# transaction wrote at commit time (notifications) wants published after it.
IN_WRITER = "chatdesk.in_writer"
PUBLISH_AFTER = "chatdesk.publish_after_commit"


@dataclass(slots=True)
class _Item:
    op: Operation
    key: int
    future: asyncio.Future[Any]
    hint: Hint | None = None


class _Refused(Exception):
    def __init__(self, item: _Item, error: BaseException) -> None:
        self.item = item
        self.error = error


def _unreachable(exc: DBAPIError) -> bool:
    """A lost or refused connection, rather than a statement the database refused."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError | InterfaceError)


def _is_retryable(exc: DBAPIError) -> bool:
    """PostgreSQL deadlocks and serialisation failures succeed when simply run again."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in {"40P01", "40001"}


class Writer:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], publish: Publish, batch_max: int = 256
    ) -> None:
        self._sessions = sessions
        self._publish = publish
        self._batch_max = batch_max
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.operations = 0
        self.after_commit: list[AfterCommit] = []
        # Told (operations, seconds) after each committed batch, for the metrics.
        self.on_batch: Callable[[int, float], None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="chatdesk-writer")

    @property
    def waiting(self) -> int:
        """Operations queued for the next batches."""
        return self._queue.qsize()

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run(self, op: Operation, key: int = 0, hint: Hint | None = None) -> Any:
        """Run one operation in the next batch; returns its value once committed.

        ``key`` (a ticket id) orders operations within a batch so concurrent batches
        of several processes lock tickets in the same order and cannot deadlock.
        ``hint`` names what the operation will read, so the batch reads it for all
        its operations at once (see ``prefetch``).
        """
        if self._task is None:
            raise Unavailable("the server is shutting down")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(op, key, future, hint))
        return await future

    async def _loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._execute(batch)
            except Exception as exc:  # never let the writer die: fail the batch instead
                log.exception("writer batch failed")
                for item in batch:
                    if not item.future.done():
                        error = Unavailable(f"write failed: {type(exc).__name__}")
                        item.future.set_exception(error)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _execute(self, batch: list[_Item]) -> None:
        pending = sorted(batch, key=lambda i: i.key)
        retries = 0
        collisions = 0
        # Optimistic first: the batch does not look up its client_msg_ids (a resent
        # message is rare) and the unique index catches a resend; then it runs again,
        # careful, and the resent operation answers with the stored event's seq.
        careful = False
        started = time.perf_counter()
        while pending:
            live = [i for i in pending if not i.future.cancelled()]
            if not live:
                return
            try:
                outcomes, after = await self._transaction(live, careful)
            except _Refused as refused:
                # The caller may have gone (its socket closed) while the batch ran.
                if not refused.item.future.done():
                    refused.item.future.set_exception(refused.error)
                pending = [i for i in live if i is not refused.item]
                continue
            except IntegrityError:
                if not careful:
                    careful = True
                    continue
                if len(live) == 1 and collisions < 2:
                    # Most often the same client_msg_id sent at once through two
                    # processes (a retry on a new socket): run again, and the
                    # operation finds the other's row and answers with its seq.
                    collisions += 1
                    continue
                if len(live) == 1:
                    if not live[0].future.done():
                        live[0].future.set_exception(
                            Conflict("the change collided with a concurrent one; retry")
                        )
                    return
                # Run each alone so one collision cannot fail its neighbours.
                for item in live:
                    await self._execute([item])
                return
            except DBAPIError as exc:
                if _is_retryable(exc) and retries < 5:
                    retries += 1
                    await asyncio.sleep(0.005 * retries)
                    continue
                if _unreachable(exc):
                    self._fail(live, exc)
                    return
                # The database refused one operation's values: find it, alone.
                if len(live) == 1:
                    if not live[0].future.done():
                        log.warning("the store refused a write: %s", type(exc.orig).__name__)
                        live[0].future.set_exception(
                            BadRequest("the store refused a value of this request")
                        )
                    return
                for item in live:
                    await self._execute([item])
                return
            except (OSError, ConnectionError, TimeoutError) as exc:
                self._fail(live, exc)
                return
            published: list[bytes] = []
            committed: list[TicketEvent] = []
            for item, outcome in zip(live, outcomes, strict=True):
                if not item.future.done():
                    item.future.set_result(outcome.value)
                published.extend(outcome.publish)
                committed.extend(outcome.events)
            self.batches += 1
            self.operations += len(live)
            if self.on_batch is not None:
                self.on_batch(len(live), time.perf_counter() - started)
            published.extend(after)
            if published:
                self._publish(published)
            if committed:
                for hook in self.after_commit:
                    try:
                        hook(committed)
                    except Exception:
                        log.exception("after-commit hook failed")
            return

    def _fail(self, items: list[_Item], exc: BaseException) -> None:
        log.warning("database write failed: %s", type(exc).__name__)
        error = Unavailable("the database is unavailable; retry")
        for item in items:
            if not item.future.done():
                item.future.set_exception(error)

    async def _transaction(
        self, items: list[_Item], careful: bool
    ) -> tuple[list[Outcome], list[bytes]]:
        outcomes: list[Outcome] = []
        async with self._sessions() as session:
            info = session.sync_session.info
            async with session.begin():
                info[IN_WRITER] = True
                hints = [i.hint for i in items if i.hint is not None]
                await prefetch(session, hints, look_up_sent=careful)
                for item in items:
                    try:
                        outcomes.append(await item.op(session))
                    except ChatdeskError as exc:
                        raise _Refused(item, exc) from None
                    except (DBAPIError, OSError, ConnectionError, TimeoutError):
                        raise
                    except Exception as exc:
                        log.exception("operation failed")
                        error = Unavailable(f"internal error: {type(exc).__name__}")
                        raise _Refused(item, error) from exc
            return outcomes, info.pop(PUBLISH_AFTER, [])


__all__ = ["IN_WRITER", "PUBLISH_AFTER", "Operation", "Outcome", "Writer"]
