"""metrics.ranges: periods, dates, buckets in zones (DST, :30 and :45 offsets), comparisons."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.errors import BadUserInput
from core.vocabulary import Comparison, Granularity
from metrics.ranges import Range, bucket_starts, parse_range, previous

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)  # a Monday
UTC_ZONE = ZoneInfo("UTC")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def asked(
    period: str | None = None,
    start: date | None = None,
    end: date | None = None,
    zone: str = "UTC",
    now: datetime = NOW,
) -> Range:
    return parse_range(period, start, end, now=now, zone=ZoneInfo(zone), retention_days=365)


@pytest.mark.parametrize(
    ("period", "start"),
    [
        ("today", utc(2026, 6, 15)),
        ("1d", utc(2026, 6, 15)),
        ("7d", utc(2026, 6, 9)),
        ("2w", utc(2026, 6, 2)),
        ("1m", utc(2026, 6, 1)),
        ("3m", utc(2026, 4, 1)),
        ("12m", utc(2025, 7, 1)),
        (None, utc(2026, 5, 17)),  # 30d
    ],
)
def test_a_period_ends_at_the_request_time(period: str | None, start: datetime) -> None:
    window = asked(period)
    assert (window.start, window.end, window.period) == (start, NOW, period or "30d")


def test_dates_run_from_midnight_to_midnight_and_today_ends_now() -> None:
    window = asked(start=date(2026, 6, 1), end=date(2026, 6, 3))
    assert (window.start, window.end, window.period) == (utc(2026, 6, 1), utc(2026, 6, 4), None)
    assert asked(start=date(2026, 6, 14)).end == NOW  # end defaults to today
    assert asked(end=date(2026, 6, 10)).start == utc(2026, 6, 10)  # start defaults to end
    bogota = asked(start=date(2026, 6, 1), end=date(2026, 6, 1), zone="America/Bogota")
    assert (bogota.start, bogota.end) == (utc(2026, 6, 1, 5), utc(2026, 6, 2, 5))


@pytest.mark.parametrize(
    ("period", "start", "end", "field"),
    [
        ("7d", date(2026, 6, 1), None, "period"),  # both
        ("0d", None, None, "period"),
        ("7x", None, None, "period"),
        ("-1d", None, None, "period"),
        (" 7d", None, None, "period"),
        ("7d\n", None, None, "period"),
        ("99999d", None, None, "period"),
        ("400d", None, None, "period"),  # past retention
        (None, date(2026, 6, 5), date(2026, 6, 1), "start"),
        (None, date(2024, 1, 1), None, "start"),
    ],
)
def test_a_malformed_or_too_long_range_is_bad_user_input(
    period: str | None, start: date | None, end: date | None, field: str
) -> None:
    with pytest.raises(BadUserInput) as raised:
        asked(period, start, end)
    assert raised.value.extensions["field"] == field


def test_madrid_dst_days_have_23_and_25_local_hours() -> None:
    spring = asked(start=date(2026, 3, 29), end=date(2026, 3, 29), zone="Europe/Madrid")
    hours = bucket_starts(spring, Granularity.HOUR)
    assert len(hours) == 23
    # 00:00 and 01:00 CET are 23:00 and 00:00 UTC; 02:00 is skipped; 03:00 CEST is 01:00 UTC.
    assert hours[:3] == [utc(2026, 3, 28, 23), utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)]
    autumn = asked(
        start=date(2026, 10, 25), end=date(2026, 10, 25), zone="Europe/Madrid", now=utc(2026, 11, 1)
    )
    hours = bucket_starts(autumn, Granularity.HOUR)
    assert len(hours) == 25
    # 02:00 CEST (00:00 UTC) and 02:00 CET (01:00 UTC) are two buckets.
    assert hours[2:4] == [utc(2026, 10, 25, 0), utc(2026, 10, 25, 1)]


def test_kathmandu_and_kolkata_hours_start_off_the_utc_hour() -> None:
    day = asked(start=date(2026, 6, 10), end=date(2026, 6, 10), zone="Asia/Kathmandu")
    hours = bucket_starts(day, Granularity.HOUR)
    assert len(hours) == 24
    assert hours[:2] == [utc(2026, 6, 9, 18, 15), utc(2026, 6, 9, 19, 15)]
    days = asked(start=date(2026, 6, 10), end=date(2026, 6, 11), zone="Asia/Kolkata")
    assert bucket_starts(days, Granularity.DAY) == [
        utc(2026, 6, 9, 18, 30),
        utc(2026, 6, 10, 18, 30),
    ]


def test_weeks_start_on_monday_and_months_on_the_first_clipped_to_the_range() -> None:
    weeks = asked(start=date(2026, 6, 3), end=date(2026, 6, 20))  # Wednesday to Saturday
    assert bucket_starts(weeks, Granularity.WEEK) == [
        utc(2026, 6, 3),
        utc(2026, 6, 8),
        utc(2026, 6, 15),
    ]
    months = asked("3m")
    assert bucket_starts(months, Granularity.MONTH) == [
        utc(2026, 4, 1),
        utc(2026, 5, 1),
        utc(2026, 6, 1),
    ]
    today = asked("today")
    assert bucket_starts(today, Granularity.HOUR) == [utc(2026, 6, 15, h) for h in range(12)]


def test_a_range_after_now_has_no_bucket() -> None:
    later = asked(start=date(2026, 6, 20), end=date(2026, 6, 21))
    assert later.end == later.start
    assert bucket_starts(later, Granularity.DAY) == []


def test_too_many_buckets_is_bad_user_input() -> None:
    with pytest.raises(BadUserInput) as raised:
        bucket_starts(asked("12m"), Granularity.HOUR)
    assert raised.value.extensions["field"] == "granularity"
    assert len(bucket_starts(asked("12m"), Granularity.DAY)) == 350  # 2025-07-01 to today


def test_previous_period_is_as_long_and_ends_where_the_range_starts() -> None:
    week = asked("7d")  # 6.5 days: 2026-06-09 00:00 to 06-15 12:00
    earlier = previous(week, Comparison.PREVIOUS_PERIOD)
    assert (earlier.start, earlier.end) == (utc(2026, 6, 2, 12), utc(2026, 6, 9))
    assert (earlier.first_day, earlier.last_day) == (date(2026, 6, 2), date(2026, 6, 8))
    assert bucket_starts(earlier, Granularity.DAY)[:2] == [utc(2026, 6, 2, 12), utc(2026, 6, 3)]


def test_previous_year_is_the_same_local_dates_and_time_a_year_earlier() -> None:
    week = asked("7d", zone="Europe/Madrid")  # NOW is 14:00 in Madrid (CEST)
    earlier = previous(week, Comparison.PREVIOUS_YEAR)
    assert (earlier.start, earlier.end) == (utc(2025, 6, 8, 22), utc(2025, 6, 15, 12))
    leap = asked(start=date(2028, 2, 28), end=date(2028, 2, 29), now=utc(2028, 6, 1))
    earlier = previous(leap, Comparison.PREVIOUS_YEAR)
    assert (earlier.start, earlier.end) == (utc(2027, 2, 28), utc(2027, 3, 1))
    assert earlier.end - earlier.start == timedelta(days=1)
