"""Time windows of docs/metrics.md "Windows and days", computed once per request.

Day boundaries are computed here, in Python, with ``zoneinfo`` (DST- and
half-hour-zone-correct), and handed to pipelines as UTC instants: mongomock has
no ``timezone`` in ``$dateToString`` and no ``$dateTrunc``, so pipelines bucket
days with ``$bucket`` on these boundaries, which MongoDB and mongomock both run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core.clock import to_aware_utc, to_naive_utc
from core.errors import BadUserInput

DASHBOARD_DAYS = 7
FUNNEL_DEFAULT_DAYS = 30
RETENTION_DAYS = 90


class Bounded(Protocol):
    """Any range of UTC instants: ``[start, end)``, aware."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant (aware) at which ``day`` begins in ``zone``.

    A midnight skipped by a DST change maps, via fold=0, to the first instant
    that exists that day.
    """
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DayWindow:
    """Consecutive calendar days in a zone, with each day's starting instant."""

    start: datetime  # aware UTC, inclusive
    end: datetime  # aware UTC, exclusive
    days: tuple[date, ...]
    day_starts: tuple[datetime, ...]  # aware UTC, one per day

    @property
    def match_range(self) -> dict[str, datetime]:
        """``createdAt`` bounds for a ``$match`` (naive UTC, as stored)."""
        return {"$gte": to_naive_utc(self.start), "$lt": to_naive_utc(self.end)}

    @property
    def bucket_boundaries(self) -> list[datetime]:
        """``$bucket`` boundaries: each day's start, then the window end (naive UTC).

        Bucket ``i`` (``_id`` = ``bucket_boundaries[i]``) is ``days[i]``. The
        last boundary is the window's end, so every matched event has a bucket.
        """
        return [to_naive_utc(moment) for moment in (*self.day_starts, self.end)]

    def day_of_bucket(self, bucket_id: datetime) -> date:
        return self.days[self.bucket_boundaries.index(bucket_id)]


def _day_window(first: date, last: date, zone: ZoneInfo, end: datetime) -> DayWindow:
    days = tuple(first + timedelta(days=offset) for offset in range((last - first).days + 1))
    starts = tuple(local_midnight(day, zone) for day in days)
    return DayWindow(start=starts[0], end=end, days=days, day_starts=starts)


def dashboard_window(now: datetime, zone: ZoneInfo) -> DayWindow:
    """00:00 of (today − 6 days) in ``zone`` to ``now``: seven days, today included."""
    now = to_aware_utc(now)
    today = now.astimezone(zone).date()
    return _day_window(today - timedelta(days=DASHBOARD_DAYS - 1), today, zone, now)


def funnel_window(
    start: date | None, end: date | None, now: datetime, zone: ZoneInfo, *, retention_days: int
) -> DayWindow:
    """00:00 of ``start`` to 24:00 of ``end`` in ``zone``; defaults: the 30 days to today.

    Dates lie within ``retention_days`` of today (either side: no event outside can
    exist, and far-out dates have no local midnight a datetime can hold), and the
    range spans at most ``retention_days`` days: what retention keeps.
    """
    today = to_aware_utc(now).astimezone(zone).date()
    earliest, latest = (
        today - timedelta(days=retention_days),
        today + timedelta(days=retention_days),
    )
    for name, day in (("start", start), ("end", end)):
        if day is not None and not earliest <= day <= latest:
            raise BadUserInput(
                f"{name} must be from {earliest} to {latest}: within "
                f"{retention_days} days of today (EVENT_RETENTION_DAYS)",
                field=name,
            )
    last = end or today
    first = start or last - timedelta(days=FUNNEL_DEFAULT_DAYS - 1)
    if first > last:
        raise BadUserInput("start must not be after end", field="start")
    if (last - first).days + 1 > retention_days:
        raise BadUserInput(
            f"a range spans at most {retention_days} days (EVENT_RETENTION_DAYS)", field="start"
        )
    return _day_window(first, last, zone, local_midnight(last + timedelta(days=1), zone))


@dataclass(frozen=True, slots=True)
class Rolling:
    """The ``hours`` before ``end`` (rolling windows of retention, RFM and alerts)."""

    start: datetime  # aware UTC, inclusive
    end: datetime  # aware UTC, exclusive

    @property
    def match_range(self) -> dict[str, datetime]:
        return {"$gte": to_naive_utc(self.start), "$lt": to_naive_utc(self.end)}


def rolling(now: datetime, *, hours: int) -> Rolling:
    end = to_aware_utc(now)
    return Rolling(start=end - timedelta(hours=hours), end=end)
