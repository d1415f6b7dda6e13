"""Dashboard days are calendar days of the query's zone (docs/metrics.md, Windows and days).

Each case stores, at a handful of UTC instants around local midnights, one
purchase, one product_view and one payment_error, then checks the window and
every daily series: an event one second before local midnight belongs to the
day before, an event at midnight to the day it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.vocabulary import CountMode
from metrics.dashboard import DashboardReport
from metrics.dashboard_figures import DayCount, ErrorsTimelineDay, EventsTimelineDay
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store

SECOND = timedelta(seconds=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    zone: str
    now: datetime
    start: datetime  # the window's start, as a UTC instant
    first_day: date
    instants: tuple[datetime, ...]  # where the events are
    per_day: tuple[int, ...]  # hand-counted events per local day, oldest first


CASES = {
    "utc": Case(
        "UTC",
        NOW,
        utc(2026, 6, 9),
        date(2026, 6, 9),
        (
            utc(2026, 6, 9) - SECOND,  # before the window
            utc(2026, 6, 9),  # first instant: 9th
            utc(2026, 6, 10) - SECOND,  # 9th
            utc(2026, 6, 10),  # 10th
            NOW - SECOND,  # 15th
            NOW,  # the end is excluded
        ),
        (2, 1, 0, 0, 0, 0, 1),
    ),
    "whole-hour zone": Case(
        "America/Bogota",  # UTC−5 all year; NOW is 07:00 on the 15th there
        NOW,
        utc(2026, 6, 9, 5),
        date(2026, 6, 9),
        (
            utc(2026, 6, 9, 5) - SECOND,  # 8th, 23:59:59 local: before the window
            utc(2026, 6, 9, 5),  # 9th 00:00
            utc(2026, 6, 10, 5) - SECOND,  # 9th 23:59:59
            utc(2026, 6, 10, 5),  # 10th 00:00
            utc(2026, 6, 15, 4, 59, 59),  # 14th 23:59:59
            utc(2026, 6, 15, 5),  # 15th 00:00
        ),
        (2, 1, 0, 0, 0, 1, 1),
    ),
    "half-hour zone": Case(
        "Asia/Kolkata",  # UTC+5:30; NOW is 17:30 on the 15th there
        NOW,
        utc(2026, 6, 8, 18, 30),
        date(2026, 6, 9),
        (
            utc(2026, 6, 8, 18, 30) - SECOND,  # before the window
            utc(2026, 6, 8, 18, 30),  # 9th 00:00
            utc(2026, 6, 9, 18, 30) - SECOND,  # 9th 23:59:59
            utc(2026, 6, 9, 18, 30),  # 10th 00:00
            utc(2026, 6, 14, 18, 30),  # 15th 00:00
        ),
        (2, 1, 0, 0, 0, 0, 1),
    ),
    "spring forward": Case(
        # New York skips 02:00–03:00 on Sunday 8 March 2026: that day has 23 hours.
        "America/New_York",
        utc(2026, 3, 11, 12),  # 08:00 EDT on the 11th
        utc(2026, 3, 5, 5),  # 5th 00:00 EST
        date(2026, 3, 5),
        (
            utc(2026, 3, 8, 5) - SECOND,  # 7th 23:59:59 EST
            utc(2026, 3, 8, 5),  # 8th 00:00 EST
            utc(2026, 3, 8, 7),  # 8th 03:00 EDT, just after the change
            utc(2026, 3, 9, 4) - SECOND,  # 8th 23:59:59 EDT
            utc(2026, 3, 9, 4),  # 9th 00:00 EDT
        ),
        (0, 0, 1, 3, 1, 0, 0),
    ),
    "fall back": Case(
        # Madrid repeats 02:00–03:00 on Sunday 25 October 2026: that day has 25 hours.
        "Europe/Madrid",
        utc(2026, 10, 27, 12),  # 13:00 CET on the 27th
        utc(2026, 10, 20, 22),  # 21st 00:00 CEST
        date(2026, 10, 21),
        (
            utc(2026, 10, 24, 22) - SECOND,  # 24th 23:59:59 CEST
            utc(2026, 10, 24, 22),  # 25th 00:00 CEST
            utc(2026, 10, 25, 1, 30),  # 25th 02:30 CET, the second time round
            utc(2026, 10, 25, 23) - SECOND,  # 25th 23:59:59 CET
            utc(2026, 10, 25, 23),  # 26th 00:00 CET
        ),
        (0, 0, 0, 1, 3, 1, 0),
    ),
    "now at local midnight": Case(
        "UTC",
        utc(2026, 6, 15),  # today has not begun: its day is empty
        utc(2026, 6, 9),
        date(2026, 6, 9),
        (utc(2026, 6, 15) - SECOND, utc(2026, 6, 15)),
        (0, 0, 0, 0, 0, 1, 0),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_events_fall_on_the_local_day(database: EmbeddedDatabase, case: Case) -> None:
    docs = []
    for n, moment in enumerate(case.instants):
        for kind in ("purchase", "product_view", "payment_error"):
            docs.append(event(kind, at=moment, session=f"s{n}", slug="hat", price=1))
    await store(database, *docs)
    report = DashboardReport(
        database,
        tenant="default",
        mode=CountMode.TOTAL,
        zone=ZoneInfo(case.zone),
        now=case.now,
    )
    days = [case.first_day + timedelta(days=n) for n in range(7)]
    assert (report.window.start, report.window.end) == (case.start, case.now)
    assert list(report.window.days) == days
    assert await report.sales_by_day() == [
        DayCount(day, count) for day, count in zip(days, case.per_day, strict=True)
    ]
    assert await report.events_timeline() == [
        EventsTimelineDay(day, count, 0, 0, count, 0, 0, 0)
        for day, count in zip(days, case.per_day, strict=True)
    ]
    assert await report.errors_timeline() == [
        ErrorsTimelineDay(day, count, 0, 0, 0)
        for day, count in zip(days, case.per_day, strict=True)
    ]
    # window totals are the sums of the daily series
    in_window = sum(case.per_day)
    assert await report.total_sales() == in_window
    assert (await report.event_counts()).product_view == in_window
    assert (await report.error_counts()).payment_error == in_window
    assert (await report.session_stats()).unique_sessions == in_window
