"""Tokens: random, at least 128 bits, stored only as hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def identity_hmac_ok(secret: str, external_id: str, given: str) -> bool:
    expected = hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())
