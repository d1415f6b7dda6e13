"""buyers(): logged-in purchases of the 90 × 24 hours before the request, per userId."""

from __future__ import annotations

from datetime import datetime, timedelta

from metrics.customers import Buyer, buyers
from metrics.hourly import BuyerActivity
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store

START = NOW - timedelta(days=90)  # 2026-03-17 12:00 UTC, inclusive


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


async def test_empty_store(database: EmbeddedDatabase) -> None:
    assert await buyers(database, tenant="default", now=NOW) == []


async def test_orders_monetary_and_latest_purchase(database: EmbeddedDatabase) -> None:
    at1, at2 = NOW - timedelta(days=3), NOW - timedelta(days=1)
    await store(
        database,
        # ana: order o1 in two lines, o2 in one line -> 2 orders; 10×2 + 5 + 7.5 = 32.5
        event("purchase", at=at1, user="ana@x", price=10, quantity=2, order="o1"),
        event("purchase", at=at1, user="ana@x", price=5, order="o1"),
        event("purchase", at=at2, user="ana@x", price=7.5, order="o2"),
        # bob: two lines without order_id -> each event is its own order; null price is 0
        event("purchase", at=at1, user="bob@x", price=None, quantity=3),
        event("purchase", at=at1, user="bob@x", price=1.25),
        # not purchases, anonymous, other tenant: all ignored
        event("add_to_cart", at=at2, user="ana@x", price=999),
        event("purchase", at=at2, user=None, price=50),
        event("purchase", at=at2, user="ana@x", price=50, tenant="other"),
    )
    assert await buyers(database, tenant="default", now=NOW) == [
        Buyer(user_id="ana@x", last_purchase=naive(at2), orders=2, monetary=32.5),
        Buyer(user_id="bob@x", last_purchase=naive(at1), orders=2, monetary=1.25),
    ]


async def test_window_edges(database: EmbeddedDatabase) -> None:
    second = timedelta(seconds=1)
    await store(
        database,
        event("purchase", at=START, user="first@x", price=1),  # inclusive start
        event("purchase", at=START - second, user="before@x", price=1),
        event("purchase", at=NOW - second, user="last@x", price=2),
        event("purchase", at=NOW, user="now@x", price=3),  # exclusive end
    )
    assert await buyers(database, tenant="default", now=NOW) == [
        Buyer(user_id="first@x", last_purchase=naive(START), orders=1, monetary=1.0),
        Buyer(user_id="last@x", last_purchase=naive(NOW - second), orders=1, monetary=2.0),
    ]


def test_pipeline_first_stage_is_the_indexed_match() -> None:
    pipeline = BuyerActivity().pipeline("t", naive(START), naive(NOW))
    assert pipeline[0] == {
        "$match": {
            "tenantId": "t",
            "createdAt": {"$gte": naive(START), "$lt": naive(NOW)},
            "eventType": {"$in": ["purchase", "order.completed"]},
            "userId": {"$ne": None},
            "bot": {"$ne": True},
        }
    }
    assert [next(iter(stage)) for stage in pipeline] == ["$match", "$group"]


async def test_monetary_is_the_same_however_the_window_is_cut(
    database: EmbeddedDatabase,
) -> None:
    # 0.1 + 0.2 + 0.3 is 0.6000000000000001 summed left to right, 0.6 exactly
    # rounded; the lines lie in three hours, read cold then from the cache.
    await store(
        database,
        *(
            event("purchase", at=NOW - timedelta(hours=hours), user="ana@x", price=price)
            for hours, price in ((30, 0.1), (20, 0.2), (10, 0.3))
        ),
    )
    for _ in range(2):
        (ana,) = await buyers(database, tenant="default", now=NOW)
        assert (ana.monetary, ana.orders) == (0.6, 3)
