"""funnel(): distinct sessions per step in a calendar-day window (docs/metrics.md, funnel)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import mongomock

from metrics.funnel import FunnelResult, FunnelStep, funnel, source_condition, with_conversion
from metrics.hourly import SessionActivity
from metrics.windows import funnel_window
from storage.documents import EVENTS, EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, sets_sorted, store

UTC_ZONE = ZoneInfo("UTC")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30, no DST
SECOND = timedelta(seconds=1)


def steps(page: int, product: int, cart: int, checkout: int, purchase: int) -> list[FunnelStep]:
    counts = (page, product, cart, checkout, purchase)
    names = ("page_view", "product_view", "add_to_cart", "begin_checkout", "purchase")
    return with_conversion(names, counts)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


JUNE_1_TO_10 = funnel_window(date(2026, 6, 1), date(2026, 6, 10), NOW, UTC_ZONE, retention_days=365)


async def test_empty_store(database: EmbeddedDatabase) -> None:
    window = funnel_window(None, None, NOW, UTC_ZONE, retention_days=365)
    assert await funnel(
        database, tenant="default", window=window, source=None, now=NOW
    ) == FunnelResult(
        steps=steps(0, 0, 0, 0, 0),
        start_date=utc(2026, 5, 17),
        end_date=utc(2026, 6, 16),
        source=None,
    )


async def test_distinct_sessions_counted_per_step_independently(
    database: EmbeddedDatabase,
) -> None:
    at = utc(2026, 6, 5, 10)
    await store(
        database,
        event("page_view", at=at, session="a"),
        event("page_view", at=at, session="a"),  # same session: once
        event("page_view", at=at, session="b"),
        event("product_view", at=at, session="a"),
        # c buys without any earlier step: still counted at purchase
        event("purchase", at=at, session="c", price=5),
        event("purchase", at=at, session="c", price=5),
        event("begin_checkout", at=at, session="b"),
        event("checkout_started", at=at, session="a"),  # not a funnel step
        event("wishlist:add", at=at, session="a"),  # custom event
        event("page_view", at=at, session="x", tenant="other"),
    )
    result = await funnel(database, tenant="default", window=JUNE_1_TO_10, source=None, now=NOW)
    assert result == FunnelResult(
        steps=steps(2, 1, 0, 1, 1),
        start_date=utc(2026, 6, 1),
        end_date=utc(2026, 6, 11),
        source=None,
    )


async def test_window_includes_the_whole_end_day(database: EmbeddedDatabase) -> None:
    await store(
        database,
        event("page_view", at=utc(2026, 5, 31, 23, 59, 59), session="before"),
        event("page_view", at=utc(2026, 6, 1), session="first"),
        event("page_view", at=utc(2026, 6, 10, 23, 59, 59), session="last"),
        event("page_view", at=utc(2026, 6, 11), session="after"),
    )
    result = await funnel(database, tenant="default", window=JUNE_1_TO_10, source=None, now=NOW)
    assert result.steps == steps(2, 0, 0, 0, 0)


async def test_day_edges_in_a_half_hour_zone(database: EmbeddedDatabase) -> None:
    # 2026-06-10 in Kolkata is [2026-06-09 18:30, 2026-06-10 18:30) UTC.
    window = funnel_window(date(2026, 6, 10), date(2026, 6, 10), NOW, KOLKATA, retention_days=365)
    await store(
        database,
        event("add_to_cart", at=utc(2026, 6, 9, 18, 29, 59), session="before"),
        event("add_to_cart", at=utc(2026, 6, 9, 18, 30), session="first"),
        event("add_to_cart", at=utc(2026, 6, 10, 18, 29, 59), session="last"),
        event("add_to_cart", at=utc(2026, 6, 10, 18, 30), session="after"),
    )
    assert await funnel(
        database, tenant="default", window=window, source=None, now=NOW
    ) == FunnelResult(
        steps=steps(0, 0, 2, 0, 0),
        start_date=utc(2026, 6, 9, 18, 30),
        end_date=utc(2026, 6, 10, 18, 30),
        source=None,
    )


async def test_source_filter_and_direct_matches_null(database: EmbeddedDatabase) -> None:
    at = utc(2026, 6, 5)
    await store(
        database,
        event("page_view", at=at, session="g1", source="google"),
        event("page_view", at=at, session="g2", source="google"),
        event("product_view", at=at, session="g1", source="google"),
        event("page_view", at=at, session="d1", source=None),
        event("purchase", at=at, session="d2", source="direct"),  # stored as null
        event("page_view", at=at, session="i1", source="instagram"),
    )
    tenant, window = "default", JUNE_1_TO_10
    google = await funnel(database, tenant=tenant, window=window, source="google", now=NOW)
    direct = await funnel(database, tenant=tenant, window=window, source="direct", now=NOW)
    every = await funnel(database, tenant=tenant, window=window, source=None, now=NOW)
    assert (google.steps, google.source) == (steps(2, 1, 0, 0, 0), "google")
    assert (direct.steps, direct.source) == (steps(1, 0, 0, 0, 1), "direct")
    assert (every.steps, every.source) == (steps(4, 1, 0, 0, 1), None)


def test_pipeline_as_data() -> None:
    # Per hour and session: events, the earliest source (time key|source), the types;
    # "direct" is the events without a source.
    keyed_source = {
        "$cond": [
            "$source",
            {
                "$concat": [
                    {"$toString": {"$subtract": ["$createdAt", datetime(1000, 1, 1)]}},
                    "|",
                    "$source",
                ]
            },
            None,
        ]
    }
    pipeline = SessionActivity(source_condition("direct")).pipeline(
        "t", datetime(2026, 6, 1), datetime(2026, 6, 11)
    )
    assert pipeline == [
        {
            "$match": {
                "tenantId": "t",
                "createdAt": {"$gte": datetime(2026, 6, 1), "$lt": datetime(2026, 6, 11)},
                "source": None,
                "bot": {"$ne": True},
            }
        },
        {
            "$group": {
                "_id": {
                    "$concat": [
                        {"$dateToString": {"format": "%Y-%m-%dT%H", "date": "$createdAt"}},
                        "|",
                        "$sessionId",
                    ]
                },
                "events": {"$sum": 1},
                "source": {"$min": keyed_source},
                "types": {"$addToSet": "$eventType"},
            }
        },
    ]


def plain_mongomock(docs: list[EventDocument], pipeline: list[dict[str, Any]]) -> list[Any]:
    collection = mongomock.MongoClient(tz_aware=False).db[EVENTS]
    collection.insert_many([dict(doc) for doc in docs])
    return list(collection.aggregate(pipeline))


async def test_embedded_fast_path_matches_plain_mongomock(database: EmbeddedDatabase) -> None:
    at = utc(2026, 6, 5)
    docs = [
        event("page_view", at=at, session="a", source="google"),
        event("page_view", at=at, session="b"),
        event("product_view", at=at, session="a", source="google"),
        event("purchase", at=at, session="a", source="google"),
        event("purchase", at=utc(2026, 6, 11), session="late", source="google"),
        event("page_view", at=at, session="z", tenant="other", source="google"),
    ]
    await store(database, *docs)
    for source in (None, "google", "direct"):
        pipeline = SessionActivity(source_condition(source)).pipeline(
            "default", datetime(2026, 6, 1), datetime(2026, 6, 11)
        )
        assert database._window(pipeline[0]["$match"]) is not None  # served by the index
        fast = await database.run_pipeline(EVENTS, pipeline)
        assert sets_sorted(fast) == sets_sorted(plain_mongomock(docs, pipeline))
        assert fast != []
