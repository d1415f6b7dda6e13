"""landingStats and todayStats on the embedded store, from a fixture visible here.

NOW is Monday 2026-06-15 12:00 UTC = 07:00 in America/Bogota (UTC−5, no DST). In
Bogota the window is 2026-06-09 00:00 (05:00 UTC) to NOW; in UTC it is 2026-06-09
00:00 UTC to NOW, so events between 00:00 and 05:00 UTC change day or window.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from metrics import landing
from metrics.landing import LandingStats, TodayStats, VisitorsDay
from metrics.windows import dashboard_window
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store

BOGOTA = ZoneInfo("America/Bogota")
TENANT = "42"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


def landing_event(
    event_type: str,
    when: datetime,
    *,
    session: str = "s",
    visitor: str | None = None,
    bot: bool = False,
    tenant: str = TENANT,
    metadata: dict[str, Any] | None = None,
) -> EventDocument:
    doc = event(event_type, at=when, session=session, tenant=tenant, metadata=metadata)
    if visitor is not None:
        doc["visitorId"] = visitor
    if bot:
        doc["bot"] = True
    return doc


def fixture() -> list[EventDocument]:
    return [
        # Page views. Bogota days in the comments.
        landing_event("pageview", at(15, 6), session="s1", visitor="v1"),  # 06-15
        landing_event("pageview", at(15, 11), session="s2", visitor="v1"),  # 06-15, same visitor
        landing_event("pageview", at(15, 4, 59), session="s3"),  # 06-14 23:59; no visitorId
        landing_event("page.viewed", at(14, 10), session="s4"),  # 06-14; no visitorId
        landing_event("page_view", at(9, 5), session="s5", visitor="v1"),  # 06-09 00:00
        landing_event("pageview", at(9, 4, 59), session="s6", visitor="v2"),  # 06-08: outside
        landing_event("pageview", at(15, 8), session="b", visitor="v9", bot=True),  # a bot
        landing_event("pageview", NOW, session="s7", visitor="v7"),  # the end is exclusive
        landing_event("pageview", at(15, 8), session="o", visitor="v8", tenant="43"),
        landing_event("product_click", at(15, 9), session="s8", visitor="v5"),  # not a view
        # Clicks, scans, toggles, product views.
        landing_event("click_whatsapp", at(15, 9)),
        landing_event("click_whatsapp", at(10, 12)),
        landing_event("whatsapp_cart_click", at(12, 12)),
        landing_event("click_whatsapp", at(15, 9), bot=True),
        landing_event("click_call", at(13, 12)),
        landing_event("click_toggle_currency", at(11, 12)),
        landing_event("click_toggle_currency", at(15, 10)),
        landing_event("qr_scan", at(15, 10)),
        landing_event("qr_scan", at(9, 4)),  # 06-08 23:00: outside
        landing_event("product_view", at(13, 12)),
        landing_event("product.viewed", at(15, 10)),
        # Time on page: 30, 45.5 and 20 count; text, negative, bool, missing do not.
        landing_event("time_on_page", at(15, 10), metadata={"seconds": 30}),
        landing_event("time_on_page", at(12, 10), metadata={"seconds": 45.5}),
        landing_event("time_on_page", at(9, 10), metadata={"seconds": 20}),
        landing_event("time_on_page", at(15, 10), metadata={"seconds": "60"}),
        landing_event("time_on_page", at(15, 10), metadata={"seconds": -5}),
        landing_event("time_on_page", at(15, 10), metadata={"seconds": True}),
        landing_event("time_on_page", at(15, 10), metadata={"page": "/"}),
        landing_event("time_on_page", at(15, 10)),
        landing_event("time_on_page", at(15, 10), metadata={"seconds": 1000}, bot=True),
    ]


def days(*counts: int, last: date = date(2026, 6, 15)) -> tuple[VisitorsDay, ...]:
    first = last - timedelta(days=len(counts) - 1)
    return tuple(VisitorsDay(first + timedelta(days=i), n) for i, n in enumerate(counts))


async def test_landing_stats_in_bogota(database: EmbeddedDatabase) -> None:
    await store(database, *fixture())
    stats = await landing.landing_stats(database, tenant=TENANT, zone=BOGOTA, now=NOW)
    assert stats == LandingStats(
        start_date=at(9, 5),
        end_date=NOW,
        visitors_today=1,  # v1 twice; the bot and the product clicker do not count
        visitors_week=3,  # v1, s3, s4
        whatsapp_clicks=3,
        call_clicks=1,
        currency_toggles=2,
        qr_scans=1,
        product_clicks=3,  # product_click, product_view, product.viewed
        avg_time_on_page=31.8,  # (30 + 45.5 + 20) / 3 = 31.83
        last_7_days=days(1, 0, 0, 0, 0, 2, 1),
    )


async def test_landing_stats_in_utc_moves_the_early_hours(database: EmbeddedDatabase) -> None:
    await store(database, *fixture())
    stats = await landing.landing_stats(database, tenant=TENANT, zone=ZoneInfo("UTC"), now=NOW)
    # s3 (04:59 UTC) is today; v2 (06-09 04:59 UTC) and the early qr_scan are inside.
    assert (stats.visitors_today, stats.visitors_week, stats.last_7_days) == (
        2,
        4,
        days(2, 0, 0, 0, 0, 1, 2),
    )
    assert stats.qr_scans == 2


async def test_today_stats_counts_today_only(database: EmbeddedDatabase) -> None:
    await store(database, *fixture())
    stats = await landing.today_stats(database, tenant=TENANT, zone=BOGOTA, now=NOW)
    assert stats == TodayStats(visitors_today=1, whatsapp_clicks=1, qr_scans=1, products_viewed=2)


async def test_an_empty_tenant_answers_zeros(database: EmbeddedDatabase) -> None:
    stats = await landing.landing_stats(database, tenant="empty", zone=BOGOTA, now=NOW)
    assert (stats.visitors_week, stats.avg_time_on_page) == (0, 0.0)
    assert stats.last_7_days == days(0, 0, 0, 0, 0, 0, 0)


async def test_at_local_midnight_today_is_empty(database: EmbeddedDatabase) -> None:
    await store(database, *fixture())
    midnight = at(15, 5)  # 00:00 in Bogota: today has no instant yet
    today = await landing.today_stats(database, tenant=TENANT, zone=BOGOTA, now=midnight)
    assert today == TodayStats(visitors_today=0, whatsapp_clicks=0, qr_scans=0, products_viewed=0)
    week = await landing.landing_stats(database, tenant=TENANT, zone=BOGOTA, now=midnight)
    # 06-09 .. 06-15 (empty): v1 on 06-09, s3 (04:59 UTC) and s4 on 06-14.
    assert week.last_7_days == days(1, 0, 0, 0, 0, 2, 0)
    assert week.visitors_today == 0


def test_pipelines_start_with_the_indexed_match() -> None:
    window = dashboard_window(NOW, BOGOTA)
    created = {"$gte": datetime(2026, 6, 9, 5), "$lt": datetime(2026, 6, 15, 12)}
    (visitors_match, _) = landing.visitors_pipeline(tenant=TENANT, window=window)
    assert visitors_match == {
        "$match": {
            "tenantId": TENANT,
            "createdAt": created,
            "bot": {"$ne": True},
            "eventType": {"$in": ["page_view", "page.viewed", "pageview"]},
        }
    }
    (counts_match, _) = landing.counts_pipeline(tenant=TENANT, window=window)
    assert counts_match["$match"]["eventType"] == {
        "$in": [
            "whatsapp_cart_click",
            "click_whatsapp",
            "click_call",
            "click_toggle_currency",
            "qr_scan",
            "product_view",
            "product.viewed",
            "product_click",
            "time_on_page",
        ]
    }


async def test_the_embedded_store_serves_both_from_its_time_index(
    database: EmbeddedDatabase,
) -> None:
    await store(database, *fixture())
    window = dashboard_window(NOW, BOGOTA)
    for pipeline in (
        landing.visitors_pipeline(tenant=TENANT, window=window),
        landing.counts_pipeline(tenant=TENANT, window=window),
    ):
        selected = database._window(pipeline[0]["$match"])
        assert selected is not None
