"""dashboardStats through the GraphQL schema: every field, both modes, hand-counted.

The SHOP fixture below is the whole store; each expected number is counted from
it in the comments. NOW is Monday 2026-06-15 12:00 UTC, so the UTC window runs
from 2026-06-09 00:00 to NOW.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import Run, event, store

FULL = """
query ($mode: CountMode!, $tenantId: ID, $timezone: String) {
  dashboardStats(mode: $mode, tenantId: $tenantId, timezone: $timezone) {
    mode startDate endDate totalSales totalRevenue averageOrderValue
    topProducts { slug count }
    topViewedProducts { slug count }
    salesByDay { date count }
    eventsTimeline {
      date productView addToCart beginCheckout purchase
      checkoutStarted paymentInfoEntered orderCompleted
    }
    abandonmentRate
    eventCounts { productView addToCart beginCheckout purchase }
    conversionRates { visitToCart cartToCheckout checkoutToPurchase }
    checkoutStartedCount paymentInfoEnteredCount orderCompletedCount
    conversionCheckoutToPayment conversionPaymentToOrder
    errorCounts { paymentError checkoutError paymentConfirmationError addressError }
    errorsTimeline { date paymentError checkoutError paymentConfirmationError addressError }
    productPerformance { slug name views addToCart purchases purchasesUnits conversionRate }
    sessionStats { uniqueSessions avgEventsPerSession sessionsWithPurchase }
    retentionMetrics { repurchaseRate recurrentCustomers totalUniqueBuyers periodDays }
    trafficSources { source sessions }
    whatsappSessions whatsappPurchases whatsappSessionsList
  }
}"""
WEEK = [date(2026, 6, 9) + timedelta(days=n) for n in range(7)]
TIMELINE_FIELDS = (
    "productView",
    "addToCart",
    "beginCheckout",
    "purchase",
    "checkoutStarted",
    "paymentInfoEntered",
    "orderCompleted",
)
ERROR_FIELDS = ("paymentError", "checkoutError", "paymentConfirmationError", "addressError")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def sales_days(counts: dict[int, int]) -> list[dict[str, Any]]:
    """salesByDay of WEEK; ``counts`` maps a June day to its count, others are 0."""
    return [{"date": day.isoformat(), "count": counts.get(day.day, 0)} for day in WEEK]


def day_rows(fields: tuple[str, ...], counts: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    """A per-day series of WEEK with ``fields``; ``counts[june day]`` holds the non-zeros."""
    return [
        {"date": day.isoformat(), **{f: counts.get(day.day, {}).get(f, 0) for f in fields}}
        for day in WEEK
    ]


def performance(
    slug: str, name: str, views: int, carts: int, purchases: int, units: int, rate: float
) -> dict[str, Any]:
    """A productPerformance row, its fields in the contract's order."""
    return {
        "slug": slug,
        "name": name,
        "views": views,
        "addToCart": carts,
        "purchases": purchases,
        "purchasesUnits": units,
        "conversionRate": rate,
    }


async def dashboard(run: Run, **variables: Any) -> Any:
    result = await run(FULL, {"mode": "TOTAL", **variables})
    assert result.errors is None, result.errors
    return result.data["dashboardStats"]


def shop(tenant: str = "default") -> list[EventDocument]:
    """Five sessions in the week, one purchase just before it, logged-in buyers over 90 days."""
    ana = "ana@example.com"
    at = utc

    def e(kind: str, when: datetime, session: str, **fields: Any) -> EventDocument:
        return event(kind, at=when, session=session, tenant=tenant, **fields)

    return [
        # s1: ana, from google, views the hat twice and buys an order of two lines.
        e("page_view", at(2026, 6, 10, 9, 0), "s1", user=ana, source="google"),
        e("product_view", at(2026, 6, 10, 9, 1), "s1", user=ana, slug="hat", name="Hat"),
        e("product_view", at(2026, 6, 10, 9, 2), "s1", user=ana, slug="hat", name="Hat"),
        e("add_to_cart", at(2026, 6, 10, 9, 3), "s1", user=ana, slug="hat", price=20),
        e("begin_checkout", at(2026, 6, 10, 9, 4), "s1", user=ana),
        e(
            "purchase",
            at(2026, 6, 10, 9, 5),
            "s1",
            user=ana,
            slug="hat",
            price=20,
            quantity=2,
            order="o1",
        ),
        e(
            "purchase",
            at(2026, 6, 10, 9, 5),
            "s1",
            user=ana,
            slug="scarf",
            name="Scarf",
            price=15,
            order="o1",
        ),
        # s2: anonymous; its first sourced event is the third (instagram); abandons checkout.
        e("product_view", at(2026, 6, 11, 10, 0), "s2", slug="hat", name="Hat v2"),
        e("product_view", at(2026, 6, 11, 10, 5), "s2", slug="cap"),
        e("page_view", at(2026, 6, 11, 10, 6), "s2", source="instagram"),
        e("add_to_cart", at(2026, 6, 11, 10, 7), "s2", slug="cap", price=10),
        e("begin_checkout", at(2026, 6, 11, 10, 8), "s2"),
        # s3: an explicit "direct" is no source, so its google view decides; WhatsApp buyer.
        e("page_view", at(2026, 6, 12, 8, 0), "s3", source="direct"),
        e("product_view", at(2026, 6, 12, 8, 1), "s3", slug="cap", name="Cap", source="google"),
        e("whatsapp_cart_click", at(2026, 6, 12, 8, 2), "s3", slug="cap"),
        e("whatsapp_purchase", at(2026, 6, 12, 8, 3), "s3"),
        # s4: instagram; WhatsApp click, a payment error, the checkout steps, a purchase.
        e("whatsapp_cart_click", at(2026, 6, 13, 7, 0), "s4", source="instagram"),
        e("payment_error", at(2026, 6, 13, 7, 1), "s4"),
        e("checkout_started", at(2026, 6, 13, 7, 2), "s4"),
        e("payment_info_entered", at(2026, 6, 13, 7, 3), "s4"),
        e("order_completed", at(2026, 6, 13, 7, 4), "s4"),
        e("purchase", at(2026, 6, 13, 7, 5), "s4", slug="cap", price=10),
        # s5: direct, a page view and a custom event today.
        e("page_view", at(2026, 6, 15, 11, 0), "s5"),
        e("newsletter_signup", at(2026, 6, 15, 11, 1), "s5"),
        # Before the week: one second before its start; only retention sees these.
        e("purchase", at(2026, 6, 8, 23, 59, 59), "s0", user=ana, slug="hat", price=20, order="o0"),
        e("purchase", at(2026, 6, 1, 10), "b1", user="ben@example.com", slug="cap", price=10),
        e("purchase", at(2026, 5, 20, 10), "b2", user="ben@example.com", slug="cap", price=10),
        e("purchase", at(2026, 5, 1, 10), "c1", user="cy@example.com", slug="hat", order="o9"),
        e("purchase", at(2026, 5, 1, 10), "c1", user="cy@example.com", slug="cap", order="o9"),
        e("purchase", at(2026, 3, 17, 12), "d1", user="dan@example.com", slug="hat"),
        e("purchase", at(2026, 3, 17, 11, 59, 59), "e1", user="eve@example.com", slug="hat"),
    ]


# What both modes share. Counted from shop():
SHARED: dict[str, Any] = {
    "startDate": "2026-06-09T00:00:00+00:00",
    "endDate": "2026-06-15T12:00:00+00:00",
    "totalSales": 3,  # s1's two lines and s4's purchase
    "totalRevenue": 65.0,  # 20×2 + 15×1 + 10×1
    "averageOrderValue": 21.67,  # 65 / 3 = 21.666…
    "topProducts": [  # units: hat 2, cap 1, scarf 1 (tie by slug)
        {"slug": "hat", "count": 2},
        {"slug": "cap", "count": 1},
        {"slug": "scarf", "count": 1},
    ],
    "salesByDay": sales_days({10: 2, 13: 1}),
    "eventsTimeline": day_rows(
        TIMELINE_FIELDS,
        {
            10: {"productView": 2, "addToCart": 1, "beginCheckout": 1, "purchase": 2},
            11: {"productView": 2, "addToCart": 1, "beginCheckout": 1},
            12: {"productView": 1},
            13: {
                "purchase": 1,
                "checkoutStarted": 1,
                "paymentInfoEntered": 1,
                "orderCompleted": 1,
            },
        },
    ),
    "abandonmentRate": 50.0,  # checkouts: ana (bought), s2 (did not)
    "checkoutStartedCount": 1,
    "paymentInfoEnteredCount": 1,
    "orderCompletedCount": 1,
    "conversionCheckoutToPayment": 100.0,
    "conversionPaymentToOrder": 100.0,
    "errorCounts": {
        "paymentError": 1,
        "checkoutError": 0,
        "paymentConfirmationError": 0,
        "addressError": 0,
    },
    "errorsTimeline": day_rows(ERROR_FIELDS, {13: {"paymentError": 1}}),
    # s1..s5; 7 + 5 + 4 + 6 + 2 = 24 events; s1 and s4 bought.
    "sessionStats": {"uniqueSessions": 5, "avgEventsPerSession": 4.8, "sessionsWithPurchase": 2},
    # 90 days: ana orders o0, o1; ben two purchases without order id; cy one order of
    # two lines; dan at the first instant; eve one second earlier is out.
    "retentionMetrics": {
        "repurchaseRate": 50.0,
        "recurrentCustomers": 2,
        "totalUniqueBuyers": 4,
        "periodDays": 90,
    },
    "trafficSources": [  # google: s1, s3; instagram: s2, s4; direct: s5
        {"source": "google", "sessions": 2},
        {"source": "instagram", "sessions": 2},
        {"source": "direct", "sessions": 1},
    ],
    "whatsappSessions": 2,
    "whatsappPurchases": 1,
    "whatsappSessionsList": ["s4", "s3"],
}


async def test_every_field_in_total_mode(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    assert await dashboard(run, mode="TOTAL") == {
        **SHARED,
        "mode": "TOTAL",
        "topViewedProducts": [{"slug": "hat", "count": 3}, {"slug": "cap", "count": 2}],
        "eventCounts": {"productView": 5, "addToCart": 2, "beginCheckout": 2, "purchase": 3},
        "conversionRates": {
            "visitToCart": 40.0,
            "cartToCheckout": 100.0,
            "checkoutToPurchase": 150.0,  # events: 3 purchases after 2 checkouts
        },
        "productPerformance": [
            # name: the latest named event of the slug ("Hat v2" on the 11th)
            performance("hat", "Hat v2", 3, 1, 1, 2, 33.3),
            performance("cap", "Cap", 2, 1, 1, 1, 50.0),
            performance("scarf", "Scarf", 0, 0, 1, 1, 0.0),
        ],
    }


async def test_every_field_in_unique_mode(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    assert await dashboard(run, mode="UNIQUE") == {
        **SHARED,
        "mode": "UNIQUE",
        # viewing sessions: hat s1, s2; cap s2, s3: a tie, by slug
        "topViewedProducts": [{"slug": "cap", "count": 2}, {"slug": "hat", "count": 2}],
        # sessions: viewed s1, s2, s3; carted s1, s2; checked out s1, s2; bought s1, s4
        "eventCounts": {"productView": 3, "addToCart": 2, "beginCheckout": 2, "purchase": 2},
        "conversionRates": {
            "visitToCart": 66.7,
            "cartToCheckout": 100.0,
            "checkoutToPurchase": 100.0,
        },
        "productPerformance": [
            performance("cap", "Cap", 2, 1, 1, 1, 50.0),
            performance("hat", "Hat v2", 2, 1, 1, 2, 50.0),
            performance("scarf", "Scarf", 0, 0, 1, 1, 0.0),
        ],
    }


EMPTY: dict[str, Any] = {
    "startDate": "2026-06-09T00:00:00+00:00",
    "endDate": "2026-06-15T12:00:00+00:00",
    "totalSales": 0,
    "totalRevenue": 0.0,
    "averageOrderValue": 0.0,
    "topProducts": [],
    "topViewedProducts": [],
    "salesByDay": sales_days({}),
    "eventsTimeline": day_rows(TIMELINE_FIELDS, {}),
    "abandonmentRate": 0.0,
    "eventCounts": {"productView": 0, "addToCart": 0, "beginCheckout": 0, "purchase": 0},
    "conversionRates": {"visitToCart": 0.0, "cartToCheckout": 0.0, "checkoutToPurchase": 0.0},
    "checkoutStartedCount": 0,
    "paymentInfoEnteredCount": 0,
    "orderCompletedCount": 0,
    "conversionCheckoutToPayment": 0.0,
    "conversionPaymentToOrder": 0.0,
    "errorCounts": {
        "paymentError": 0,
        "checkoutError": 0,
        "paymentConfirmationError": 0,
        "addressError": 0,
    },
    "errorsTimeline": day_rows(ERROR_FIELDS, {}),
    "productPerformance": [],
    "sessionStats": {"uniqueSessions": 0, "avgEventsPerSession": 0.0, "sessionsWithPurchase": 0},
    "retentionMetrics": {
        "repurchaseRate": 0.0,
        "recurrentCustomers": 0,
        "totalUniqueBuyers": 0,
        "periodDays": 90,
    },
    "trafficSources": [],
    "whatsappSessions": 0,
    "whatsappPurchases": 0,
    "whatsappSessionsList": [],
}


@pytest.mark.parametrize("mode", ["TOTAL", "UNIQUE"])
async def test_empty_store_is_all_zeros(run: Run, mode: str) -> None:
    assert await dashboard(run, mode=mode) == {**EMPTY, "mode": mode}


@pytest.mark.parametrize("mode", ["TOTAL", "UNIQUE"])
async def test_other_tenants_never_move_a_number(
    database: EmbeddedDatabase, run: Run, mode: str
) -> None:
    await store(database, *shop())
    alone = await dashboard(run, mode=mode)
    await store(database, *shop("other"), *shop("third"))
    assert await dashboard(run, mode=mode) == alone
    assert await dashboard(run, mode=mode, tenantId="other") == alone
    assert await dashboard(run, mode=mode, tenantId="nobody") == {**EMPTY, "mode": mode}


async def test_unknown_time_zone_is_bad_user_input(run: Run) -> None:
    result = await run(FULL, {"mode": "TOTAL", "timezone": "Mars/Olympus"})
    assert result.data is None
    assert [error.extensions["code"] for error in result.errors] == ["BAD_USER_INPUT"]


UNIQUE_SESSIONS_QUERY = (
    "{ dashboardStats(mode: UNIQUE) { eventCounts { purchase } trafficSources { source } } }"
)
SALES_QUERY = (
    "{ dashboardStats { totalSales totalRevenue averageOrderValue salesByDay { count } } }"
)


# Cold, a pass reads its hour summary in two pipelines: the window's closed
# hours, and (NOW being 12:00) the hour before it in 5-minute slices.
PIPELINES_PER_PASS = 2


@pytest.mark.parametrize(
    ("query", "passes"),
    [
        ("{ dashboardStats { mode startDate endDate } }", 0),
        ("{ dashboardStats { totalSales } }", 1),
        (SALES_QUERY, 2),  # counts per type and day; purchase line values
        ("{ dashboardStats { topProducts { slug } sessionStats { sessionsWithPurchase } } }", 2),
        ("{ dashboardStats { eventsTimeline { date } eventCounts { purchase } } }", 1),
        (UNIQUE_SESSIONS_QUERY, 1),
        ("{ dashboardStats { errorCounts { addressError } errorsTimeline { date } } }", 1),
        ("{ dashboardStats { topViewedProducts { slug } productPerformance { name } } }", 1),
        ("{ dashboardStats { whatsappSessions whatsappPurchases whatsappSessionsList } }", 1),
        ("{ dashboardStats { abandonmentRate retentionMetrics { periodDays } } }", 2),
    ],
)
async def test_a_selection_runs_only_the_passes_it_needs(
    database: EmbeddedDatabase, run: Run, query: str, passes: int
) -> None:
    await store(database, *shop())
    result = await run(query)
    assert result.errors is None, result.errors
    assert database.pipelines_run == passes * PIPELINES_PER_PASS


@pytest.mark.parametrize("mode", ["TOTAL", "UNIQUE"])
async def test_all_27_fields_run_seven_passes(
    database: EmbeddedDatabase, run: Run, mode: str
) -> None:
    # sales, type counts (timeline and errors), products, sessions, whatsapp,
    # abandonment, retention
    await store(database, *shop())
    await dashboard(run, mode=mode)
    assert database.pipelines_run == 7 * PIPELINES_PER_PASS
