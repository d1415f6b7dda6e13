"""Time: the one place that reads the wall clock, and the conversions around it.

Stored times are UTC. The storage layer works in *naive* UTC datetimes (what BSON
round-trips to), while the API speaks timezone-aware datetimes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import BadUserInput

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def to_naive_utc(moment: datetime) -> datetime:
    """The same instant as a naive UTC datetime (naive input is taken as UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def to_aware_utc(moment: datetime) -> datetime:
    """The same instant as an aware UTC datetime (naive input is taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_zone(name: str | None, *, field: str = "timezone") -> ZoneInfo:
    """The IANA zone named ``name`` (UTC when None); unknown names are BAD_USER_INPUT."""
    if name is None:
        return ZoneInfo("UTC")
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise BadUserInput(f"unknown time zone {name!r}", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadUserInput(f"unknown time zone {name!r}", field=field) from None
