"""The e-mail channel as a desk extension: ``desk.ext["mail"]``.

Outbound parts (outbox sender, offline replies, status mails, visitor presence)
run only when CHATDESK_SMTP_URL is set; inbound mail (the API and, with
CHATDESK_SMTP_PORT, the SMTP receiver) works either way.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from chatdesk.errors import BadRequest, NotFound, Unavailable
from chatdesk.mail.addresses import ReplyAddresses
from chatdesk.mail.compose import one_line
from chatdesk.mail.inbound import Inbound
from chatdesk.mail.notify import Notifier
from chatdesk.mail.outbound import Claimed, Sender, SmtpConfig
from chatdesk.mail.presence import VisitorPresence
from chatdesk.mail.receiver import Receiver
from chatdesk.mail.tickets import MailTickets
from chatdesk.services.agents import check_email

if TYPE_CHECKING:
    from chatdesk.desk import Desk

log = logging.getLogger(__name__)

MAX_SYSTEM_TEXT = 100_000


class MailExtension:
    name: ClassVar[str] = "mail"

    def __init__(self, desk: Desk) -> None:
        settings = desk.settings
        self.desk = desk
        self.replies = ReplyAddresses(settings.secret_key)
        self.tickets = MailTickets(desk.writer, desk.reads)
        self.inbound = Inbound(desk, self.replies, self.tickets)
        self.smtp = SmtpConfig.from_url(settings.smtp_url) if settings.smtp_url else None
        self.presence: VisitorPresence | None = None
        self.sender: Sender | None = None
        self.notifier: Notifier | None = None
        if self.smtp is not None:
            self.presence = VisitorPresence(desk.writes, settings.email_delay_s)
            self.sender = Sender(
                desk.reads, desk.writes, self.smtp, settings.email_retry_s, self._sent
            )
            self.notifier = Notifier(
                desk.writes,
                desk.reads,
                self.replies,
                settings.email_delay_s,
                self.presence.heartbeat_s,
                self.sender.wake,
            )
        self.receiver = (
            Receiver(self.inbound, settings.smtp_host, settings.smtp_port)
            if settings.smtp_port
            else None
        )

    async def start(self) -> None:
        if self.notifier is not None and self.sender is not None and self.presence is not None:
            self.desk.writer.after_commit.append(self.notifier.on_commit)
            self.presence.start()
            self.notifier.start()
            self.sender.start()
        if self.receiver is not None:
            await self.receiver.start()

    async def stop(self) -> None:
        if self.receiver is not None:
            await self.receiver.stop()
        if self.notifier is not None:
            if self.notifier.on_commit in self.desk.writer.after_commit:
                self.desk.writer.after_commit.remove(self.notifier.on_commit)
            await self.notifier.stop()
        if self.sender is not None:
            await self.sender.stop()
        if self.presence is not None:
            await self.presence.stop()

    async def _sent(self, mail: Claimed) -> None:
        await self.tickets.record_sent(mail)

    # ------------------------------------------------------------------ visitor channel hooks

    def visitor_connected(self, customer_id: int) -> None:
        if self.presence is not None:
            self.presence.connected(customer_id)

    def visitor_left(self, customer_id: int) -> None:
        if self.presence is not None:
            self.presence.left(customer_id)

    async def transcript(self, customer_id: int, email: str | None) -> None:
        """The visitor's `transcript` frame: their conversation, public messages only."""
        to = check_email(email) if email else None
        if self.notifier is None:
            raise Unavailable("this desk sends no e-mail (CHATDESK_SMTP_URL is not set)")
        ticket_id = await self.desk.tickets.current_ticket_id(customer_id)
        if ticket_id is None:
            raise NotFound("there is no conversation to send yet")
        await self.notifier.transcript(ticket_id, customer_id, to)

    # ------------------------------------------------------------------ for other features

    async def send_system_mail(self, to: str, subject: str, text: str) -> None:
        """Queue a mail of the desk itself (invitations, password resets).

        Queued like every mail, so an SMTP outage delays it and loses nothing; without
        CHATDESK_SMTP_URL it waits in the outbox until one is configured.
        """
        address = check_email(to)
        if not one_line(subject) or len(text) > MAX_SYSTEM_TEXT:
            raise BadRequest("a system mail needs a subject and at most 100000 characters")
        notifier = self.notifier or Notifier(
            self.desk.writes, self.desk.reads, self.replies, 0, 1, lambda: None
        )
        await notifier.system_mail(address, subject, text)
        if self.notifier is None:
            log.warning("a system mail was queued but CHATDESK_SMTP_URL is not set")

    async def receive(self, raw: bytes, site_id: int) -> dict[str, Any]:
        """``POST /api/v1/inbound/email``: one raw message for the site the secret named."""
        return await self.inbound.deliver(raw, site_id=site_id)
