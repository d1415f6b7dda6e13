"""metrics.dashboard_pipelines as data, and each pipeline run two ways.

The embedded store runs a pipeline's first ``$match`` from its own index and
the rest with mongomock's stages; the last test checks that this gives exactly
what plain mongomock's ``aggregate`` gives over the same documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import mongomock
import pytest

from core.vocabulary import ERROR_EVENT_TYPES, EventType
from metrics.abandonment import abandonment_pipeline
from metrics.dashboard_pipelines import (
    TIMELINE_TYPES,
    day_boundaries,
    products_pipeline,
    sales_pipeline,
    sessions_pipeline,
    type_day_boundaries,
    type_day_counts_pipeline,
    whatsapp_pipeline,
)
from metrics.windows import DayWindow, dashboard_window
from storage.database import Pipeline
from storage.documents import EVENTS, EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store

UTC_WEEK = dashboard_window(NOW, ZoneInfo("UTC"))


def every_pipeline(window: DayWindow) -> dict[str, Pipeline]:
    tenant = "default"
    return {
        "sales": sales_pipeline(tenant=tenant, window=window),
        "timeline": type_day_counts_pipeline(
            tenant=tenant, window=window, event_types=TIMELINE_TYPES
        ),
        "errors": type_day_counts_pipeline(
            tenant=tenant, window=window, event_types=ERROR_EVENT_TYPES
        ),
        "products total": products_pipeline(tenant=tenant, window=window, unique=False),
        "products unique": products_pipeline(tenant=tenant, window=window, unique=True),
        "sessions total": sessions_pipeline(tenant=tenant, window=window, unique=False),
        "sessions unique": sessions_pipeline(tenant=tenant, window=window, unique=True),
        "whatsapp": whatsapp_pipeline(tenant=tenant, window=window),
        "abandonment": abandonment_pipeline(tenant="default", match_range=window.match_range),
    }


def test_sales_pipeline() -> None:
    window = dashboard_window(datetime(2026, 6, 3, 7, tzinfo=UTC), ZoneInfo("UTC"))
    days = [datetime(2026, 5, 28) + timedelta(days=n) for n in range(7)]
    quantity = {"$min": [{"$ifNull": ["$quantity", 1]}, 10**6]}
    line_value = {"$multiply": [{"$min": [{"$ifNull": ["$price", 0]}, 10**12]}, quantity]}
    assert sales_pipeline(tenant="t", window=window) == [
        {
            "$match": {
                "tenantId": "t",
                "createdAt": {"$gte": days[0], "$lt": datetime(2026, 6, 3, 7)},
                "bot": {"$ne": True},
                "eventType": {"$in": ["purchase", "order.completed"]},
            }
        },
        {
            "$facet": {
                "days": [
                    {
                        "$bucket": {
                            "groupBy": "$createdAt",
                            "boundaries": [*days, datetime(2026, 6, 3, 7)],
                            "output": {"sales": {"$sum": 1}, "revenue": {"$sum": line_value}},
                        }
                    }
                ],
                "products": [
                    {"$group": {"_id": "$productSlug", "units": {"$sum": quantity}}},
                    {"$sort": {"units": -1, "_id": 1}},
                    {"$limit": 6},
                ],
                "buyers": [{"$group": {"_id": "$sessionId"}}, {"$count": "sessions"}],
            }
        },
    ]


def test_type_day_keys_follow_the_zone_and_round_the_end_up() -> None:
    # Madrid, around the autumn change: the 25th starts at 22:00 UTC the day
    # before, the 26th at 23:00 UTC; the end (12:00:00.25) is rounded up.
    now = datetime(2026, 10, 27, 12, 0, 0, 250_000, tzinfo=UTC)
    window = dashboard_window(now, ZoneInfo("Europe/Madrid"))
    assert type_day_boundaries([EventType.ORDER_COMPLETED], window) == [
        "order_completed|2026-10-20T22:00:00",
        "order_completed|2026-10-21T22:00:00",
        "order_completed|2026-10-22T22:00:00",
        "order_completed|2026-10-23T22:00:00",
        "order_completed|2026-10-24T22:00:00",
        "order_completed|2026-10-25T23:00:00",
        "order_completed|2026-10-26T23:00:00",
        "order_completed|2026-10-27T12:00:01",
    ]
    pipeline = type_day_counts_pipeline(
        tenant="t", window=window, event_types=[EventType.ORDER_COMPLETED]
    )
    assert pipeline[0]["$match"]["eventType"] == {"$in": ["order_completed"]}
    assert pipeline[1]["$bucket"]["groupBy"] == {
        "$concat": [
            "$eventType",
            {"$dateToString": {"format": "|%Y-%m-%dT%H:%M:%S", "date": "$createdAt"}},
        ]
    }


def test_boundaries_strictly_increase_when_now_is_midnight() -> None:
    window = dashboard_window(datetime(2026, 6, 15, tzinfo=UTC), ZoneInfo("UTC"))
    assert window.bucket_boundaries[-2:] == [datetime(2026, 6, 15)] * 2
    assert day_boundaries(window) == [datetime(2026, 6, 9) + timedelta(days=n) for n in range(7)]
    keys = type_day_boundaries(["purchase"], window)
    assert keys[-1] == "purchase|2026-06-15T00:00:00"
    assert len(keys) == len(set(keys)) == 7


def _stages(pipeline: Pipeline) -> Iterator[tuple[str, Any]]:
    for stage in pipeline:
        for name, spec in stage.items():
            yield name, spec
            if name == "$facet":
                for branch in spec.values():
                    yield from _stages(branch)


@pytest.mark.parametrize(("name", "pipeline"), every_pipeline(UTC_WEEK).items())
def test_one_indexed_match_first_then_no_match_and_scalar_group_keys(
    name: str, pipeline: Pipeline
) -> None:
    first = pipeline[0]["$match"]
    assert first["tenantId"] == "default"
    assert first["createdAt"] == UTC_WEEK.match_range
    later = list(_stages(pipeline[1:]))
    assert "$match" not in [stage for stage, _ in later]
    for stage, spec in later:
        if stage == "$group":
            key = spec["_id"]
            # a field path, null, or one operator expression; never a document of fields
            operator = isinstance(key, dict) and len(key) == 1 and next(iter(key)).startswith("$")
            assert key is None or isinstance(key, str) or operator


def mixed_store() -> list[EventDocument]:
    """Every type, with and without slugs, names, sources, users, over two tenants."""
    docs = []
    kinds = [*EventType, "newsletter_signup"]
    start = NOW - timedelta(days=8)
    for n in range(240):
        kind = kinds[n % len(kinds)]
        docs.append(
            event(
                kind,
                at=start + timedelta(minutes=53 * n, milliseconds=n),
                session=f"s{n % 17}",
                tenant="default" if n % 5 else "other",
                user=f"u{n % 3}@x" if n % 4 == 0 else None,
                slug=None if n % 6 == 0 else f"p{n % 7}",
                name=None if n % 3 == 0 else f"Product {n % 5}",
                price=(n % 9) * 1.5 if n % 2 else None,
                quantity=1 + n % 3,
                order=f"o{n % 4}" if n % 8 == 1 else None,
                source=[None, "google", "direct", "instagram"][n % 4],
            )
        )
    return docs


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
async def test_embedded_fast_path_answers_as_mongomock_does(
    database: EmbeddedDatabase, zone: str
) -> None:
    docs = mixed_store()
    await store(database, *docs)
    plain: Any = mongomock.MongoClient(tz_aware=False).db[EVENTS]
    plain.insert_many([dict(doc) for doc in docs])
    window = dashboard_window(NOW, ZoneInfo(zone))
    for name, pipeline in every_pipeline(window).items():
        fast = await database.run_pipeline(EVENTS, pipeline)
        slow = list(plain.aggregate(pipeline))
        assert fast == slow, name
        assert fast, f"{name}: the store should give it something to count"
