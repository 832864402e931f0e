"""A site's business hours: checked when an admin sets them, asked "open now?" per visitor.

``{"timezone": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]], ...}}``; a day
left out is closed all day, ``None`` means always open. Times are the site's wall
clock (zoneinfo), so daylight-saving changes need no care from the admin.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatdesk.errors import BadRequest

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SPANS_PER_DAY = 8
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _minutes(value: Any) -> int:
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise BadRequest(f"a time of day is 'HH:MM' from 00:00 to 24:00, got {str(value)[:20]!r}")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _zone(name: Any) -> ZoneInfo:
    if not isinstance(name, str) or not name or len(name) > 64 or "\x00" in name:
        raise BadRequest("'business_hours.timezone' is an IANA name like 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"unknown time zone {name!r}") from None


def check(value: Any) -> dict[str, Any] | None:
    """The stored form of an admin's business hours; bad_request for anything else."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("'business_hours' is null or {timezone, days}")
    unknown = set(value) - {"timezone", "days"}
    if unknown:
        raise BadRequest(f"'business_hours' has no field {sorted(unknown)[0]!r}")
    _zone(value.get("timezone"))
    days = value.get("days")
    if not isinstance(days, dict):
        raise BadRequest("'business_hours.days' maps mon..sun to [[start, end]] spans")
    out: dict[str, list[list[str]]] = {}
    for day, spans in days.items():
        if day not in DAYS:
            raise BadRequest(f"'business_hours.days' keys are {', '.join(DAYS)}; got {day!r}")
        if not isinstance(spans, list) or len(spans) > MAX_SPANS_PER_DAY:
            raise BadRequest(f"'{day}' is a list of at most {MAX_SPANS_PER_DAY} [start, end] spans")
        kept: list[list[str]] = []
        for span in spans:
            if not isinstance(span, list) or len(span) != 2:
                raise BadRequest(f"a span of '{day}' is [start, end], like ['09:00', '17:00']")
            if _minutes(span[0]) >= _minutes(span[1]):
                raise BadRequest(f"a span of '{day}' must end after it starts")
            kept.append([span[0], span[1]])
        out[day] = kept
    return {"timezone": value["timezone"], "days": out}


def open_at(hours: dict[str, Any] | None, when: datetime | None = None) -> bool:
    """Whether ``when`` (default now) falls in one of the site's spans; no hours: open."""
    if not hours:
        return True
    try:
        zone = ZoneInfo(hours["timezone"])
    except (ZoneInfoNotFoundError, ValueError, KeyError, TypeError):
        return True  # stored hours were checked; a vanished zone must not close the desk
    local = (when or datetime.now(UTC)).astimezone(zone)
    spans = (hours.get("days") or {}).get(DAYS[local.weekday()]) or []
    now = local.hour * 60 + local.minute
    return any(_minutes(start) <= now < _minutes(end) for start, end in spans)
