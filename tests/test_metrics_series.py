"""metrics.series: every metric on a small hand-counted store, in four zones, with filters
and comparisons; additive totals are the sums of their points.

The store (tenant "default"; s1 from google, its events all carry the source):

    06-09 10:00  purchase        s0  bo@x   1.00 (order o0)         before the range
    06-10 09:00  page_view       s1  v1
    06-10 09:05  product_view    s1  v1     slug a
    06-10 09:10  purchase        s1  v1     ana@x  a 10 × 2 (order o1)
    06-10 09:10  purchase        s1  v1     ana@x  b  5 × 1 (order o1)
    06-10 23:59:59 page_view     s2  v2
    06-11 00:00:01 purchase      s2  v2     7.50 (order o2)
    06-11 10:00  page_view       s3  v1
    06-12 08:00  purchase        s3  v1     bo@x   3.00 (no order id)
    06-12 09:00  order.refunded  s3  v1     4.00
    06-12 10:00  page_view       bot                                 not counted
    06-11 12:00  purchase        another tenant                      not counted

The range is 2026-06-10 to 06-12 (dates), days of the zone; NOW is 06-15 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.errors import BadUserInput
from core.vocabulary import Comparison, Granularity, Metric
from metrics.ranges import parse_range
from metrics.series import MetricSeries, event_filter, metric_series
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, second, tzinfo=UTC)


def visit(doc: EventDocument, visitor: str) -> EventDocument:
    doc["visitorId"] = visitor
    return doc


def shop() -> list[EventDocument]:
    bot = event("page_view", at=at(12, 10), session="crawler")
    bot["bot"] = True
    google = {"source": "google"}
    return [
        event("purchase", at=at(9, 10), session="s0", user="bo@x", price=1.0, order="o0"),
        visit(event("page_view", at=at(10, 9), session="s1", **google), "v1"),
        visit(event("product_view", at=at(10, 9, 5), session="s1", slug="a", **google), "v1"),
        visit(
            event(
                "purchase",
                at=at(10, 9, 10),
                session="s1",
                user="ana@x",
                slug="a",
                price=10.0,
                quantity=2,
                order="o1",
                **google,
            ),
            "v1",
        ),
        visit(
            event(
                "purchase",
                at=at(10, 9, 10),
                session="s1",
                user="ana@x",
                slug="b",
                price=5.0,
                order="o1",
                **google,
            ),
            "v1",
        ),
        visit(event("page_view", at=at(10, 23, 59, 59), session="s2"), "v2"),
        visit(event("purchase", at=at(11, 0, 0, 1), session="s2", price=7.5, order="o2"), "v2"),
        visit(event("page_view", at=at(11, 10), session="s3"), "v1"),
        visit(event("purchase", at=at(12, 8), session="s3", user="bo@x", price=3.0), "v1"),
        visit(event("order.refunded", at=at(12, 9), session="s3", price=4.0), "v1"),
        bot,
        event("purchase", at=at(11, 12), session="x", tenant="other", price=99.0),
    ]


async def series(
    database: EmbeddedDatabase,
    metric: Metric,
    *,
    zone: str = "UTC",
    granularity: Granularity = Granularity.DAY,
    where: dict[str, str] | None = None,
    event_type: str | None = None,
    compare: Comparison | None = None,
    start: date = date(2026, 6, 10),
    end: date = date(2026, 6, 12),
) -> MetricSeries:
    window = parse_range(None, start, end, now=NOW, zone=ZoneInfo(zone), retention_days=365)
    return await metric_series(
        database,
        tenant="default",
        metric=metric,
        window=window,
        granularity=granularity,
        where=where or {},
        event_type=event_type,
        compare=compare,
        currency="COP",
        now=NOW,
    )


def points(result: MetricSeries) -> list[float]:
    return [point.value for point in result.data_points]


# metric → (UTC points, total, additive, unit)
UTC_FIGURES: dict[Metric, tuple[list[float], float, bool, str]] = {
    Metric.REVENUE: ([25.0, 7.5, 3.0], 35.5, True, "COP"),
    Metric.NET_REVENUE: ([25.0, 7.5, -1.0], 31.5, True, "COP"),
    Metric.ORDERS: ([1, 1, 1], 3, True, "count"),
    Metric.AVERAGE_ORDER_VALUE: ([25.0, 7.5, 3.0], 11.83, False, "COP"),  # 35.5 / 3
    Metric.SESSIONS: ([2, 2, 1], 3, False, "count"),  # s1 s2 | s2 s3 | s3
    Metric.CONVERSION_RATE: ([50.0, 50.0, 100.0], 100.0, False, "percent"),
    Metric.VISITORS: ([2, 2, 1], 2, False, "count"),  # v1 v2 | v2 v1 | v1
    Metric.PAGEVIEWS: ([2, 1, 0], 3, True, "count"),  # the bot's is not counted
    Metric.PRODUCT_VIEWS: ([1, 0, 0], 1, True, "count"),
    Metric.ADD_TO_CARTS: ([0, 0, 0], 0, True, "count"),
    Metric.CHECKOUTS: ([0, 0, 0], 0, True, "count"),
    Metric.NEW_CUSTOMERS: ([1, 0, 0], 1, True, "count"),  # ana; bo bought first on 06-09
    Metric.RETURNING_CUSTOMERS: ([0, 0, 1], 1, False, "count"),  # bo
}


@pytest.mark.parametrize("metric", list(UTC_FIGURES))
async def test_every_metric_in_utc(database: EmbeddedDatabase, metric: Metric) -> None:
    await store(database, *shop())
    result = await series(database, metric)
    expected_points, total, additive, unit = UTC_FIGURES[metric]
    assert points(result) == expected_points
    assert (result.total, result.additive, result.unit) == (total, additive, unit)
    assert result.currency == ("COP" if unit == "COP" else None)
    assert [p.date for p in result.data_points] == [at(10, 0), at(11, 0), at(12, 0)]
    if additive:
        assert result.total == sum(points(result))
    assert (result.previous, result.change) == (None, None)


async def test_events_of_one_type_need_the_type(database: EmbeddedDatabase) -> None:
    await store(database, *shop())
    result = await series(database, Metric.EVENTS, event_type="purchase")
    assert (points(result), result.total) == ([2, 1, 1], 4)
    refunds = await series(database, Metric.EVENTS, event_type="order.refunded")
    assert points(refunds) == [0, 0, 1]
    with pytest.raises(BadUserInput):
        await series(database, Metric.EVENTS)


# Bogotá (UTC−5): 06-10 local runs to 06-11 05:00 UTC, so s2's purchase joins 06-10.
# Kathmandu (+05:45): 06-10 local is 06-09 18:15 to 06-10 18:15 UTC, so s2's page view
# (23:59:59 UTC) falls on 06-11 with its purchase.
@pytest.mark.parametrize(
    ("zone", "metric", "expected", "total"),
    [
        ("America/Bogota", Metric.REVENUE, [32.5, 0.0, 3.0], 35.5),
        ("America/Bogota", Metric.SESSIONS, [2, 1, 1], 3),  # s1 s2 | s3 | s3
        ("America/Bogota", Metric.ORDERS, [2, 0, 1], 3),
        ("Asia/Kathmandu", Metric.REVENUE, [25.0, 7.5, 3.0], 35.5),
        ("Asia/Kathmandu", Metric.SESSIONS, [1, 2, 1], 3),  # s1 | s2 s3 | s3
        ("Asia/Kathmandu", Metric.PAGEVIEWS, [1, 2, 0], 3),
        ("Asia/Kolkata", Metric.SESSIONS, [1, 2, 1], 3),  # 06-10 local ends 18:30 UTC
        ("Asia/Kolkata", Metric.VISITORS, [1, 2, 1], 2),
    ],
)
async def test_days_follow_the_zone(
    database: EmbeddedDatabase, zone: str, metric: Metric, expected: list[float], total: float
) -> None:
    await store(database, *shop())
    result = await series(database, metric, zone=zone)
    assert (points(result), result.total) == (expected, total)


async def test_a_filter_keeps_only_matching_events(database: EmbeddedDatabase) -> None:
    await store(database, *shop())
    google = event_filter({"source": "google", "page": None})
    assert google == {"source": "google"}
    revenue = await series(database, Metric.REVENUE, where=google)
    assert (points(revenue), revenue.total) == ([25.0, 0.0, 0.0], 25.0)
    sessions = await series(database, Metric.SESSIONS, where=google)
    assert (points(sessions), sessions.total) == ([1, 0, 0], 1)
    direct = await series(database, Metric.PAGEVIEWS, where=event_filter({"source": "direct"}))
    assert direct.total == 0  # "direct" is stored as no source: it matches no event


async def test_compared_with_the_previous_period_and_year(database: EmbeddedDatabase) -> None:
    await store(database, *shop())
    result = await series(database, Metric.REVENUE, compare=Comparison.PREVIOUS_PERIOD)
    earlier = result.previous
    assert earlier is not None
    assert (earlier.start_date, earlier.end_date) == (at(7, 0), at(10, 0))
    assert (points(earlier), earlier.total) == ([0.0, 0.0, 1.0], 1.0)  # 06-07, 06-08, 06-09
    assert result.change == 3450.0  # (35.5 − 1) / 1 × 100
    year = await series(database, Metric.REVENUE, compare=Comparison.PREVIOUS_YEAR)
    assert year.previous is not None and year.previous.total == 0.0
    assert year.change is None  # nothing to compare with


async def test_hours_of_a_dst_day_in_madrid(database: EmbeddedDatabase) -> None:
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    await store(database, event("page_view", at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)))
    result = await series(
        database,
        Metric.PAGEVIEWS,
        zone="Europe/Madrid",
        granularity=Granularity.HOUR,
        start=date(2026, 3, 29),
        end=date(2026, 3, 29),
    )
    assert now == NOW
    assert len(result.data_points) == 23
    # 01:30 UTC is 03:30 CEST: the third local hour (02:00 does not exist that day).
    assert result.data_points[2].date == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert points(result) == [0] * 2 + [1] + [0] * 20


async def test_an_empty_store_answers_zeros_for_every_bucket(database: EmbeddedDatabase) -> None:
    for metric in UTC_FIGURES:
        # Wednesday 06-10 to Tuesday 06-16, which is after today: it ends at NOW.
        result = await series(database, metric, granularity=Granularity.WEEK, end=date(2026, 6, 16))
        assert [p.date for p in result.data_points] == [at(10, 0), at(15, 0)]
        assert (points(result), result.total, result.end_date) == ([0, 0], 0, NOW), metric
