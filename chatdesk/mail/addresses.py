"""Reply addresses that carry their ticket, signed so nobody can write into another's.

A ticket's mails answer to ``<local>+<ticket>.<mac>@<domain>`` (sub-addressing of the
site's support address, so one mailbox receives them all). The MAC is an HMAC of the
ticket id under a key derived from CHATDESK_SECRET_KEY; an address with a wrong MAC
names no ticket and its mail is treated like one to the support address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr

MAC_CHARS = 20  # 80 bits of hex: unguessable, and short enough for a local part
_REPLY = re.compile(
    r"^(?P<local>[^+@\s]+)\+(?P<ticket>\d{1,10})\.(?P<mac>[0-9a-f]+)@(?P<domain>\S+)$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """What a recipient address says: the ticket it names (when signed) or nothing."""

    ticket: int | None
    forged: bool


class ReplyAddresses:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"chatdesk-mail-reply:" + secret_key.encode()).digest()

    def _mac(self, ticket_id: int) -> str:
        digest = hmac.new(self._key, f"ticket:{ticket_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:MAC_CHARS]

    def make(self, ticket_id: int, support_address: str) -> str:
        local, _, domain = support_address.partition("@")
        return f"{local}+{ticket_id}.{self._mac(ticket_id)}@{domain}"

    def read(self, address: str) -> ReplyTarget:
        found = _REPLY.match(address.strip().lower())
        if found is None:
            return ReplyTarget(None, False)
        ticket_id = int(found.group("ticket"))
        if ticket_id >= 2**31 or not hmac.compare_digest(self._mac(ticket_id), found["mac"]):
            return ReplyTarget(None, True)
        return ReplyTarget(ticket_id, False)


def base_address(address: str) -> str:
    """``help+anything@x`` → ``help@x``: the mailbox a sub-address belongs to."""
    local, _, domain = address.strip().lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def bare(value: str | None) -> str | None:
    """The lower-cased address of a header value like ``Kim <kim@example.com>``."""
    if not value:
        return None
    _, address = parseaddr(value)
    address = address.strip().lower()
    if not address or len(address) > 320 or not _EMAIL.match(address):
        return None
    return address


def addresses(values: list[str]) -> list[str]:
    """Every valid address in some header values, lower-cased, each once, in order."""
    out: list[str] = []
    for _, address in getaddresses(values):
        clean = bare(address)
        if clean is not None and clean not in out:
            out.append(clean)
    return out


def domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"
