"""metrics.breakdown: a metric per key of a dimension, on the hand-counted store of
tests/test_metrics_series.py (s1 google with products a and b; s2 and s3 direct), with
countries added: s1's events CO, s2's US, s3's none."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from core.vocabulary import Dimension, Metric
from metrics.breakdown import breakdown
from metrics.ranges import parse_range
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, store
from tests.test_metrics_series import shop


def with_countries() -> list:  # type: ignore[type-arg]
    docs = shop()
    for doc in docs:
        country = {"s1": "CO", "s2": "US"}.get(doc["sessionId"])
        if country:
            doc["country"] = country
    return docs


async def rows(
    database: EmbeddedDatabase,
    metric: Metric,
    by: Dimension,
    *,
    where: dict[str, str] | None = None,
    limit: int = 10,
    offset: int = 0,
) -> tuple[list[tuple[str, float, float]], float, int]:
    window = parse_range(
        None,
        date(2026, 6, 10),
        date(2026, 6, 12),
        now=NOW,
        zone=ZoneInfo("UTC"),
        retention_days=365,
    )
    result = await breakdown(
        database,
        tenant="default",
        metric=metric,
        by=by,
        window=window,
        where=where or {},
        event_type=None,
        limit=limit,
        offset=offset,
        now=NOW,
    )
    return [(r.key, r.value, r.share) for r in result.rows], result.total, result.total_rows


@pytest.mark.parametrize(
    ("metric", "by", "expected", "total"),
    [
        # Session attribution: s1 google; s2 and s3 direct.
        (Metric.SESSIONS, Dimension.SOURCE, [("direct", 2, 66.7), ("google", 1, 33.3)], 3),
        (Metric.REVENUE, Dimension.SOURCE, [("google", 25.0, 70.4), ("direct", 10.5, 29.6)], 35.5),
        # s3's refund of 4.00 counts against direct.
        (
            Metric.NET_REVENUE,
            Dimension.SOURCE,
            [("google", 25.0, 79.4), ("direct", 6.5, 20.6)],
            31.5,
        ),
        (Metric.ORDERS, Dimension.SOURCE, [("direct", 2, 66.7), ("google", 1, 33.3)], 3),
        (
            Metric.CONVERSION_RATE,
            Dimension.SOURCE,
            [("direct", 100.0, 100.0), ("google", 100.0, 100.0)],
            100.0,
        ),
        (Metric.VISITORS, Dimension.SOURCE, [("direct", 2, 100.0), ("google", 1, 50.0)], 2),
        (Metric.SESSIONS, Dimension.CHANNEL, [("Direct", 3, 100.0)], 3),  # no channel stored
        (Metric.SESSIONS, Dimension.CAMPAIGN, [], 3),  # no campaign: left out
        # Each event's own product: a 10 × 2, b 5, none: s2's 7.50 and s3's 3.00.
        (
            Metric.REVENUE,
            Dimension.PRODUCT,
            [("a", 20.0, 56.3), ("(none)", 10.5, 29.6), ("b", 5.0, 14.1)],
            35.5,
        ),
        # Visitors of events without a product: v1 (s1's page view, s3) and v2.
        (
            Metric.VISITORS,
            Dimension.PRODUCT,
            [("(none)", 2, 100.0), ("a", 1, 50.0), ("b", 1, 50.0)],
            2,
        ),
        (
            Metric.SESSIONS,
            Dimension.COUNTRY,
            [("(none)", 1, 33.3), ("CO", 1, 33.3), ("US", 1, 33.3)],
            3,
        ),
        (Metric.PAGEVIEWS, Dimension.EVENT_TYPE, [("page_view", 3, 100.0)], 3),
        # Keys with logged-in buyers: ana (new) in google's s1, bo (returning) in direct's s3.
        (Metric.NEW_CUSTOMERS, Dimension.SOURCE, [("google", 1, 100.0), ("direct", 0, 0.0)], 1),
        (
            Metric.RETURNING_CUSTOMERS,
            Dimension.SOURCE,
            [("direct", 1, 100.0), ("google", 0, 0.0)],
            1,
        ),
    ],
)
async def test_per_key(
    database: EmbeddedDatabase,
    metric: Metric,
    by: Dimension,
    expected: list[tuple[str, float, float]],
    total: float,
) -> None:
    await store(database, *with_countries())
    found, found_total, count = await rows(database, metric, by)
    assert (found, found_total, count) == (expected, total, len(expected))


async def test_pages_and_filters(database: EmbeddedDatabase) -> None:
    await store(database, *with_countries())
    page, _, count = await rows(database, Metric.SESSIONS, Dimension.COUNTRY, limit=1, offset=1)
    assert (page, count) == ([("CO", 1, 33.3)], 3)
    google, total, _ = await rows(
        database, Metric.REVENUE, Dimension.PRODUCT, where={"source": "google"}
    )
    assert (google, total) == ([("a", 20.0, 80.0), ("b", 5.0, 20.0)], 25.0)
