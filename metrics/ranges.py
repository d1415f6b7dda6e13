"""Ranges and buckets of the wave-2 views (docs/metrics.md, "Ranges and buckets").

A range is a ``period`` ("today", "7d", "12w", "6m") or ``start``/``end`` local
dates, never both; neither means "30d". A range that includes today ends at the
request time. Buckets are local hours, days, ISO weeks (from Monday) or months of
the zone, clipped to the range, oldest first; a bucket's ``start`` is its first
instant inside the range (so a week bucket of a range starting on a Wednesday
starts on that Wednesday). Everything is computed here, in Python, with
``zoneinfo`` (DST days have 23 or 25 local hours; Kolkata and Kathmandu start
their hours at :30 and :45 UTC), and handed to the summaries as UTC instants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.clock import to_aware_utc, to_naive_utc
from core.errors import BadUserInput
from core.vocabulary import Comparison, Granularity
from metrics.windows import local_midnight

DEFAULT_PERIOD = "30d"
# A range of more buckets than this is refused: ask for a coarser granularity.
MAX_BUCKETS = 1_500
_PERIOD = re.compile(r"([1-9][0-9]{0,3})([dwm])")
# Every zone offset in use is a multiple of 15 minutes (Kathmandu's +05:45 too).
_QUARTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Range:
    """``[start, end)`` in aware UTC, the local dates it covers, and its zone."""

    start: datetime
    end: datetime
    first_day: date  # the local date of ``start``
    last_day: date  # the local date the range ends in (``end`` exclusive)
    zone: ZoneInfo
    period: str | None  # as asked ("30d" when neither period nor dates were given)

    @property
    def naive(self) -> tuple[datetime, datetime]:
        return to_naive_utc(self.start), to_naive_utc(self.end)


def _months_back(day: date, months: int) -> date:
    """The 1st of the month ``months`` before ``day``'s."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _one_year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _range(first: date, last: date, zone: ZoneInfo, now: datetime, period: str | None) -> Range:
    """00:00 of ``first`` to 24:00 of ``last`` in ``zone``, ending at ``now`` if that is sooner."""
    start = local_midnight(first, zone)
    end = min(local_midnight(last + timedelta(days=1), zone), now)
    if end <= start:  # the range lies wholly after now
        end = start
    return Range(start, end, first, last, zone, period)


def parse_range(
    period: str | None,
    start: date | None,
    end: date | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    retention_days: int,
) -> Range:
    """The range a view asked for (``BAD_USER_INPUT`` for a malformed or too long one)."""
    now = to_aware_utc(now)
    today = now.astimezone(zone).date()
    earliest = today - timedelta(days=retention_days)
    if period is not None and (start is not None or end is not None):
        raise BadUserInput("give period or start/end dates, not both", field="period")
    if start is None and end is None:
        period = DEFAULT_PERIOD if period is None else period
        if period == "today":
            first = today
        else:
            found = _PERIOD.fullmatch(period)
            if found is None:
                raise BadUserInput(
                    'period must be "today", or N followed by d, w or m ("7d", "12w", "6m")',
                    field="period",
                )
            count, unit = int(found[1]), found[2]
            if unit == "m":
                first = _months_back(today, count - 1)
            else:
                first = today - timedelta(days=count * (7 if unit == "w" else 1) - 1)
        if first < earliest:
            raise BadUserInput(
                f"period reaches back past {earliest}: at most {retention_days} days "
                "(EVENT_RETENTION_DAYS)",
                field="period",
            )
        return _range(first, today, zone, now, period)
    last = end if end is not None else today
    first = start if start is not None else last
    for name, day in (("start", first), ("end", last)):
        if not earliest <= day <= today + timedelta(days=retention_days):
            raise BadUserInput(
                f"{name} must be from {earliest} to {today + timedelta(days=retention_days)}: "
                f"within {retention_days} days of today (EVENT_RETENTION_DAYS)",
                field=name,
            )
    if first > last:
        raise BadUserInput("start must not be after end", field="start")
    return _range(first, last, zone, now, None)


def previous(window: Range, comparison: Comparison) -> Range:
    """The range ``window`` is compared with.

    PREVIOUS_PERIOD: as long, ending where ``window`` starts. PREVIOUS_YEAR: the
    same local dates a year earlier (29 February → 28), ending at the same local
    time of day when ``window`` ends at the request time.
    """
    if comparison is Comparison.PREVIOUS_PERIOD:
        length = window.end - window.start
        start = window.start - length
        zone = window.zone
        return replace(
            window,
            start=start,
            end=window.start,
            first_day=start.astimezone(zone).date(),
            last_day=(window.start - timedelta(microseconds=1)).astimezone(zone).date(),
        )
    first, last = _one_year_earlier(window.first_day), _one_year_earlier(window.last_day)
    start = local_midnight(first, window.zone)
    full_end = local_midnight(last + timedelta(days=1), window.zone)
    window_full_end = local_midnight(window.last_day + timedelta(days=1), window.zone)
    end = full_end
    if window.end < window_full_end:  # cut at the request time: cut at the same local time
        local_end = window.end.astimezone(window.zone)
        wall = datetime.combine(last, local_end.time(), tzinfo=window.zone)
        end = max(start, min(full_end, wall.astimezone(UTC)))
    return replace(window, start=start, end=end, first_day=first, last_day=last)


def _local_hours(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """Instants in ``[start, end)`` at which a local hour begins (aware UTC)."""
    found: list[datetime] = []
    moment = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    while moment < end:
        if moment >= start and moment.astimezone(zone).minute == 0:
            found.append(moment)
        moment += _QUARTER
        if len(found) > MAX_BUCKETS:
            break
    return found


def bucket_starts(window: Range, granularity: Granularity) -> list[datetime]:
    """Each bucket's first instant in the range (aware UTC), oldest first.

    The first bucket starts at the range's start; an empty range has no bucket.
    """
    if window.end <= window.start:
        return []
    zone = window.zone
    if granularity is Granularity.HOUR:
        starts = _local_hours(window.start, window.end, zone)
    else:
        days = [
            window.first_day + timedelta(days=n)
            for n in range((window.last_day - window.first_day).days + 1)
        ]
        if granularity is Granularity.WEEK:
            days = [day for day in days if day.weekday() == 0]
        elif granularity is Granularity.MONTH:
            days = [day for day in days if day.day == 1]
        starts = [local_midnight(day, zone) for day in days]
        starts = [moment for moment in starts if window.start <= moment < window.end]
    if not starts or starts[0] != window.start:
        starts.insert(0, window.start)
    if len(starts) > MAX_BUCKETS:
        raise BadUserInput(
            f"the range has more than {MAX_BUCKETS} {granularity.value.lower()} buckets: "
            "ask for a coarser granularity",
            field="granularity",
        )
    return starts


def boundaries(window: Range, granularity: Granularity) -> list[datetime]:
    """Bucket edges as the summaries take them: each bucket's start, then the end (naive UTC)."""
    starts = bucket_starts(window, granularity)
    return [to_naive_utc(moment) for moment in (*starts, window.end)] if starts else []
