"""Roles of event types (docs/metrics.md "Roles of event types"): the table, and every fixed
metric reading Hanzo and landing types as it reads Urban Store's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import mongomock
import pytest

from core.clock import to_naive_utc
from core.roles import ROLE_TYPES, Role, role_of, types_of, types_of_roles
from metrics.customers import retention_window
from metrics.hourly import BuyerActivity
from metrics.windows import dashboard_window
from storage.documents import EVENTS
from storage.embedded import EmbeddedDatabase
from storage.embedded import store as embedded_store
from storage.embedded.offload import Offloader
from tests.conftest import NOW, Run, event, sets_sorted, store
from tests.test_metrics_dashboard_pipelines import every_pipeline


def test_table_matches_docs() -> None:
    assert dict(ROLE_TYPES) == {
        Role.PAGE_VIEW: ("page_view", "page.viewed", "pageview"),
        Role.PRODUCT_VIEW: ("product_view", "product.viewed", "product_click"),
        Role.ADD_TO_CART: ("add_to_cart", "cart.item_added"),
        Role.REMOVE_FROM_CART: ("remove_from_cart", "cart.item_removed"),
        Role.BEGIN_CHECKOUT: ("begin_checkout", "checkout.started"),
        Role.PURCHASE: ("purchase", "order.completed"),
        Role.PAYMENT_CAPTURED: ("payment.captured",),
        Role.REFUND: ("order.refunded",),
        Role.WHATSAPP_CART_CLICK: ("whatsapp_cart_click", "click_whatsapp"),
        Role.CALL_CLICK: ("click_call",),
        Role.CURRENCY_TOGGLE: ("click_toggle_currency",),
        Role.TIME_ON_PAGE: ("time_on_page",),
        Role.QR_SCAN: ("qr_scan",),
    }


def test_every_type_has_one_role() -> None:
    types = [t for role in Role for t in types_of(role)]
    assert len(types) == len(set(types)) == 22
    assert all(role_of(t) in Role for t in types)


def test_role_of_and_types_of() -> None:
    assert role_of("order.completed") is Role.PURCHASE
    assert role_of("pageview") is Role.PAGE_VIEW
    assert role_of("click_whatsapp") is Role.WHATSAPP_CART_CLICK
    assert role_of("order.refunded") is Role.REFUND
    assert role_of("checkout_started") is None  # an Urban Store type outside the table
    assert role_of("wishlist:add") is None
    assert types_of(Role.PURCHASE) == ("purchase", "order.completed")
    assert types_of_roles([Role.PRODUCT_VIEW, Role.PURCHASE]) == [
        "product_view",
        "product.viewed",
        "product_click",
        "purchase",
        "order.completed",
    ]


# ---- the same shop in three vocabularies ------------------------------------

HANZO = {
    "page_view": "page.viewed",
    "product_view": "product.viewed",
    "add_to_cart": "cart.item_added",
    "begin_checkout": "checkout.started",
    "purchase": "order.completed",
}
LANDING = {
    "page_view": "pageview",
    "product_view": "product_click",
    "whatsapp_cart_click": "click_whatsapp",
}
URBAN: dict[str, str] = {}
WEEK = [date(2026, 6, 9) + timedelta(days=n) for n in range(7)]

DASHBOARD = """
query ($mode: CountMode!, $tenantId: ID) {
  dashboardStats(mode: $mode, tenantId: $tenantId) {
    totalSales totalRevenue averageOrderValue
    topProducts { slug count }
    topViewedProducts { slug count }
    salesByDay { date count }
    eventsTimeline { date productView addToCart beginCheckout purchase }
    abandonmentRate
    eventCounts { productView addToCart beginCheckout purchase }
    conversionRates { visitToCart cartToCheckout checkoutToPurchase }
    productPerformance { slug name views addToCart purchases purchasesUnits conversionRate }
    sessionStats { uniqueSessions avgEventsPerSession sessionsWithPurchase }
    retentionMetrics { repurchaseRate recurrentCustomers totalUniqueBuyers periodDays }
    trafficSources { source sessions }
    whatsappSessions whatsappPurchases whatsappSessionsList
  }
}"""
FUNNEL = """
query ($tenantId: ID) { funnel(tenantId: $tenantId) { steps { step count } } }"""
RFM = """
query ($tenantId: ID) {
  rfm(tenantId: $tenantId) { customers { visitorId recency frequency monetary segment } }
}"""
ALERTS = """
query ($tenantId: ID) { alerts(tenantId: $tenantId) { type value productSlug } }"""


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def shop(tenant: str, vocabulary: dict[str, str], *, roles: set[str] | None = None) -> list[Any]:
    """The SHOP events of ``roles`` (all by default) with ``vocabulary``'s types.

    a (u1, google), June 10: page, view bota, cart bota 50, checkout, buys 2 × bota
      at 50 (order o1).
    b, June 12: page, views bota twice and abrigo once, cart abrigo 80, checkout
      (never buys), WhatsApp click.
    c (u1), June 14: buys 1 × abrigo at 80 (order o2).
    """

    def at(day: int, minute: int) -> datetime:
        return utc(2026, 6, day, 10, minute)

    rows: list[tuple[str, dict[str, Any]]] = [
        ("page_view", {"at": at(10, 0), "session": "a", "user": "u1", "source": "google"}),
        ("product_view", {"at": at(10, 1), "session": "a", "slug": "bota", "name": "Bota"}),
        ("add_to_cart", {"at": at(10, 2), "session": "a", "slug": "bota", "price": 50}),
        ("begin_checkout", {"at": at(10, 3), "session": "a", "user": "u1"}),
        (
            "purchase",
            {"at": at(10, 4), "session": "a", "user": "u1", "slug": "bota", "price": 50}
            | {"quantity": 2, "order": "o1"},
        ),
        ("page_view", {"at": at(12, 0), "session": "b"}),
        ("product_view", {"at": at(12, 1), "session": "b", "slug": "bota"}),
        ("product_view", {"at": at(12, 2), "session": "b", "slug": "bota"}),
        ("product_view", {"at": at(12, 3), "session": "b", "slug": "abrigo", "name": "Abrigo"}),
        ("add_to_cart", {"at": at(12, 4), "session": "b", "slug": "abrigo", "price": 80}),
        ("begin_checkout", {"at": at(12, 5), "session": "b"}),
        ("whatsapp_cart_click", {"at": at(12, 6), "session": "b"}),
        (
            "purchase",
            {"at": at(14, 0), "session": "c", "user": "u1", "slug": "abrigo", "price": 80}
            | {"order": "o2"},
        ),
    ]
    return [
        event(vocabulary.get(role, role), tenant=tenant, **fields)
        for role, fields in rows
        if roles is None or role in roles
    ]


def days(counts: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    fields = ("productView", "addToCart", "beginCheckout", "purchase")
    return [
        {"date": d.isoformat(), **{f: counts.get(d.day, {}).get(f, 0) for f in fields}}
        for d in WEEK
    ]


def performance(
    slug: str, name: str, views: int, carts: int, buys: int, units: int, rate: float
) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": name,
        "views": views,
        "addToCart": carts,
        "purchases": buys,
        "purchasesUnits": units,
        "conversionRate": rate,
    }


# Shared by TOTAL and UNIQUE: the sales figures count events either way.
SHOP_SALES = {
    "totalSales": 2,  # a's and c's purchases
    "totalRevenue": 180.0,  # 2 × 50 + 1 × 80
    "averageOrderValue": 90.0,
    "topProducts": [{"slug": "bota", "count": 2}, {"slug": "abrigo", "count": 1}],
    "salesByDay": [{"date": d.isoformat(), "count": int(d.day in (10, 14))} for d in WEEK],
    "eventsTimeline": days(
        {
            10: {"productView": 1, "addToCart": 1, "beginCheckout": 1, "purchase": 1},
            12: {"productView": 3, "addToCart": 1, "beginCheckout": 1},
            14: {"purchase": 1},
        }
    ),
    # identifiers u1 (a) and b begin checkout; u1 buys: 1 of 2
    "abandonmentRate": 50.0,
    # 13 events over sessions a (5), b (7), c (1)
    "sessionStats": {"uniqueSessions": 3, "avgEventsPerSession": 4.3, "sessionsWithPurchase": 2},
    # u1: orders o1 and o2
    "retentionMetrics": {
        "repurchaseRate": 100.0,
        "recurrentCustomers": 1,
        "totalUniqueBuyers": 1,
        "periodDays": 90,
    },
    "trafficSources": [{"source": "direct", "sessions": 2}, {"source": "google", "sessions": 1}],
    "whatsappSessions": 1,
    "whatsappPurchases": 0,
    "whatsappSessionsList": ["b"],
}
SHOP_TOTAL = {
    **SHOP_SALES,
    "topViewedProducts": [{"slug": "bota", "count": 3}, {"slug": "abrigo", "count": 1}],
    "eventCounts": {"productView": 4, "addToCart": 2, "beginCheckout": 2, "purchase": 2},
    "conversionRates": {"visitToCart": 50.0, "cartToCheckout": 100.0, "checkoutToPurchase": 100.0},
    "productPerformance": [
        performance("bota", "Bota", 3, 1, 1, 2, 33.3),
        performance("abrigo", "Abrigo", 1, 1, 1, 1, 100.0),
    ],
}
SHOP_UNIQUE = {
    **SHOP_SALES,
    "topViewedProducts": [{"slug": "bota", "count": 2}, {"slug": "abrigo", "count": 1}],
    "eventCounts": {"productView": 2, "addToCart": 2, "beginCheckout": 2, "purchase": 2},
    "conversionRates": {"visitToCart": 100.0, "cartToCheckout": 100.0, "checkoutToPurchase": 100.0},
    "productPerformance": [
        performance("bota", "Bota", 2, 1, 1, 2, 50.0),  # a and b view; a carts and buys
        performance("abrigo", "Abrigo", 1, 1, 1, 1, 100.0),  # b views and carts; c buys
    ],
}
# The landing shop: page views, product views and the WhatsApp click only.
LANDING_ROLES = {"page_view", "product_view", "whatsapp_cart_click"}
NO_SALES = {
    "totalSales": 0,
    "totalRevenue": 0.0,
    "averageOrderValue": 0.0,
    "topProducts": [],
    "salesByDay": [{"date": d.isoformat(), "count": 0} for d in WEEK],
    "eventsTimeline": days({10: {"productView": 1}, 12: {"productView": 3}}),
    "abandonmentRate": 0.0,
    # 7 events over sessions a (2) and b (5)
    "sessionStats": {"uniqueSessions": 2, "avgEventsPerSession": 3.5, "sessionsWithPurchase": 0},
    "retentionMetrics": {
        "repurchaseRate": 0.0,
        "recurrentCustomers": 0,
        "totalUniqueBuyers": 0,
        "periodDays": 90,
    },
    "trafficSources": [{"source": "direct", "sessions": 1}, {"source": "google", "sessions": 1}],
    "whatsappSessions": 1,
    "whatsappPurchases": 0,
    "whatsappSessionsList": ["b"],
    "conversionRates": {"visitToCart": 0.0, "cartToCheckout": 0.0, "checkoutToPurchase": 0.0},
}
LANDING_TOTAL = {
    **NO_SALES,
    "topViewedProducts": [{"slug": "bota", "count": 3}, {"slug": "abrigo", "count": 1}],
    "eventCounts": {"productView": 4, "addToCart": 0, "beginCheckout": 0, "purchase": 0},
    "productPerformance": [
        performance("bota", "Bota", 3, 0, 0, 0, 0.0),
        performance("abrigo", "Abrigo", 1, 0, 0, 0, 0.0),
    ],
}
LANDING_UNIQUE = {
    **NO_SALES,
    "topViewedProducts": [{"slug": "bota", "count": 2}, {"slug": "abrigo", "count": 1}],
    "eventCounts": {"productView": 2, "addToCart": 0, "beginCheckout": 0, "purchase": 0},
    "productPerformance": [
        performance("bota", "Bota", 2, 0, 0, 0, 0.0),
        performance("abrigo", "Abrigo", 1, 0, 0, 0, 0.0),
    ],
}


async def data(run: Run, query: str, variables: dict[str, Any]) -> Any:
    result = await run(query, variables)
    assert result.errors is None, result.errors
    return result.data


@pytest.fixture
async def shops(database: EmbeddedDatabase) -> None:
    await store(
        database,
        *shop("urban", URBAN),
        *shop("hanzo", HANZO),
        *shop("urban-landing", URBAN, roles=LANDING_ROLES),
        *shop("landing", LANDING, roles=LANDING_ROLES),
    )


@pytest.mark.usefixtures("shops")
@pytest.mark.parametrize(
    ("tenants", "mode", "expected"),
    [
        (("urban", "hanzo"), "TOTAL", SHOP_TOTAL),
        (("urban", "hanzo"), "UNIQUE", SHOP_UNIQUE),
        (("urban-landing", "landing"), "TOTAL", LANDING_TOTAL),
        (("urban-landing", "landing"), "UNIQUE", LANDING_UNIQUE),
    ],
)
async def test_dashboard_reads_hanzo_and_landing_types_by_role(
    run: Run, tenants: tuple[str, str], mode: str, expected: dict[str, Any]
) -> None:
    for tenant in tenants:
        answer = await data(run, DASHBOARD, {"mode": mode, "tenantId": tenant})
        assert answer == {"dashboardStats": expected}, tenant


def funnel_steps(*counts: int) -> dict[str, Any]:
    names = ("page_view", "product_view", "add_to_cart", "begin_checkout", "purchase")
    steps = [{"step": n, "count": c} for n, c in zip(names, counts, strict=True)]
    return {"funnel": {"steps": steps}}


@pytest.mark.usefixtures("shops")
async def test_funnel_and_rfm_read_hanzo_and_landing_types_by_role(run: Run) -> None:
    for tenant in ("urban", "hanzo"):
        # page a, b; view a, b; cart a, b; checkout a, b; purchase a, c
        assert await data(run, FUNNEL, {"tenantId": tenant}) == funnel_steps(2, 2, 2, 2, 2)
        # u1: last purchase June 14 10:00 (1 day 2 h before NOW), orders o1 and o2
        assert await data(run, RFM, {"tenantId": tenant}) == {
            "rfm": {
                "customers": [
                    {
                        "visitorId": "u1",
                        "recency": 1,
                        "frequency": 2,
                        "monetary": 180.0,
                        "segment": "LOYAL",
                    }
                ]
            }
        }
    for tenant in ("urban-landing", "landing"):
        assert await data(run, FUNNEL, {"tenantId": tenant}) == funnel_steps(2, 2, 0, 0, 0)
        assert await data(run, RFM, {"tenantId": tenant}) == {"rfm": {"customers": []}}


def busy(tenant: str, vocabulary: dict[str, str]) -> list[Any]:
    """Half an hour before NOW: 3 sessions begin checkout and none buys; 12 sessions
    view bota and 11 abrigo, nobody buys; 5 sessions add to cart without checkout;
    v0 has 2 views and 14 page views (16 events), no purchase."""
    at = NOW - timedelta(minutes=30)

    def e(role: str, session: str, slug: str | None = None) -> Any:
        return event(vocabulary.get(role, role), at=at, session=session, slug=slug, tenant=tenant)

    return [
        *[e("begin_checkout", f"c{i}") for i in range(3)],
        *[e("product_view", f"v{i}", "bota") for i in range(12)],
        *[e("product_view", f"v{i}", "abrigo") for i in range(11)],
        *[e("add_to_cart", f"a{i}") for i in range(5)],
        *[e("page_view", "v0") for _ in range(14)],
    ]


async def test_alerts_read_hanzo_and_landing_types_by_role(
    database: EmbeddedDatabase, run: Run
) -> None:
    landing_roles = {"page_view", "product_view"}
    await store(
        database,
        *busy("urban", URBAN),
        *busy("hanzo", HANZO),
        *[e for e in busy("urban-landing", URBAN) if e["eventType"] in landing_roles],
        *[e for e in busy("landing", LANDING) if role_of(e["eventType"]) in landing_roles],
    )
    popular = [
        {"type": "POPULAR_NO_CONVERSION", "value": 12.0, "productSlug": "bota"},
        {"type": "POPULAR_NO_CONVERSION", "value": 11.0, "productSlug": "abrigo"},
    ]
    stuck = {"type": "STUCK_SESSIONS", "value": 1.0, "productSlug": None}
    for tenant in ("urban", "hanzo"):
        assert await data(run, ALERTS, {"tenantId": tenant}) == {
            "alerts": [
                {"type": "HIGH_ABANDONMENT", "value": 100.0, "productSlug": None},
                *popular,
                {"type": "CARTS_ABANDONED", "value": 5.0, "productSlug": None},
                stuck,
            ]
        }, tenant
    for tenant in ("urban-landing", "landing"):
        assert await data(run, ALERTS, {"tenantId": tenant}) == {"alerts": [*popular, stuck]}


async def test_a_session_counts_once_per_role_whatever_types_it_sends(
    database: EmbeddedDatabase, run: Run
) -> None:
    at = utc(2026, 6, 12, 10)
    await store(
        database,
        # one session, three vocabularies: one page view, one product view per role
        event("page_view", at=at, session="m", tenant="mixed"),
        event("pageview", at=at, session="m", tenant="mixed"),
        event("product_view", at=at, session="m", tenant="mixed", slug="bota"),
        event("product.viewed", at=at, session="m", tenant="mixed", slug="bota"),
        event("product_click", at=at, session="m", tenant="mixed", slug="bota"),
    )
    unique = await data(run, DASHBOARD, {"mode": "UNIQUE", "tenantId": "mixed"})
    assert unique["dashboardStats"]["topViewedProducts"] == [{"slug": "bota", "count": 1}]
    assert unique["dashboardStats"]["eventCounts"]["productView"] == 1
    total = await data(run, DASHBOARD, {"mode": "TOTAL", "tenantId": "mixed"})
    assert total["dashboardStats"]["topViewedProducts"] == [{"slug": "bota", "count": 3}]
    assert total["dashboardStats"]["eventCounts"]["productView"] == 3
    assert await data(run, FUNNEL, {"tenantId": "mixed"}) == funnel_steps(1, 1, 0, 0, 0)


@pytest.mark.parametrize("offload", [False, True], ids=["inline", "forked"])
async def test_role_pipelines_run_on_the_embedded_engine_as_on_mongomock(
    database: EmbeddedDatabase, offload: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if offload:  # every pipeline in a forked child (storage.embedded.offload)
        monkeypatch.setattr(embedded_store, "OFFLOAD_MIN_DOCS", 0)
        database._offloader = Offloader(1)
    # Every typed role, in all three vocabularies, over one week and a few sessions.
    kinds = [t for role in Role for t in types_of(role)]
    start = NOW - timedelta(days=6)
    docs = [
        event(
            kinds[n % len(kinds)],
            at=start + timedelta(minutes=37 * n),
            session=f"s{n % 7}",
            user=f"u{n % 2}" if n % 3 == 0 else None,
            slug=None if n % 5 == 0 else f"p{n % 3}",
            price=float(n % 4),
            source="google" if n % 4 == 0 else None,
        )
        for n in range(200)
    ]
    await store(database, *docs)
    plain: Any = mongomock.MongoClient(tz_aware=False).db[EVENTS]
    plain.insert_many([dict(doc) for doc in docs])
    window = dashboard_window(NOW, ZoneInfo("UTC"))
    pipelines = {
        **every_pipeline(window),
        "buyers": BuyerActivity().pipeline(
            "default",
            to_naive_utc(retention_window(NOW).start),
            to_naive_utc(retention_window(NOW).end),
        ),
    }
    for name, pipeline in pipelines.items():
        assert database._window(pipeline[0]["$match"]) is not None, name  # the index serves it
        fast = await database.run_pipeline(EVENTS, pipeline)
        assert sets_sorted(fast) == sets_sorted(list(plain.aggregate(pipeline))), name
        assert fast, name
    assert database._offloader is None or database._offloader.forks == len(pipelines)


TRACK = "mutation ($e: TrackEventInput!) { trackEvent(input: $e) { status } }"
IMPORT = """
mutation ($events: [ImportEventInput!]!) { importEvents(events: $events) { inserted } }"""


async def test_a_refund_without_its_order_is_refused(run: Run) -> None:
    for metadata in (None, {"reason": "damaged"}):
        refund = {"eventType": "order.refunded", "sessionId": "s", "price": 30}
        result = await run(TRACK, {"e": {**refund, "metadata": metadata}})
        assert [e.extensions for e in result.errors] == [
            {"code": "BAD_USER_INPUT", "field": "input.metadata.order_id"}
        ]
    imported = {"eventType": "order.refunded", "sessionId": "s", "createdAt": "2026-06-14T10:00Z"}
    result = await run(IMPORT, {"events": [imported]})
    assert [e.extensions for e in result.errors] == [
        {"code": "BAD_USER_INPUT", "field": "events[0].metadata.order_id"}
    ]


async def test_refunds_leave_the_dashboards_revenue_alone(run: Run) -> None:
    at = "2026-06-14T10:00:00Z"
    order = {"eventType": "order.completed", "sessionId": "s", "createdAt": at, "price": 100}
    refund = {"eventType": "order.refunded", "sessionId": "s", "createdAt": at, "price": 30}
    events = [
        {**order, "metadata": {"order_id": "o1"}},
        {**refund, "metadata": {"order_id": "o1"}},
    ]
    assert await data(run, IMPORT, {"events": events}) == {"importEvents": {"inserted": 2}}
    query = "{ dashboardStats { totalSales totalRevenue averageOrderValue } }"
    assert await data(run, query, {}) == {
        "dashboardStats": {"totalSales": 1, "totalRevenue": 100.0, "averageOrderValue": 100.0}
    }
