"""metrics.abandonment: identifiers that began checkout and did not buy, hand-counted."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.vocabulary import EventType
from metrics.abandonment import Abandonment, abandonment
from metrics.hourly import Checkouts
from metrics.windows import rolling
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store

CHECKOUT, PURCHASE = EventType.BEGIN_CHECKOUT, EventType.PURCHASE
DAY = rolling(NOW, hours=24)


def test_pipeline_matches_checkouts_and_purchases_of_the_tenant_in_the_range() -> None:
    start, end = datetime(2026, 6, 14, 12), datetime(2026, 6, 15, 12)
    pipeline = Checkouts().pipeline("t1", start, end)
    assert pipeline[0] == {
        "$match": {
            "tenantId": "t1",
            "createdAt": {"$gte": start, "$lt": end},
            "eventType": {
                "$in": ["begin_checkout", "checkout.started", "purchase", "order.completed"]
            },
            "bot": {"$ne": True},
        }
    }
    assert [next(iter(stage)) for stage in pipeline] == ["$match", "$group"]


async def test_empty_store_is_zero(database: EmbeddedDatabase) -> None:
    result = await abandonment(database, tenant="default", low=DAY.start, high=DAY.end, now=NOW)
    assert result == Abandonment(checkouts=0, abandoned=0, rate=0.0)


async def test_identifiers_user_else_session(database: EmbeddedDatabase) -> None:
    hour = timedelta(hours=1)
    await store(
        database,
        # ana checks out on one device and buys on another: one identifier, not abandoned.
        event(CHECKOUT, at=NOW - hour, session="phone", user="ana@x.com"),
        event(PURCHASE, at=NOW - hour, session="laptop", user="ana@x.com"),
        # anonymous s2 checks out twice, never buys: one identifier, abandoned.
        event(CHECKOUT, at=NOW - hour, session="s2"),
        event(CHECKOUT, at=NOW - 2 * hour, session="s2"),
        # s3 buys without a checkout: not among the checkouts at all.
        event(PURCHASE, at=NOW - hour, session="s3"),
        # s4 checks out and buys in the same session.
        event(CHECKOUT, at=NOW - hour, session="s4"),
        event(PURCHASE, at=NOW - hour, session="s4"),
    )
    result = await abandonment(database, tenant="default", low=DAY.start, high=DAY.end, now=NOW)
    # checkouts: ana, s2, s4 = 3; abandoned: s2 = 1; 1/3 = 33.33.. → 33.3
    assert result == Abandonment(checkouts=3, abandoned=1, rate=33.3)


async def test_range_bounds_and_tenant(database: EmbeddedDatabase) -> None:
    start = NOW - timedelta(hours=24)
    await store(
        database,
        event(CHECKOUT, at=start, session="first-instant"),  # start is inclusive
        event(CHECKOUT, at=NOW - timedelta(minutes=1), session="bought-later"),
        event(PURCHASE, at=NOW, session="bought-later"),  # end is exclusive: not a purchase
        event(CHECKOUT, at=start - timedelta(seconds=1), session="too-early"),
        event(CHECKOUT, at=NOW - timedelta(hours=1), session="x", tenant="other"),
        event(PURCHASE, at=NOW - timedelta(hours=1), session="first-instant", tenant="other"),
    )
    result = await abandonment(database, tenant="default", low=DAY.start, high=DAY.end, now=NOW)
    assert result == Abandonment(checkouts=2, abandoned=2, rate=100.0)


async def test_rate_rounds_half_away_from_zero(database: EmbeddedDatabase) -> None:
    # 1 abandoned of 8 checkouts = 12.5 exactly; of 16 = 6.25 → 6.3 (banker's would give 6.2).
    at = NOW - timedelta(hours=1)
    docs = [event(CHECKOUT, at=at, session=f"s{n:02}") for n in range(16)]
    docs += [event(PURCHASE, at=at, session=f"s{n:02}") for n in range(1, 16)]
    await store(database, *docs)
    result = await abandonment(database, tenant="default", low=DAY.start, high=DAY.end, now=NOW)
    assert result == Abandonment(checkouts=16, abandoned=1, rate=6.3)
