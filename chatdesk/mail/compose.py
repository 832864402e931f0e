"""Building the mails chatdesk sends, with the standard library's ``email`` package.

Every mail has a plain-text part and an HTML part made from the same lines, all
text escaped; it carries ``X-Chatdesk-Mail`` and ``Auto-Submitted`` so that our
own mails coming back, and autoresponders answering them, are recognised as loops.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

LOOP_HEADER = "X-Chatdesk-Mail"

INTROS = {
    "reply": "You have a new reply about “{subject}”:",
    "final": "Your request “{subject}” has been solved. If anything is still open, "
    "simply reply to this e-mail.",
    "pending": "We are waiting for your answer about “{subject}”. Simply reply to this e-mail.",
    "transcript": "Here is the transcript of your conversation “{subject}”.",
}


@dataclass(frozen=True, slots=True)
class Line:
    """One message shown in a mail: who wrote it, when, and what."""

    author: str
    at: datetime
    body: str
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a mail is from and to, and how it threads."""

    sender: str  # the From header: "Name <addr>" or an address
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = field(default_factory=tuple)


def one_line(text: str, limit: int = 200) -> str:
    """Header-safe text: no line breaks (they would let text forge headers)."""
    return " ".join(text.split())[:limit]


def new_message_id(domain: str) -> str:
    return make_msgid("chatdesk", domain=domain)


def _base(envelope: Envelope, subject: str, message_id: str, kind: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = envelope.sender
    msg["To"] = ", ".join(envelope.to)
    if envelope.cc:
        msg["Cc"] = ", ".join(envelope.cc)
    if envelope.reply_to:
        msg["Reply-To"] = envelope.reply_to
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = message_id
    if envelope.in_reply_to:
        msg["In-Reply-To"] = envelope.in_reply_to
    if envelope.references:
        msg["References"] = " ".join(envelope.references)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = kind
    return msg


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def conversation(
    envelope: Envelope,
    *,
    kind: str,
    site_name: str,
    subject: str,
    topic: str,
    lines: list[Line],
    message_id: str,
) -> EmailMessage:
    """A ticket mail: an intro for its kind about ``topic``, then each message."""
    intro = INTROS.get(kind, INTROS["reply"]).format(subject=one_line(topic, 120))
    text = [intro, ""]
    parts = [f"<p>{html.escape(intro)}</p>"]
    for line in lines:
        head = f"{line.author}, {_when(line.at)}"
        files = "".join(f"<div>[attachment: {html.escape(n)}]</div>" for n in line.files)
        parts.append(
            f'<div style="margin:1em 0"><div style="color:#666;font-size:90%">'
            f"{html.escape(head)}</div>"
            f'<div style="white-space:pre-wrap">{html.escape(line.body)}</div>{files}</div>'
        )
        text += [f"— {head}", line.body, *(f"[attachment: {n}]" for n in line.files), ""]
    footer = site_name if kind == "transcript" else f"{site_name} · reply to this e-mail to answer"
    text += ["-- ", footer]
    parts.append(f'<hr><p style="color:#666">{html.escape(footer)}</p>')
    msg = _base(envelope, subject, message_id, kind)
    _bodies(msg, "\n".join(text), "\n".join(parts), site_name)
    return msg


def system(envelope: Envelope, subject: str, text: str, message_id: str) -> EmailMessage:
    """A mail of the desk itself (invitations, password resets): text as given."""
    msg = _base(envelope, subject, message_id, "system")
    body = f'<div style="white-space:pre-wrap">{html.escape(text)}</div>'
    _bodies(msg, text, body, None)
    return msg


def _bodies(msg: EmailMessage, text: str, body_html: str, title: str | None) -> None:
    # Quoted-printable keeps the stored message 7-bit clean whatever the language.
    msg.set_content(text + "\n", cte="quoted-printable")
    head = f"<title>{html.escape(title)}</title>" if title else ""
    page = (
        f'<!doctype html><html><head><meta charset="utf-8">{head}</head>'
        f"<body>{body_html}</body></html>"
    )
    msg.add_alternative(page, subtype="html", cte="quoted-printable")


def sender_header(name: str, address: str) -> str:
    """``Site name <addr>`` with the name encoded as the standard wants."""
    local, _, domain = address.partition("@")
    return str(Address(display_name=one_line(name, 100), username=local, domain=domain))
