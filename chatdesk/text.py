"""What every piece of text from outside must be: no NUL, no lone surrogates, bounded."""

from __future__ import annotations

from typing import Any

from chatdesk.errors import BadRequest


def check_text(name: str, value: str, max_chars: int, min_chars: int = 0) -> str:
    if "\x00" in value:
        raise BadRequest(f"'{name}' must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"'{name}' must be valid Unicode text (no lone surrogates)") from None
    if len(value) > max_chars:
        raise BadRequest(f"'{name}' is longer than {max_chars} characters")
    if len(value) < min_chars:
        raise BadRequest(f"'{name}' must have at least {min_chars} character(s)")
    return value


def check_tree(value: Any, name: str = "body", depth: int = 0) -> None:
    """Every string anywhere in a decoded JSON document is clean text (and it is not deep)."""
    if depth > 32:
        raise BadRequest("the body is nested too deeply")
    if isinstance(value, str):
        check_text(name, value, 10**6)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(name, key, 200)
            check_tree(item, key, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_tree(item, name, depth + 1)
