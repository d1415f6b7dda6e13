"""rfm(): recency, frequency, monetary and segment per logged-in buyer (docs/metrics.md, rfm)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.vocabulary import RfmSegment
from metrics.rfm import RfmCustomer, RfmResult, rfm, segment
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store

DAY, SECOND = timedelta(days=1), timedelta(seconds=1)
WINDOW_START = NOW - 90 * DAY


def customer(
    visitor: str, recency: int, frequency: int, monetary: float, kind: RfmSegment, segmento: str
) -> RfmCustomer:
    return RfmCustomer(visitor, recency, frequency, monetary, kind, segmento)


async def test_empty_store(database: EmbeddedDatabase) -> None:
    assert await rfm(database, tenant="default", now=NOW) == RfmResult(
        customers=[], start_date=WINDOW_START, end_date=NOW
    )


async def test_segments_and_recency_boundaries(database: EmbeddedDatabase) -> None:
    almost_8 = NOW - 8 * DAY + SECOND  # 7 days 23:59:59 ago: recency 7
    await store(
        database,
        # VIP at recency 7; two orders worth exactly 100000
        event("purchase", at=almost_8 - DAY, user="vip7@x", price=60000, order="a"),
        event("purchase", at=almost_8, user="vip7@x", price=40000, order="b"),
        # the same purchases one second earlier: recency 8, so only LOYAL
        event("purchase", at=NOW - 9 * DAY, user="vip8@x", price=60000, order="a"),
        event("purchase", at=NOW - 8 * DAY, user="vip8@x", price=40000, order="b"),
        event("purchase", at=NOW - 30 * DAY, user="loyal30@x", price=1),
        event("purchase", at=NOW - 31 * DAY, user="risk31@x", price=1),
        event("purchase", at=NOW - 60 * DAY - 12 * 3600 * SECOND, user="risk60@x", price=1),
        event("purchase", at=NOW - 61 * DAY, user="lost61@x", price=1),
        event("purchase", at=WINDOW_START, user="lost90@x", price=1),  # inclusive start
        event("purchase", at=WINDOW_START - SECOND, user="gone@x", price=1),  # outside
        event("purchase", at=NOW - DAY, user=None, price=500000),  # anonymous
        event("purchase", at=NOW - DAY, user="vip7@x", price=1, tenant="other"),
    )
    result = await rfm(database, tenant="default", now=NOW)
    assert result.customers == [
        customer("vip7@x", 7, 2, 100000.0, RfmSegment.VIP, "VIP"),
        customer("vip8@x", 8, 2, 100000.0, RfmSegment.LOYAL, "Leal"),
        customer("loyal30@x", 30, 1, 1.0, RfmSegment.LOYAL, "Leal"),
        customer("risk31@x", 31, 1, 1.0, RfmSegment.AT_RISK, "En riesgo"),
        customer("risk60@x", 60, 1, 1.0, RfmSegment.AT_RISK, "En riesgo"),
        customer("lost61@x", 61, 1, 1.0, RfmSegment.LOST, "Perdido"),
        customer("lost90@x", 90, 1, 1.0, RfmSegment.LOST, "Perdido"),
    ]


async def test_frequency_counts_orders_and_monetary_threshold(database: EmbeddedDatabase) -> None:
    at = NOW - 2 * DAY
    await store(
        database,
        # one order in two lines: frequency 1, however large
        event("purchase", at=at, user="one-order@x", price=150000, order="o1"),
        event("purchase", at=at, user="one-order@x", price=50000, order="o1"),
        # lines without order_id: each event is an order
        event("purchase", at=at, user="lines@x", price=50000),
        event("purchase", at=at, user="lines@x", price=25000, quantity=2),
        # a cent short of VIP
        event("purchase", at=at, user="short@x", price=50000, order="p1"),
        event("purchase", at=at, user="short@x", price=49999.99, order="p2"),
        # half a cent short: rounds to 100000.00, which is what VIP compares
        event("purchase", at=at, user="half@x", price=99999.995, order="h1"),
        event("purchase", at=at, user="half@x", price=None, order="h2"),
    )
    result = await rfm(database, tenant="default", now=NOW)
    assert result.customers == [
        customer("half@x", 2, 2, 100000.0, RfmSegment.VIP, "VIP"),
        customer("lines@x", 2, 2, 100000.0, RfmSegment.VIP, "VIP"),
        customer("one-order@x", 2, 1, 200000.0, RfmSegment.LOYAL, "Leal"),
        customer("short@x", 2, 2, 99999.99, RfmSegment.LOYAL, "Leal"),
    ]


async def test_sorted_by_recency_then_visitor(database: EmbeddedDatabase) -> None:
    await store(
        database,
        event("purchase", at=NOW - 3 * DAY, user="c@x", price=2.345),
        event("purchase", at=NOW - SECOND, user="b@x", price=1),
        event("purchase", at=NOW - 2 * SECOND, user="a@x", price=1),
    )
    result = await rfm(database, tenant="default", now=NOW)
    assert [(c.visitor_id, c.recency, c.monetary) for c in result.customers] == [
        ("a@x", 0, 1.0),
        ("b@x", 0, 1.0),
        ("c@x", 3, 2.35),  # half away from zero
    ]


async def test_rows_kept_with_cached_hours_follow_the_clock_and_imports(
    database: EmbeddedDatabase,
) -> None:
    # Closed hours are cached, and each buyer's row is kept with them (with the
    # lines of the one hour that holds all of a buyer's purchases, across days):
    # asked a day later the row must say so, and an import into them must show.
    at = NOW - 7 * DAY - 3600 * SECOND
    await store(
        database,
        event("purchase", at=at, user="ana@x", price=60000, order="a"),
        event("purchase", at=at + 60 * SECOND, user="ana@x", price=40000, order="b"),
    )
    first = (await rfm(database, tenant="default", now=NOW)).customers
    assert first == [customer("ana@x", 7, 2, 100000.0, RfmSegment.VIP, "VIP")]
    again = (await rfm(database, tenant="default", now=NOW)).customers
    assert again[0] is first[0]  # the kept row, not a new one
    later = (await rfm(database, tenant="default", now=NOW + DAY)).customers
    assert later == [customer("ana@x", 8, 2, 100000.0, RfmSegment.LOYAL, "Leal")]
    back = (await rfm(database, tenant="default", now=NOW)).customers
    assert back == first
    await store(database, event("purchase", at=at - 2 * DAY, user="ana@x", price=0.5, order="c"))
    imported = (await rfm(database, tenant="default", now=NOW)).customers
    assert imported == [customer("ana@x", 7, 3, 100000.5, RfmSegment.VIP, "VIP")]


async def test_a_kept_row_holds_to_the_microsecond_its_recency_does(
    database: EmbeddedDatabase,
) -> None:
    # Bought at L: recency 7 from L + 7 days to just before L + 8 days, asked in any
    # order (the kept row's own window, not the clock's direction, decides).
    bought = NOW - 8 * DAY + 5 * SECOND
    await store(
        database,
        event("purchase", at=bought, user="ana@x", price=60000, order="a"),
        event("purchase", at=bought, user="ana@x", price=40000, order="b"),
        event("purchase", at=bought + 3600 * SECOND, user="bo@x", price=5, order="c"),
    )
    micro = timedelta(microseconds=1)
    last = {"ana@x": bought, "bo@x": bought + 3600 * SECOND}
    asked = [
        last["ana@x"] + 7 * DAY,
        last["ana@x"] + 8 * DAY - micro,
        last["ana@x"] + 7 * DAY - micro,
        last["ana@x"] + 8 * DAY,
        last["bo@x"] + 7 * DAY,
        last["ana@x"] + 7 * DAY,
    ]
    for now in asked:
        customers = (await rfm(database, tenant="default", now=now)).customers
        expected = sorted(
            ((now - at) // DAY, user) for user, at in last.items()
        )  # by recency, then visitor
        assert [(c.recency, c.visitor_id) for c in customers] == expected, now
        ana = next(c for c in customers if c.visitor_id == "ana@x")
        assert ana.segment is (RfmSegment.VIP if ana.recency <= 7 else RfmSegment.LOYAL), now


@pytest.mark.parametrize(
    ("recency", "frequency", "monetary", "expected"),
    [
        (7, 2, 100000.0, RfmSegment.VIP),
        (8, 2, 100000.0, RfmSegment.LOYAL),
        (7, 1, 100000.0, RfmSegment.LOYAL),
        (7, 2, 99999.99, RfmSegment.LOYAL),
        (30, 1, 0.0, RfmSegment.LOYAL),
        (31, 5, 1e9, RfmSegment.AT_RISK),
        (60, 1, 0.0, RfmSegment.AT_RISK),
        (61, 1, 0.0, RfmSegment.LOST),
    ],
)
def test_segment_rules(recency: int, frequency: int, monetary: float, expected: RfmSegment) -> None:
    assert segment(recency=recency, frequency=frequency, monetary=monetary) is expected
