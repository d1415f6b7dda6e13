"""Property: for random stores, ranges, zones and granularities, each metric's points equal
what the raw events give, bucket by bucket, cold and warm, and an additive total is the
sum of its points. (Seeded, so a failure names its seed.)"""

from __future__ import annotations

import bisect
import math
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.roles import Role, role_of
from core.vocabulary import Granularity, Metric
from metrics.ranges import boundaries, parse_range
from metrics.rounding import money
from metrics.series import metric_series
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import event, store

NOW = datetime(2026, 6, 15, 12, 7, 30, tzinfo=UTC)
ZONES = ["UTC", "America/Bogota", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Madrid"]
TYPES = ["page_view", "page.viewed", "product_view", "add_to_cart", "purchase", "order.completed"]


def random_store(rng: random.Random, tenant: str) -> list[EventDocument]:
    docs: list[EventDocument] = []
    for number in range(rng.randint(5, 60)):
        at = NOW - timedelta(seconds=rng.randrange(12 * 86400))
        session = f"{tenant}-s{number}"
        visitor = f"v{rng.randrange(8)}" if rng.random() < 0.8 else None
        for _ in range(rng.randint(1, 5)):
            at += timedelta(minutes=rng.choice([0, 4, 31, 65]), seconds=rng.randrange(60))
            if at >= NOW:
                break
            doc = event(
                rng.choice(TYPES),
                at=at,
                session=session,
                tenant=tenant,
                price=rng.choice([None, 2.5, 10.0, 0.1]),
                quantity=rng.randint(1, 3),
                order=rng.choice([None, "o1", "o2", f"{session}-o"]),
            )
            if visitor is not None:
                doc["visitorId"] = visitor
            docs.append(doc)
    return docs


def raw_points(
    docs: list[EventDocument], metric: Metric, edges: list[datetime], tenant: str
) -> tuple[list[float], float]:
    """Each bucket's value and the range's, computed from the documents themselves."""
    low, high = edges[0], edges[-1]
    inside = [d for d in docs if d["tenantId"] == tenant and low <= d["createdAt"] < high]
    buckets: list[list[EventDocument]] = [[] for _ in edges[:-1]]
    for doc in inside:
        buckets[bisect.bisect_right(edges, doc["createdAt"]) - 1].append(doc)

    def value(group: list[EventDocument]) -> float:
        if metric is Metric.REVENUE:
            return money(
                math.fsum(
                    (d["price"] or 0) * d["quantity"]
                    for d in group
                    if role_of(d["eventType"]) is Role.PURCHASE
                )
            )
        if metric is Metric.PAGEVIEWS:
            return sum(1 for d in group if role_of(d["eventType"]) is Role.PAGE_VIEW)
        if metric is Metric.SESSIONS:
            return len({d["sessionId"] for d in group})
        return len({d.get("visitorId") or d["sessionId"] for d in group})

    if metric is Metric.ORDERS:
        first: dict[str, datetime] = {}
        for doc in inside:
            if role_of(doc["eventType"]) is Role.PURCHASE:
                order = f"o:{doc['orderId']}" if doc["orderId"] else f"e:{doc['_id']}"
                first[order] = min(first.get(order, doc["createdAt"]), doc["createdAt"])
        counts = [0.0] * len(buckets)
        for moment in first.values():
            counts[bisect.bisect_right(edges, moment) - 1] += 1
        return counts, float(len(first))
    points = [float(value(group)) for group in buckets]
    return points, float(value(inside))


@pytest.mark.parametrize("seed", range(12))
async def test_series_equal_the_raw_events(database: EmbeddedDatabase, seed: int) -> None:
    rng = random.Random(seed)
    tenant = f"t{seed}"
    docs = random_store(rng, tenant)
    await store(database, *docs)
    zone = ZoneInfo(rng.choice(ZONES))
    first = date(2026, 6, 3) + timedelta(days=rng.randrange(12))
    last = first + timedelta(days=rng.randrange((date(2026, 6, 15) - first).days + 1))
    window = parse_range(None, first, last, now=NOW, zone=zone, retention_days=365)
    granularity = rng.choice(
        [
            Granularity.DAY,
            Granularity.WEEK,
            *([Granularity.HOUR] if (last - first).days < 3 else []),
        ]
    )
    edges = boundaries(window, granularity)
    for metric in (
        Metric.REVENUE,
        Metric.PAGEVIEWS,
        Metric.SESSIONS,
        Metric.VISITORS,
        Metric.ORDERS,
    ):
        expected, total = raw_points(docs, metric, edges, tenant)
        for _ in range(2):  # cold, then warm
            result = await metric_series(
                database,
                tenant=tenant,
                metric=metric,
                window=window,
                granularity=granularity,
                where={},
                event_type=None,
                compare=None,
                currency="COP",
                now=NOW,
            )
            label = (seed, metric, zone.key, granularity, first, last)
            assert [p.value for p in result.data_points] == expected, label
            assert result.total == total, label
            if result.additive:
                assert result.total == money(math.fsum(expected)), label
