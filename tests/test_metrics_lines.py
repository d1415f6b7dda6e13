"""Extreme stored values never break a view: lines are read within the bounds ingest
enforces (price ≤ 10^12, quantity ≤ 10^6), sums round exactly, units fit GraphQL's Int.

The documents are stored directly, as data written before the bounds existed (or by
another tool) would be; ingest itself refuses them (tests/test_metrics_ingest.py).
"""

from __future__ import annotations

from datetime import timedelta

from metrics.rounding import bounded_count, money
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, Run, event, store

DASHBOARD = """{ dashboardStats {
  totalSales totalRevenue averageOrderValue topProducts { slug count }
  productPerformance { slug purchases purchasesUnits } } }"""


async def extreme_purchases(database: EmbeddedDatabase) -> None:
    no_quantity = event(
        "purchase", at=NOW - timedelta(hours=3), price=5.0, user="c@x", order="o3", slug="z"
    )
    del no_quantity["quantity"]  # type: ignore[misc]
    await store(
        database,
        event(
            "purchase", at=NOW - timedelta(hours=1), price=1e26, user="a@x", order="o1", slug="x"
        ),
        event(
            "purchase",
            at=NOW - timedelta(hours=2),
            price=10.0,
            quantity=2**31,
            user="b@x",
            order="o2",
            slug="y",
        ),
        no_quantity,
        *(event("product_view", at=NOW - timedelta(hours=4), slug=s) for s in "xyz"),
    )


async def test_dashboard_counts_extreme_lines_at_the_bounds(
    run: Run, database: EmbeddedDatabase
) -> None:
    await extreme_purchases(database)
    result = await run(DASHBOARD)
    assert result.errors is None
    # 10^12 × 1 + 10 × 10^6 + 5 × 1 (a missing quantity is 1)
    assert result.data == {
        "dashboardStats": {
            "totalSales": 3,
            "totalRevenue": 1_000_010_000_005.0,
            "averageOrderValue": 333_336_666_668.33,
            "topProducts": [
                {"slug": "y", "count": 1_000_000},
                {"slug": "x", "count": 1},
                {"slug": "z", "count": 1},
            ],
            "productPerformance": [
                {"slug": "x", "purchases": 1, "purchasesUnits": 1},
                {"slug": "y", "purchases": 1, "purchasesUnits": 1_000_000},
                {"slug": "z", "purchases": 1, "purchasesUnits": 1},
            ],
        }
    }


async def test_rfm_and_alerts_answer_over_extreme_lines(
    run: Run, database: EmbeddedDatabase
) -> None:
    await extreme_purchases(database)
    rfm = await run("{ rfm { customers { visitorId frequency monetary segment } } }")
    assert rfm.errors is None
    assert rfm.data == {
        "rfm": {
            "customers": [
                {"visitorId": "a@x", "frequency": 1, "monetary": 1e12, "segment": "LOYAL"},
                {"visitorId": "b@x", "frequency": 1, "monetary": 1e7, "segment": "LOYAL"},
                {"visitorId": "c@x", "frequency": 1, "monetary": 5.0, "segment": "LOYAL"},
            ]
        }
    }
    alerts = await run("{ alerts { type value } }")
    assert alerts.data == {"alerts": [{"type": "ALL_CLEAR", "value": None}]}


def test_money_rounds_sums_far_past_the_default_decimal_precision() -> None:
    # 10^7 lines of 10^18 each: the default 28-digit context raised InvalidOperation.
    assert money(1e25 + 0.005) == 1e25
    assert money(123_456_789_012_345_678_901_234.567) == 1.2345678901234568e23
    assert money(1.7e308) == 1.7e308


def test_units_past_graphql_int_are_answered_as_its_largest_value() -> None:
    assert bounded_count(2**31 - 1) == 2_147_483_647
    assert bounded_count(2**31) == 2_147_483_647
    assert bounded_count(3 * 10**12) == 2_147_483_647
    assert bounded_count(12) == 12
