"""Which ticket mails to send, and when: offline replies, status mails, transcripts.

The writer's after-commit hook hands over committed events. An agent's public
message on a chat ticket schedules an offline digest CHATDESK_EMAIL_DELAY_S later
(each further message pushes it on, so a run of messages makes one mail); when it
is due and the visitor has had no widget open for that long, every public message
they have neither read nor been mailed goes out in one mail. On an e-mail ticket
the message is mailed at once. Solving and pending send the site's status mails.
Composing locks the ticket's ``mail_threads`` row, so two processes never mail the
same messages twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatdesk.errors import BadRequest, NotFound
from chatdesk.mail import compose
from chatdesk.mail.addresses import ReplyAddresses, bare, domain_of
from chatdesk.mail.outbound import enqueue
from chatdesk.mail.presence import aware, gone_since
from chatdesk.mail.threads import lock_thread, schedule
from chatdesk.realtime.protocol import TicketEvent
from chatdesk.services import timeline
from chatdesk.store.models import Customer, Site, Ticket, utcnow
from chatdesk.store.models_mail import MailThread

log = logging.getLogger(__name__)

FALLBACK_SENDER = "chatdesk@localhost"
DUE_BATCH = 50


def _mailable(event: TicketEvent) -> bool:
    return event.kind == "message" and event.public and event.author.type != "visitor"


def _for_customer(ticket: Ticket) -> bool:
    """A ticket whose public messages may reach its customer (an internal one never does)."""
    return ticket.kind == "customer" and getattr(ticket, "visibility", "public") != "internal"


def _at(event: TicketEvent) -> datetime:
    return datetime.fromisoformat(event.at.replace("Z", "+00:00"))


def site_sender(site: Site) -> tuple[str, str] | None:
    """(From header, envelope address) of a site's mails; None when it has no address."""
    address = bare(site.support_address) or bare(site.email_from)
    if address is None:
        return None
    header = site.email_from or compose.sender_header(site.name, address)
    return header, address


class Notifier:
    def __init__(
        self,
        writes: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession],
        replies: ReplyAddresses,
        delay_s: float,
        heartbeat_s: float,
        queued: Callable[[], None],
    ) -> None:
        self._writes = writes
        self._reads = reads
        self._replies = replies
        self.delay_s = delay_s
        self._heartbeat_s = heartbeat_s
        self._queued = queued  # wakes the sender once a mail is committed
        self._inbox: asyncio.Queue[list[TicketEvent]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.poll_s = min(max(delay_s / 2, 0.25), 5.0)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._consume(), name="mail-events"),
            asyncio.create_task(self._due_loop(), name="mail-due"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def on_commit(self, events: list[TicketEvent]) -> None:
        """The writer's after-commit hook: keep what may cause mail, decide off its path."""
        wanted = [e for e in events if _mailable(e) or e.kind == "status"]
        if wanted:
            self._inbox.put_nowait(wanted)

    async def _consume(self) -> None:
        while True:
            events = await self._inbox.get()
            try:
                await self._handle(events)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deciding on ticket mail failed")

    async def _handle(self, events: list[TicketEvent]) -> None:
        by_ticket: dict[int, list[TicketEvent]] = {}
        for event in events:
            by_ticket.setdefault(event.ticket, []).append(event)
        for ticket_id, evs in by_ticket.items():
            moves = {e.fields.get("to") for e in evs if e.kind == "status"}
            async with self._reads() as session:
                ticket = await session.get(Ticket, ticket_id)
                if ticket is None or ticket.site_id is None or ticket.customer_id is None:
                    continue
                site = await session.get(Site, ticket.site_id)
                email = await session.scalar(
                    select(Customer.email).where(Customer.id == ticket.customer_id)
                )
            # Only customer tickets of a site that sends mail, of a customer with an address.
            if site is None or site_sender(site) is None or not email or not _for_customer(ticket):
                continue
            if "solved" in moves and ticket.status == "solved" and site.send_final_answer:
                if not getattr(ticket, "resolve_reason", None):  # resolved internally: silent
                    await self.flush(ticket_id, "final")
            elif "pending" in moves and ticket.status == "pending" and site.send_pending_reply:
                await self.flush(ticket_id, "pending")
            if not any(_mailable(e) for e in evs):
                continue
            if ticket.channel == "email":
                await self.flush(ticket_id, "reply")
            else:
                async with self._writes() as session, session.begin():
                    await schedule(session, ticket_id, utcnow() + timedelta(seconds=self.delay_s))

    async def _due_loop(self) -> None:
        while True:
            try:
                now = utcnow()
                async with self._reads() as session:
                    due = list(
                        (
                            await session.execute(
                                select(MailThread.ticket_id)
                                .where(MailThread.due_at <= now)
                                .order_by(MailThread.due_at)
                                .limit(DUE_BATCH)
                            )
                        ).scalars()
                    )
                for ticket_id in due:
                    await self.flush(ticket_id, "reply", due_only=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("offline replies round failed")
            await asyncio.sleep(self.poll_s)

    async def flush(self, ticket_id: int, kind: str, due_only: bool = False) -> bool:
        """Mail the ticket's customer what they have not seen; True when a mail was queued."""
        async with self._writes() as session, session.begin():
            thread = await lock_thread(session, ticket_id)
            now = utcnow()
            if due_only and (thread.due_at is None or aware(thread.due_at) > now):
                return False  # another process took it, or a new message pushed it on
            queued = await self._compose(session, thread, kind, now)
        if queued:
            self._queued()
        return queued

    async def _compose(
        self, session: AsyncSession, thread: MailThread, kind: str, now: datetime
    ) -> bool:
        ticket = await session.get(Ticket, thread.ticket_id, populate_existing=True)
        site = customer = None
        if ticket is not None and ticket.site_id is not None:
            site = await session.get(Site, ticket.site_id)
        if ticket is not None and ticket.customer_id is not None:
            customer = await session.get(Customer, ticket.customer_id)
        sender = site_sender(site) if site is not None else None
        if ticket is None or not _for_customer(ticket) or site is None or sender is None:
            thread.due_at = None
            return False
        if not (customer and customer.email):
            thread.due_at = None  # nobody to write to, or nothing to write from
            return False
        by_mail = ticket.channel == "email"
        if not by_mail:
            gone = await gone_since(session, customer.id, self._heartbeat_s)
            if gone is None:  # the widget is open: they see it live
                if kind == "reply":
                    thread.due_at = now + timedelta(seconds=self.delay_s)
                return False
            if kind == "reply" and gone > now - timedelta(seconds=self.delay_s):
                thread.due_at = gone + timedelta(seconds=self.delay_s)
                return False
        after = thread.mailed_seq if by_mail else max(thread.mailed_seq, ticket.visitor_read_seq)
        events = await timeline.events_between(
            session, ticket.id, after, ticket.last_seq, public_only=True
        )
        unseen = [e for e in events if _mailable(e)]
        if kind == "reply" and not unseen:
            thread.due_at = None
            return False
        message_id = compose.new_message_id(domain_of(sender[1]))
        recipients = [customer.email.lower(), *(a for a in (ticket.cc or []) if a)]
        recipients = list(dict.fromkeys(recipients))
        envelope = self._envelope(sender[0], recipients, thread, site, ticket.id)
        topic = ticket.subject or f"your conversation with {site.name}"
        msg = compose.conversation(
            envelope,
            kind=kind,
            site_name=site.name,
            subject=f"Re: {topic} [#{ticket.id}]",
            topic=topic,
            lines=[self._line(e, site) for e in unseen],
            message_id=message_id,
        )
        seqs = [e.seq for e in unseen]
        await enqueue(
            session,
            ticket_id=ticket.id,
            kind=kind,
            sender=sender[1],
            recipients=recipients,
            message=msg,
            seqs=seqs,
        )
        thread.mailed_seq = max(thread.mailed_seq, ticket.last_seq)
        thread.due_at = None
        thread.last_outbound_id = message_id
        return True

    def _envelope(
        self, sender: str, recipients: list[str], thread: MailThread, site: Site, ticket_id: int
    ) -> compose.Envelope:
        refs = tuple(r for r in (thread.last_outbound_id, thread.last_inbound_id) if r)
        support = bare(site.support_address)
        return compose.Envelope(
            sender=sender,
            to=(recipients[0],),
            cc=tuple(recipients[1:]),
            reply_to=self._replies.make(ticket_id, support) if support else None,
            in_reply_to=thread.last_inbound_id or thread.last_outbound_id,
            references=refs,
        )

    @staticmethod
    def _line(event: TicketEvent, site: Site, visitor: str = "You") -> compose.Line:
        author = event.author
        name = {"agent": author.name, "system": site.name}.get(author.type, visitor)
        files = tuple(str(a.get("filename", "file")) for a in event.fields.get("attachments") or [])
        return compose.Line(name, _at(event), str(event.fields.get("body", "")), files)

    # ------------------------------------------------------------------ on request

    async def transcript(self, ticket_id: int, customer_id: int, to: str | None) -> None:
        """The public messages of the ticket, mailed to ``to`` or the customer's address."""
        async with self._writes() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id)
            customer = await session.get(Customer, customer_id)
            if (
                ticket is None
                or customer is None
                or ticket.customer_id != customer_id
                or not _for_customer(ticket)
            ):
                raise NotFound("there is no conversation to send yet")
            address = to or customer.email
            if not address:
                raise BadRequest("give 'email': we have no address for you yet")
            site = await session.get(Site, ticket.site_id) if ticket.site_id else None
            sender = site_sender(site) if site is not None else None
            if site is None or sender is None:
                raise BadRequest("this site sends no e-mail")
            events = await timeline.events_between(
                session, ticket.id, 0, ticket.last_seq, public_only=True
            )
            lines = [
                self._line(e, site, customer.name or "You") for e in events if e.kind == "message"
            ]
            message_id = compose.new_message_id(domain_of(sender[1]))
            topic = ticket.subject or f"your conversation with {site.name}"
            msg = compose.conversation(
                compose.Envelope(sender=sender[0], to=(address,)),
                kind="transcript",
                site_name=site.name,
                subject=f"Transcript: {topic} [#{ticket.id}]",
                topic=topic,
                lines=lines,
                message_id=message_id,
            )
            await enqueue(
                session,
                ticket_id=ticket.id,
                kind="transcript",
                sender=sender[1],
                recipients=[address],
                message=msg,
                seqs=[e.seq for e in events if e.kind == "message"],
            )
        self._queued()

    async def system_mail(self, to: str, subject: str, text: str) -> None:
        async with self._writes() as session, session.begin():
            sites = (await session.execute(select(Site).order_by(Site.id))).scalars()
            pair = next((p for p in map(site_sender, sites) if p is not None), None)
            header, address = pair or (FALLBACK_SENDER, FALLBACK_SENDER)
            msg = compose.system(
                compose.Envelope(sender=header, to=(to,)),
                subject,
                text,
                compose.new_message_id(domain_of(address)),
            )
            await enqueue(
                session,
                ticket_id=None,
                kind="system",
                sender=address,
                recipients=[to],
                message=msg,
                seqs=[],
            )
        self._queued()
