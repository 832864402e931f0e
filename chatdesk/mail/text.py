"""The readable text of an incoming mail: its plain part, or its HTML part made plain.

Quoted history inside HTML (``<blockquote>``, Gmail's and Outlook's quote blocks)
is dropped here already; the reply parser then cuts what is quoted in plain text.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser

from chatdesk.mail.replies import new_text
from chatdesk.realtime.protocol import MAX_BODY_CHARS

_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr"}
_SKIP = {"script", "style", "head", "title", "blockquote"}
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote")


class _Plain(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip: list[str] = []  # open tags whose content is dropped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k in ("class", "id"))
        if self._skip or tag in _SKIP or any(q in classes for q in _QUOTE_CLASSES):
            if tag not in ("br", "hr", "img", "meta", "link", "input"):
                self._skip.append(tag)
            return
        if tag in _BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
            return
        if tag in _BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_text(source: str) -> str:
    parser = _Plain()
    parser.feed(source)
    parser.close()
    text = "".join(parser.out)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean(text: str) -> str:
    """Text the store accepts: no NUL, no lone surrogates, at most MAX_BODY_CHARS."""
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if len(text) > MAX_BODY_CHARS:
        text = text[: MAX_BODY_CHARS - 1] + "…"
    return text


def _content(part: EmailMessage) -> str:
    try:
        value = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError, KeyError):
        raw = part.get_payload(decode=True)
        value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    return value if isinstance(value, str) else ""


def body_of(msg: EmailMessage) -> str:
    """What the sender wrote this time, without quoted history and signature."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = _content(part)  # type: ignore[arg-type]
    if part.get_content_type() == "text/html":
        content = html_to_text(content)
    return clean(new_text(content))
