"""metrics.dashboard: DashboardReport's figures on small hand-counted stores.

Rounding, tie-breaks and limits, null slugs, product names, traffic sources,
the WhatsApp list, retention, and the once-per-pass memo. NOW is Monday
2026-06-15 12:00 UTC; the UTC week starts 2026-06-09 00:00.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.vocabulary import CountMode
from metrics.dashboard import DashboardReport
from metrics.dashboard_figures import (
    ConversionRates,
    ProductCount,
    ProductPerformance,
    RetentionMetrics,
    SessionStats,
    TrafficSource,
)
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
WEEK_START = datetime(2026, 6, 9, tzinfo=UTC)


def report(
    database: EmbeddedDatabase, mode: CountMode = CountMode.TOTAL, now: datetime = NOW
) -> DashboardReport:
    return DashboardReport(database, tenant="default", mode=mode, zone=ZoneInfo("UTC"), now=now)


async def test_halves_round_away_from_zero(database: EmbeddedDatabase) -> None:
    at = NOW - HOUR
    views = [event("product_view", at=at, session=f"v{n:02}", slug="tee") for n in range(16)]
    await store(
        database,
        *views,
        event("add_to_cart", at=at, session="v00", slug="tee"),
        event("purchase", at=at, session="v00", slug="tee", price=0.125),
        event("page_view", at=at, session="v01"),
        event("page_view", at=at, session="v02"),
    )
    for mode in CountMode:
        dashboard = report(database, mode)
        # 1 cart / 16 views = 6.25 % → 6.3 (banker's rounding would say 6.2);
        # no checkout: both later steps divide by 0 (cart→checkout 0/1, purchase 1/0).
        assert await dashboard.conversion_rates() == ConversionRates(6.3, 0.0, 0.0)
        assert await dashboard.total_revenue() == 0.13  # 0.125 → 0.13
        assert await dashboard.average_order_value() == 0.13
        # 20 events / 16 sessions = 1.25 → 1.3
        assert await dashboard.session_stats() == SessionStats(16, 1.3, 1)
        assert [p.conversion_rate for p in await dashboard.product_performance()] == [6.3]


async def test_ties_break_by_text_and_lists_are_cut(database: EmbeddedDatabase) -> None:
    at = NOW - HOUR
    docs = []
    # Twelve slugs p00..p11, each viewed and bought once, by one session each;
    # p11 bought 3 units and viewed twice, so it leads both lists.
    for n in range(12):
        slug = f"p{n:02}"
        docs.append(event("product_view", at=at, session=f"s{n:02}", slug=slug))
        docs.append(event("purchase", at=at, session=f"s{n:02}", slug=slug, price=1))
    docs.append(event("product_view", at=at, session="s11", slug="p11"))
    docs.append(event("purchase", at=at, session="s11", slug="p11", quantity=2))
    await store(database, *docs)
    dashboard = report(database)
    top = [ProductCount("p11", 3), *(ProductCount(f"p{n:02}", 1) for n in range(4))]
    assert await dashboard.top_products() == top
    viewed = [ProductCount("p11", 2), *(ProductCount(f"p{n:02}", 1) for n in range(4))]
    assert await dashboard.top_viewed_products() == viewed
    assert [p.slug for p in await dashboard.product_performance()] == [
        "p11",
        *(f"p{n:02}" for n in range(9)),
    ]
    unique = report(database, CountMode.UNIQUE)
    # UNIQUE: p11's two views are one session, so all twelve tie at 1.
    assert await unique.top_viewed_products() == [ProductCount(f"p{n:02}", 1) for n in range(5)]


async def test_null_slugs_count_in_totals_but_never_in_product_lists(
    database: EmbeddedDatabase,
) -> None:
    at = NOW - HOUR
    await store(
        database,
        event("product_view", at=at, session="a"),
        event("product_view", at=at, session="a"),
        event("add_to_cart", at=at, session="a"),
        event("purchase", at=at, session="a", price=5, quantity=9),
        *(event("purchase", at=at, session="a", slug=s, price=1) for s in "vwxyz"),
        event("product_view", at=at, session="b", slug="z"),
    )
    dashboard = report(database)
    assert await dashboard.total_sales() == 6
    assert await dashboard.total_revenue() == 50.0  # 5 × 9 + 5 × 1
    assert await dashboard.top_products() == [ProductCount(s, 1) for s in "vwxyz"]
    assert await dashboard.top_viewed_products() == [ProductCount("z", 1)]
    assert [p.slug for p in await dashboard.product_performance()] == ["z", "v", "w", "x", "y"]
    assert (await dashboard.event_counts()).product_view == 3


async def test_name_is_the_latest_non_null_name_of_the_slug_in_the_window(
    database: EmbeddedDatabase,
) -> None:
    await store(
        database,
        # mug: renamed twice; a later event without a name does not erase it.
        event("product_view", at=NOW - 3 * HOUR, slug="mug", name="Mug"),
        event("product_view", at=NOW - 2 * HOUR, slug="mug", name="Mug (blue)"),
        event("purchase", at=NOW - HOUR, slug="mug"),
        # pen: its latest name comes from an event of another type.
        event("product_view", at=NOW - 3 * HOUR, slug="pen", name="Pen"),
        event("whatsapp_cart_click", at=NOW - 2 * HOUR, slug="pen", name="Pen, gold"),
        # ink: named only before the window, so it is shown by its slug.
        event("product_view", at=WEEK_START - MINUTE, slug="ink", name="Old ink"),
        event("add_to_cart", at=WEEK_START, slug="ink"),
        # a name one millisecond later wins
        event("product_view", at=NOW - HOUR, slug="cup", name="Cup A"),
        event("product_view", at=NOW - HOUR + timedelta(milliseconds=1), slug="cup", name="B"),
    )
    names = {p.slug: p.name for p in await report(database).product_performance()}
    assert names == {"mug": "Mug (blue)", "pen": "Pen, gold", "ink": "ink", "cup": "B"}


async def test_a_session_takes_its_earliest_source_in_the_window(
    database: EmbeddedDatabase,
) -> None:
    await store(
        database,
        # a: sourced before the window only: direct.
        event("page_view", at=WEEK_START - MINUTE, session="a", source="google"),
        event("page_view", at=WEEK_START, session="a"),
        # b: explicit direct is no source; then tiktok, then google: tiktok.
        event("page_view", at=NOW - 3 * HOUR, session="b", source="direct"),
        event("product_view", at=NOW - 2 * HOUR, session="b", source="tiktok"),
        event("page_view", at=NOW - HOUR, session="b", source="google"),
        # c: google a millisecond before tiktok: google.
        event("page_view", at=NOW - HOUR, session="c", source="google"),
        event("page_view", at=NOW - HOUR + timedelta(milliseconds=1), session="c", source="x"),
        # d: stored out of order does not matter: the earliest is email.
        event("page_view", at=NOW - MINUTE, session="d", source="newsletter"),
        event("page_view", at=NOW - DAY, session="d", source="email"),
        # e, f: a source containing the key separator, and a non-ASCII one.
        event("page_view", at=NOW - HOUR, session="e", source="partner|ads"),
        event("page_view", at=NOW - HOUR, session="f", source="período"),
    )
    assert await report(database).traffic_sources() == [
        TrafficSource("direct", 1),
        TrafficSource("email", 1),
        TrafficSource("google", 1),
        TrafficSource("partner|ads", 1),
        TrafficSource("período", 1),
        TrafficSource("tiktok", 1),
    ]


async def test_whatsapp_list_newest_latest_click_first_ten_at_most(
    database: EmbeddedDatabase,
) -> None:
    docs = [
        event("whatsapp_cart_click", at=NOW - (n + 1) * MINUTE, session=f"w{n:02}")
        for n in range(12)
    ]
    await store(
        database,
        *docs,
        # w11's latest click is the newest of all; its first one does not count.
        event("whatsapp_cart_click", at=NOW - timedelta(seconds=1), session="w11"),
        # same latest click as w00: ties by session id.
        event("whatsapp_cart_click", at=NOW - MINUTE, session="a-tie"),
        # buys on WhatsApp without a click in the window: not a clicking session.
        event("whatsapp_cart_click", at=WEEK_START - MINUTE, session="zz"),
        event("whatsapp_purchase", at=NOW - HOUR, session="zz"),
        event("whatsapp_purchase", at=NOW - HOUR, session="w03"),
        event("whatsapp_cart_click", at=NOW - HOUR, session="t", tenant="other"),
    )
    dashboard = report(database)
    assert await dashboard.whatsapp_sessions_list() == [
        "w11",
        "a-tie",
        "w00",
        *(f"w{n:02}" for n in range(1, 8)),
    ]
    assert await dashboard.whatsapp_sessions() == 13  # w00..w11 and a-tie
    assert await dashboard.whatsapp_purchases() == 2


async def test_retention_counts_orders_by_order_id_else_by_event(
    database: EmbeddedDatabase,
) -> None:
    start = NOW - 90 * DAY
    await store(
        database,
        # one order of three lines: one order
        *(event("purchase", at=NOW - DAY, user="one@x", order="A", slug=s) for s in "abc"),
        # two lines without order id: two orders
        event("purchase", at=NOW - DAY, user="two@x"),
        event("purchase", at=NOW - DAY, user="two@x"),
        # an order id and a line without one: two orders
        event("purchase", at=start, user="mix@x", order="B"),
        event("purchase", at=NOW - MINUTE, user="mix@x"),
        # the second order is one second too old; anonymous buyers never count
        event("purchase", at=NOW - DAY, user="old@x", order="C"),
        event("purchase", at=start - timedelta(seconds=1), user="old@x", order="D"),
        event("purchase", at=NOW - DAY, session="anon-1"),
        event("purchase", at=NOW - DAY, session="anon-1"),
        event("purchase", at=NOW - DAY, user="one@x", tenant="other"),
    )
    # buyers one, two, mix, old; recurrent two and mix: 2 / 4
    assert await report(database).retention_metrics() == RetentionMetrics(50.0, 2, 4, 90)


async def test_each_pass_runs_once_however_many_fields_ask_at_once(
    database: EmbeddedDatabase,
) -> None:
    await store(database, event("purchase", at=NOW - HOUR, slug="a", price=3, quantity=2))
    dashboard = report(database)
    sales, revenue, average, top, sales_again = await asyncio.gather(
        dashboard.total_sales(),
        dashboard.total_revenue(),
        dashboard.average_order_value(),
        dashboard.top_products(),
        dashboard.total_sales(),
    )
    # The types, revenue and products passes once each, whoever asked: two
    # pipelines a pass (closed hours; the hour before NOW, in 5-minute slices).
    assert database.pipelines_run == 3 * 2
    assert (sales, revenue, average, top, sales_again) == (1, 6.0, 6.0, [ProductCount("a", 2)], 1)
    assert await dashboard.product_performance() == [ProductPerformance("a", "a", 0, 0, 1, 2, 0.0)]
    assert database.pipelines_run == 3 * 2  # the products pass, already run
