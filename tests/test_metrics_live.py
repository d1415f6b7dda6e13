"""liveStats on the embedded store, from a fixture visible here.

NOW is Monday 2026-06-15 12:00 UTC = 07:00 in America/Bogota (UTC−5). The recent
window is [11:55, 12:00) UTC, the last minute [11:59, 12:00). Today is 00:00 UTC
onwards in UTC, 05:00 UTC onwards in Bogota.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from metrics.live import PageCount, live_stats, read_recent, recent_pipeline
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store

TENANT = "shop"
UTC_ZONE = ZoneInfo("UTC")
BOGOTA = ZoneInfo("America/Bogota")


def at(hour: int, minute: int, second: int = 0, day: int = 15) -> datetime:
    return datetime(2026, 6, day, hour, minute, second, tzinfo=UTC)


def live_event(
    event_type: str,
    when: datetime,
    *,
    visitor: str | None,
    page: str | None = None,
    session: str = "s",
    bot: bool = False,
    tenant: str = TENANT,
    price: float | None = None,
    quantity: int = 1,
    order: str | None = None,
) -> EventDocument:
    doc = event(
        event_type,
        at=when,
        session=session,
        tenant=tenant,
        price=price,
        quantity=quantity,
        order=order,
    )
    if visitor is not None:
        doc["visitorId"] = visitor
    if page is not None:
        doc["page"] = page
    if bot:
        doc["bot"] = True
    return doc


def fixture() -> list[EventDocument]:
    return [
        live_event("page_view", at(11, 59, 30), visitor="v1", page="/"),
        live_event("page_view", at(11, 58), visitor="v2", page="/"),
        live_event("product_view", at(11, 57), visitor="v2", page="/p/tee"),
        # No visitorId (an import): visitor(e) is the session, s3.
        live_event("add_to_cart", at(11, 56), visitor=None, session="s3", page="/p/tee"),
        live_event("page_view", at(11, 55), visitor="v5", page="/edge"),  # start: in
        live_event("page_view", at(11, 54, 59), visitor="v4", page="/old"),  # before: out
        live_event("page_view", at(12, 0), visitor="v8", page="/"),  # at now: out
        live_event("page_view", at(11, 59), visitor="v6", page="/", bot=True),  # bot: out
        live_event("page_view", at(11, 59), visitor="v9", page="/", tenant="other"),  # out
        # Order o1: two lines, one order, 2 × 10 + 5 = 25.
        live_event(
            "purchase",
            at(11, 59, 10),
            visitor="v1",
            page="/checkout",
            price=10,
            quantity=2,
            order="o1",
        ),
        live_event("purchase", at(11, 59, 20), visitor="v1", page="/checkout", price=5, order="o1"),
        # Today in UTC and in Bogota (01:00 there): its own order, 7.5.
        live_event("purchase", at(6, 0), visitor="v7", price=7.5),
        # Today in UTC; 23:00 of the 14th in Bogota: 4.
        live_event("purchase", at(4, 0), visitor="v7", price=4),
        # Yesterday everywhere.
        live_event("purchase", at(23, 0, day=14), visitor="v7", price=100),
        # A bot's purchase counts nowhere.
        live_event("purchase", at(11, 0), visitor="v6", price=1000, bot=True),
    ]


async def test_live_stats_utc(database: EmbeddedDatabase) -> None:
    await store(database, *fixture())
    stats = await live_stats(database, tenant=TENANT, zone=UTC_ZONE, now=NOW, retention_days=365)
    assert stats.at == NOW
    # v1, v2, s3, v5 (v4 before the window, v8 at its end, v6 a bot, v9 another store).
    assert stats.visitors_now == 4
    # 11:59:30 page_view, 11:59:10 and 11:59:20 purchases.
    assert stats.events_last_minute == 3
    # o1, the 06:00 and the 04:00 purchases; 25 + 7.5 + 4.
    assert stats.orders_today == 3
    assert stats.revenue_today == 36.5
    assert stats.top_pages == [
        PageCount("/", 2),  # v1, v2
        PageCount("/p/tee", 2),  # v2, s3
        PageCount("/checkout", 1),  # v1
        PageCount("/edge", 1),  # v5
    ]


async def test_live_stats_in_the_tenant_zone(database: EmbeddedDatabase) -> None:
    await store(database, *fixture())
    stats = await live_stats(database, tenant=TENANT, zone=BOGOTA, now=NOW, retention_days=365)
    # Bogota's today starts at 05:00 UTC: the 04:00 purchase is yesterday's there.
    assert (stats.orders_today, stats.revenue_today) == (2, 32.5)
    assert (stats.visitors_now, stats.events_last_minute) == (4, 3)


async def test_live_stats_of_an_empty_store(database: EmbeddedDatabase) -> None:
    stats = await live_stats(database, tenant=TENANT, zone=UTC_ZONE, now=NOW, retention_days=365)
    assert (stats.visitors_now, stats.events_last_minute, stats.orders_today) == (0, 0, 0)
    assert (stats.revenue_today, stats.top_pages) == (0.0, [])


async def test_top_pages_are_bounded(database: EmbeddedDatabase) -> None:
    await store(
        database,
        *(
            live_event("page_view", at(11, 58), visitor=f"v{n}", page=f"/p{n:02}")
            for n in range(12)
        ),
        live_event("page_view", at(11, 58), visitor="v0", page="/p11"),
    )
    stats = await live_stats(database, tenant=TENANT, zone=UTC_ZONE, now=NOW, retention_days=365)
    assert stats.top_pages == [
        PageCount("/p11", 2),
        *(PageCount(f"/p{n:02}", 1) for n in range(9)),
    ]


def test_recent_pipeline_is_one_bounded_match_then_a_facet() -> None:
    match, facet = recent_pipeline(tenant=TENANT, now=NOW)
    assert match == {
        "$match": {
            "tenantId": TENANT,
            "createdAt": {"$gte": datetime(2026, 6, 15, 11, 55), "$lt": datetime(2026, 6, 15, 12)},
            "bot": {"$ne": True},
        }
    }
    assert set(facet["$facet"]) == {"visitors", "minute", "pages"}


def test_read_recent_of_no_rows() -> None:
    assert read_recent([]).visitors == 0
