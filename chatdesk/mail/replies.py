"""Cutting quoted history and signatures off a reply, behind one function.

The library doing it (mail-parser-reply, many languages) is used only here, so it
can be swapped for another without touching the rest of the channel.
"""

from __future__ import annotations

import logging

from mailparser_reply import EmailReplyParser

log = logging.getLogger(__name__)

LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
_parser = EmailReplyParser(languages=LANGUAGES)


def new_text(body: str) -> str:
    """What the sender wrote this time: no quoted earlier mails, no signature.

    Falls back to the whole text when the parser finds nothing or fails, so a reply
    is never lost to an over-eager cut.
    """
    text = body.replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        parsed = _parser.read(text=text)
        replies = parsed.replies
        latest = replies[0].body.strip() if replies else ""
        if not latest:
            latest = (parsed.latest_reply or "").strip()
    except Exception:  # a third-party parser must never cost us the mail
        log.warning("reply parser failed; keeping the whole text", exc_info=True)
        return text
    return latest or text
