"""Query.metrics through the schema (hand-counted figures) and through the real server
(access, hostile arguments): docs/metrics.md, Metrics; Ranges and buckets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from storage.embedded import EmbeddedDatabase
from tests.conftest import Run, cost, store, token
from tests.test_metrics_series import shop

SERIES = """query($m: Metric!, $p: String, $s: Date, $e: Date, $g: Granularity! = DAY,
  $f: EventFilter, $c: Comparison, $z: String, $t: String) {
  metrics(metric: $m, period: $p, start: $s, end: $e, granularity: $g, filter: $f,
          compare: $c, timezone: $z, eventType: $t) {
    metric period granularity startDate endDate total additive unit currency
    dataPoints { date value }
    previous { startDate endDate total dataPoints { value } previous { total } }
    change
  }
}"""
DAYS = {"s": "2026-06-10", "e": "2026-06-12"}


async def test_revenue_per_day_with_the_previous_period(
    database: EmbeddedDatabase, run: Run
) -> None:
    await store(database, *shop())
    result = await run(SERIES, {"m": "REVENUE", "c": "PREVIOUS_PERIOD", **DAYS})
    assert result.errors is None, result.errors
    assert result.data["metrics"] == {
        "metric": "REVENUE",
        "period": None,
        "granularity": "DAY",
        "startDate": "2026-06-10T00:00:00+00:00",
        "endDate": "2026-06-13T00:00:00+00:00",
        "total": 35.5,
        "additive": True,
        "unit": "COP",  # the default tenant's currency
        "currency": "COP",
        "dataPoints": [
            {"date": "2026-06-10T00:00:00+00:00", "value": 25.0},
            {"date": "2026-06-11T00:00:00+00:00", "value": 7.5},
            {"date": "2026-06-12T00:00:00+00:00", "value": 3.0},
        ],
        "previous": {
            "startDate": "2026-06-07T00:00:00+00:00",
            "endDate": "2026-06-10T00:00:00+00:00",
            "total": 1.0,
            "dataPoints": [{"value": 0.0}, {"value": 0.0}, {"value": 1.0}],
            "previous": None,
        },
        "change": 3450.0,
    }


async def test_a_period_a_filter_and_a_zone(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    google = await run(SERIES, {"m": "SESSIONS", "f": {"source": "google"}, **DAYS})
    assert [p["value"] for p in google.data["metrics"]["dataPoints"]] == [1, 0, 0]
    bogota = await run(SERIES, {"m": "ORDERS", "z": "America/Bogota", **DAYS})
    assert [p["value"] for p in bogota.data["metrics"]["dataPoints"]] == [2, 0, 1]
    week = await run(SERIES, {"m": "PAGEVIEWS", "p": "7d", "g": "WEEK"})
    figures = week.data["metrics"]
    # 7d from NOW (Monday 06-15 12:00): 06-09 to now; weeks start 06-09 (clipped), 06-15.
    assert figures["period"] == "7d"
    assert [p["date"][:10] for p in figures["dataPoints"]] == ["2026-06-09", "2026-06-15"]
    assert [p["value"] for p in figures["dataPoints"]] == [3, 0]
    assert figures["unit"] == "count" and figures["currency"] is None


ACCESS = "query($t: ID) { metrics(metric: VISITORS, tenantId: $t) { total } }"


@pytest.mark.parametrize(
    ("claims", "tenant", "code"),
    [
        ({"admin": False}, None, "FORBIDDEN"),
        ({"admin": True, "tenant": "shop2"}, None, "FORBIDDEN"),
        ({"admin": True, "tenant": "shop2"}, "shop2", None),
    ],
)
async def test_admin_only_and_scoped(
    client: httpx.AsyncClient, claims: dict[str, Any], tenant: str | None, code: str | None
) -> None:
    bearer = token(admin=claims["admin"], tenant=claims.get("tenant"))
    response = await client.post(
        "/graphql",
        json={"query": ACCESS, "variables": {"t": tenant}},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    body = response.json()
    if code is None:
        assert body == {"data": {"metrics": {"total": 0.0}}, "extensions": cost(2, 998)}
    else:
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ('metric: REVENUE, period: "7d", start: "2026-06-01"', "period"),
        ('metric: REVENUE, period: "7days"', "period"),
        ('metric: REVENUE, period: "' + "9" * 5000 + 'd"', "period"),
        ('metric: REVENUE, period: "0d"', "period"),
        ('metric: REVENUE, period: "12m", granularity: HOUR', "granularity"),
        ('metric: REVENUE, start: "1900-01-01"', "start"),
        ('metric: REVENUE, timezone: "../../etc/passwd"', "timezone"),
        ("metric: EVENTS", "eventType"),
        ('metric: EVENTS, eventType: "' + "x" * 300 + '"', "eventType"),
        ('metric: SESSIONS, filter: {source: "a\\u0000b"}', "filter.source"),
        ('metric: SESSIONS, filter: {page: "' + "p" * 300 + '"}', "filter.page"),
    ],
)
async def test_hostile_arguments_are_bad_user_input_without_a_trace(
    client: httpx.AsyncClient, arguments: str, field: str
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": f"{{ metrics({arguments}) {{ total }} }}"},
        headers={"Authorization": f"Bearer {token(tenant='*')}"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert "Traceback" not in response.text and ".py" not in response.text


async def test_an_unknown_metric_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ metrics(metric: PROFIT) { total } }"},
        headers={"Authorization": f"Bearer {token(tenant='*')}"},
    )
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


OVERVIEW = """query($s: Date, $e: Date) { overview(start: $s, end: $e) {
  startDate endDate currency
  revenue { value previous change } orders { value previous change }
  averageOrderValue { value previous change } conversionRate { value previous change }
  visitors { value previous change } } }"""


async def test_overview_against_the_previous_period(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    result = await run(OVERVIEW, DAYS)
    assert result.errors is None, result.errors
    # Previous period 06-07 to 06-09: bo's purchase of 1.00 (order o0) in session s0,
    # which has no visitorId (its visitor is the session).
    assert result.data["overview"] == {
        "startDate": "2026-06-10T00:00:00+00:00",
        "endDate": "2026-06-13T00:00:00+00:00",
        "currency": "COP",
        "revenue": {"value": 35.5, "previous": 1.0, "change": 3450.0},
        "orders": {"value": 3.0, "previous": 1.0, "change": 200.0},
        "averageOrderValue": {"value": 11.83, "previous": 1.0, "change": 1083.0},
        "conversionRate": {"value": 100.0, "previous": 100.0, "change": 0.0},
        "visitors": {"value": 2.0, "previous": 1.0, "change": 100.0},
    }


async def test_overview_computes_only_what_is_asked(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    result = await run("{ overview { startDate endDate currency } }")
    assert result.errors is None and database.pipelines_run == 0
    empty = await run('{ overview(period: "today") { revenue { value previous change } } }')
    assert empty.data["overview"]["revenue"] == {"value": 0.0, "previous": 0.0, "change": None}


PRODUCTS = """query($s: Date, $e: Date, $l: Int! = 20, $o: Int! = 0) {
  products(start: $s, end: $e, limit: $l, offset: $o) {
    startDate endDate totalRows
    products { slug name views addToCart purchases units revenue addToCartRate conversionRate }
  } }"""


async def test_products_by_revenue_with_pages(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    result = await run(PRODUCTS, DAYS)
    assert result.errors is None, result.errors
    report = result.data["products"]
    # a: one view, one purchase line of 10 × 2; b: one purchase line of 5 × 1, no view.
    assert report["totalRows"] == 2
    assert report["products"] == [
        {
            "slug": "a",
            "name": "a",
            "views": 1,
            "addToCart": 0,
            "purchases": 1,
            "units": 2,
            "revenue": 20.0,
            "addToCartRate": 0.0,
            "conversionRate": 100.0,
        },
        {
            "slug": "b",
            "name": "b",
            "views": 0,
            "addToCart": 0,
            "purchases": 1,
            "units": 1,
            "revenue": 5.0,
            "addToCartRate": 0.0,
            "conversionRate": 0.0,
        },
    ]
    page = await run(PRODUCTS, {**DAYS, "l": 1, "o": 1})
    assert [row["slug"] for row in page.data["products"]["products"]] == ["b"]
    assert page.data["products"]["totalRows"] == 2


@pytest.mark.parametrize(
    ("limit", "offset", "field"),
    [(0, 0, "limit"), (101, 0, "limit"), (5, -1, "offset"), (5, 10_001, "offset")],
)
async def test_products_pages_are_bounded(
    database: EmbeddedDatabase, run: Run, limit: int, offset: int, field: str
) -> None:
    result = await run(PRODUCTS, {"l": limit, "o": offset})
    assert result.data is None
    assert [(e.extensions["code"], e.extensions["field"]) for e in result.errors] == [
        ("BAD_USER_INPUT", field)
    ]


async def test_customers_through_the_schema(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    result = await run(
        "query($s: Date, $e: Date) { customers(start: $s, end: $e) { newCustomers "
        "returningCustomers lifetimeValue cohorts { cohort customers retention } } }",
        DAYS,
    )
    assert result.errors is None, result.errors
    # ana's first purchase is in the range (25.00); bo's on 06-09 (1.00, then 3.00).
    assert result.data["customers"] == {
        "newCustomers": 1,
        "returningCustomers": 1,
        "lifetimeValue": 14.5,
        "cohorts": [{"cohort": "2026-06-01", "customers": 1, "retention": []}],
    }


async def test_an_ordered_funnel_through_the_schema(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    query = """query($s: Date, $e: Date) {
      funnel(start: $s, end: $e, steps: ["page_view", "purchase"], ordered: true,
             windowMinutes: 15) {
        ordered windowMinutes
        steps { step count conversionFromPrevious conversionFromStart dropoff } } }"""
    result = await run(query, DAYS)
    assert result.errors is None, result.errors
    # s1: page view 09:00, purchases 09:10 (within 15 min); s2: page view 23:59:59, purchase
    # 00:00:01 next day; s3: page view 06-11 10:00, purchase 06-12 08:00 (too late).
    assert result.data["funnel"] == {
        "ordered": True,
        "windowMinutes": 15,
        "steps": [
            {
                "step": "page_view",
                "count": 3,
                "conversionFromPrevious": 100.0,
                "conversionFromStart": 100.0,
                "dropoff": 0,
            },
            {
                "step": "purchase",
                "count": 2,
                "conversionFromPrevious": 66.7,
                "conversionFromStart": 66.7,
                "dropoff": 1,
            },
        ],
    }
    both = await run('{ funnel(period: "7d", start: "2026-06-10") { ordered } }')
    assert both.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "period"}


async def test_marketing_through_the_schema(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    result = await run(
        "query($s: Date, $e: Date) { marketing(start: $s, end: $e) { sources { key sessions "
        "visitors orders revenue conversionRate } campaigns { key } whatsapp { clicks sessions "
        "ordersAfterClick revenueAfterClick } } }",
        DAYS,
    )
    assert result.errors is None, result.errors
    # s1 is google's (o1: 25.00); s2 (v2, o2 7.50) and s3 (v1, its 3.00 order) are direct.
    assert result.data["marketing"] == {
        "sources": [
            {
                "key": "direct",
                "sessions": 2,
                "visitors": 2,
                "orders": 2,
                "revenue": 10.5,
                "conversionRate": 100.0,
            },
            {
                "key": "google",
                "sessions": 1,
                "visitors": 1,
                "orders": 1,
                "revenue": 25.0,
                "conversionRate": 100.0,
            },
        ],
        "campaigns": [],
        "whatsapp": {"clicks": 0, "sessions": 0, "ordersAfterClick": 0, "revenueAfterClick": 0.0},
    }


async def test_breakdown_through_the_schema(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    result = await run(
        "query($s: Date, $e: Date) { breakdown(metric: REVENUE, by: SOURCE, start: $s, end: $e, "
        "limit: 1) { metric by total totalRows rows { key value share } } }",
        DAYS,
    )
    assert result.errors is None, result.errors
    assert result.data["breakdown"] == {
        "metric": "REVENUE",
        "by": "SOURCE",
        "total": 35.5,
        "totalRows": 2,
        "rows": [{"key": "google", "value": 25.0, "share": 70.4}],
    }


EVENTS = """query($s: Date, $e: Date, $n: Int!, $a: String, $t: String, $f: EventFilter) {
  events(start: $s, end: $e, first: $n, after: $a, eventType: $t, filter: $f) {
    edges { cursor node { eventType sessionId productSlug price createdAt } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_events_page_by_page(database: EmbeddedDatabase, run: Run) -> None:
    await store(database, *shop())
    seen: list[tuple[str, str]] = []
    after = None
    for _ in range(5):
        result = await run(EVENTS, {**DAYS, "n": 4, "a": after})
        assert result.errors is None, result.errors
        page = result.data["events"]
        seen += [(e["node"]["sessionId"], e["node"]["eventType"]) for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    # The range's nine events of people, by time (s1's two purchase lines in id order).
    assert seen == [
        ("s1", "page_view"),
        ("s1", "product_view"),
        ("s1", "purchase"),
        ("s1", "purchase"),
        ("s2", "page_view"),
        ("s2", "purchase"),
        ("s3", "page_view"),
        ("s3", "purchase"),
        ("s3", "order.refunded"),
    ]
    purchases = await run(EVENTS, {**DAYS, "n": 10, "t": "purchase"})  # the role's types
    assert [e["node"]["price"] for e in purchases.data["events"]["edges"]] == [10.0, 5.0, 7.5, 3.0]
    google = await run(EVENTS, {**DAYS, "n": 10, "f": {"source": "google"}})
    assert len(google.data["events"]["edges"]) == 4
    first = (await run(EVENTS, {**DAYS, "n": 1})).data["events"]["edges"][0]["node"]
    assert first == {
        "eventType": "page_view",
        "sessionId": "s1",
        "productSlug": None,
        "price": None,
        "createdAt": "2026-06-10T09:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"n": 0}, "first"),
        ({"n": 1001}, "first"),
        ({"n": 5, "a": "not-a-cursor"}, "after"),
        ({"n": 5, "a": "ZTE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6eA"}, "after"),
        ({"n": 5, "a": "x" * 5000}, "after"),
    ],
)
async def test_events_refuse_bad_pages_and_cursors(
    run: Run, variables: dict[str, Any], field: str
) -> None:
    result = await run(EVENTS, {**DAYS, **variables})
    assert result.data is None
    assert [(e.extensions["code"], e.extensions["field"]) for e in result.errors] == [
        ("BAD_USER_INPUT", field)
    ]
