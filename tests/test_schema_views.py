"""funnel, rfm and alerts through the GraphQL schema, with variables (docs/metrics.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, Run, event, store

HOUR, DAY, SECOND = timedelta(hours=1), timedelta(days=1), timedelta(seconds=1)

FUNNEL = """
query ($start: Date, $end: Date, $source: String, $tenantId: ID, $timezone: String) {
  funnel(start: $start, end: $end, source: $source, tenantId: $tenantId, timezone: $timezone) {
    steps { step count } startDate endDate source
  }
}"""
RFM = """
query ($tenantId: ID) {
  rfm(tenantId: $tenantId) {
    customers { visitorId recency frequency monetary segment segmento } startDate endDate
  }
}"""
ALERTS = """
query ($tenantId: ID, $lang: String!) {
  alerts(tenantId: $tenantId, lang: $lang) {
    type severity message timestamp value productSlug
  }
}"""


async def data(run: Run, query: str, variables: dict[str, Any], **options: Any) -> Any:
    result = await run(query, variables, **options)
    assert result.errors is None, result.errors
    return result.data


async def error_codes(run: Run, query: str, variables: dict[str, Any]) -> list[Any]:
    result = await run(query, variables)
    assert result.data is None
    return [error.extensions["code"] for error in result.errors]


def steps(*counts: int) -> list[dict[str, Any]]:
    names = ("page_view", "product_view", "add_to_cart", "begin_checkout", "purchase")
    return [{"step": n, "count": c} for n, c in zip(names, counts, strict=True)]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# ---- funnel ------------------------------------------------------------------


async def test_funnel_defaults_to_the_30_days_to_today(
    database: EmbeddedDatabase, run: Run
) -> None:
    await store(
        database,
        event("page_view", at=utc(2026, 5, 16, 23, 59, 59), session="before"),
        event("page_view", at=utc(2026, 5, 17), session="first-day"),
        event("product_view", at=NOW - SECOND, session="today"),
        event("page_view", at=NOW, session="x", tenant="other"),
    )
    assert await data(run, FUNNEL, {}) == {
        "funnel": {
            "steps": steps(1, 1, 0, 0, 0),
            "startDate": "2026-05-17T00:00:00+00:00",
            "endDate": "2026-06-16T00:00:00+00:00",
            "source": None,
        }
    }
    assert (await data(run, FUNNEL, {"tenantId": "other"}))["funnel"]["steps"] == steps(
        1, 0, 0, 0, 0
    )


async def test_funnel_explicit_dates_include_the_end_day_and_filter_source(
    database: EmbeddedDatabase, run: Run
) -> None:
    await store(
        database,
        event("page_view", at=utc(2026, 6, 1), session="a", source="google"),
        event("add_to_cart", at=utc(2026, 6, 10, 23, 59, 59), session="a", source="google"),
        event("purchase", at=utc(2026, 6, 11), session="a", source="google"),  # after end
        event("page_view", at=utc(2026, 6, 5), session="d", source="direct"),
        event("begin_checkout", at=utc(2026, 6, 5), session="d"),
    )
    dates = {"start": "2026-06-01", "end": "2026-06-10"}
    window = {"startDate": "2026-06-01T00:00:00+00:00", "endDate": "2026-06-11T00:00:00+00:00"}
    assert await data(run, FUNNEL, dates) == {
        "funnel": {"steps": steps(2, 0, 1, 1, 0), **window, "source": None}
    }
    assert await data(run, FUNNEL, {**dates, "source": "google"}) == {
        "funnel": {"steps": steps(1, 0, 1, 0, 0), **window, "source": "google"}
    }
    assert await data(run, FUNNEL, {**dates, "source": "direct"}) == {
        "funnel": {"steps": steps(1, 0, 0, 1, 0), **window, "source": "direct"}
    }


async def test_funnel_days_in_kolkata(database: EmbeddedDatabase, run: Run) -> None:
    # 2026-06-10 in Asia/Kolkata (UTC+05:30) is [06-09 18:30, 06-10 18:30) UTC.
    await store(
        database,
        event("page_view", at=utc(2026, 6, 9, 18, 29, 59), session="before"),
        event("page_view", at=utc(2026, 6, 9, 18, 30), session="first"),
        event("page_view", at=utc(2026, 6, 10, 18, 29, 59), session="last"),
        event("page_view", at=utc(2026, 6, 10, 18, 30), session="after"),
    )
    variables = {"start": "2026-06-10", "end": "2026-06-10", "timezone": "Asia/Kolkata"}
    assert await data(run, FUNNEL, variables) == {
        "funnel": {
            "steps": steps(2, 0, 0, 0, 0),
            "startDate": "2026-06-09T18:30:00+00:00",
            "endDate": "2026-06-10T18:30:00+00:00",
            "source": None,
        }
    }
    # At 20:00 UTC it is already 06-16 01:30 in Kolkata: that is the default end.
    late = await data(run, FUNNEL, {"timezone": "Asia/Kolkata"}, now=utc(2026, 6, 15, 20))
    assert (late["funnel"]["startDate"], late["funnel"]["endDate"]) == (
        "2026-05-17T18:30:00+00:00",
        "2026-06-16T18:30:00+00:00",
    )


async def test_funnel_start_after_end_is_bad_user_input(run: Run) -> None:
    variables = {"start": "2026-06-11", "end": "2026-06-10"}
    assert await error_codes(run, FUNNEL, variables) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"end": "9999-12-31"}, "end"),
        ({"start": "0001-01-01", "timezone": "Asia/Tokyo"}, "start"),
        ({"start": "0001-01-01", "end": "0001-01-01", "timezone": "Pacific/Kiritimati"}, "start"),
        ({"end": "9999-12-31", "timezone": "Pacific/Pago_Pago"}, "end"),
        # NOW is 2026-06-15; retention (the default) is 365 days either side of today.
        ({"start": "2025-06-14"}, "start"),
        ({"end": "2027-06-16"}, "end"),
        # In range on both ends, but longer than what retention keeps.
        ({"start": "2025-06-15", "end": "2026-06-15"}, "start"),
        # A source no store could hold (BSON cannot encode a lone surrogate).
        ({"source": "ig\ud800"}, "source"),
        ({"source": "x" * 257}, "source"),
    ],
)
async def test_funnel_far_out_dates_long_ranges_and_bad_sources_are_bad_user_input(
    run: Run, variables: dict[str, str], field: str
) -> None:
    result = await run(FUNNEL, variables)
    assert result.data is None
    assert [e.extensions for e in result.errors] == [{"code": "BAD_USER_INPUT", "field": field}]


async def test_funnel_dates_at_the_retention_edges_answer(run: Run) -> None:
    # 365 days ending today, and a range reaching 365 days ahead, are both allowed.
    for variables in (
        {"start": "2025-06-16", "end": "2026-06-15"},
        {"start": "2027-06-15", "end": "2027-06-15"},
        {"start": "2025-06-15", "end": "2025-06-15"},
    ):
        result = await run(FUNNEL, variables)
        assert result.errors is None, variables


async def test_funnel_start_equal_to_end_is_one_day(run: Run) -> None:
    answer = await data(run, FUNNEL, {"start": "2026-06-10", "end": "2026-06-10"})
    assert answer == {
        "funnel": {
            "steps": steps(0, 0, 0, 0, 0),
            "startDate": "2026-06-10T00:00:00+00:00",
            "endDate": "2026-06-11T00:00:00+00:00",
            "source": None,
        }
    }


# ---- rfm ---------------------------------------------------------------------


async def test_rfm_whole_answer(database: EmbeddedDatabase, run: Run) -> None:
    await store(
        database,
        event("purchase", at=NOW - 2 * DAY, user="vip@x", price=70000, order="o1"),
        event("purchase", at=NOW - 3 * DAY, user="vip@x", price=15000, quantity=2, order="o2"),
        event("purchase", at=NOW - 20 * DAY, user="leal@x", price=19.999),
        event("purchase", at=NOW - 45 * DAY, user="riesgo@x", price=None),
        event("purchase", at=NOW - 89 * DAY, user="perdido@x", price=3),
        event("purchase", at=NOW - 91 * DAY, user="antiguo@x", price=3),  # outside 90 days
        event("purchase", at=NOW - DAY, price=999),  # anonymous
        event("purchase", at=NOW - DAY, user="otro@x", price=5, tenant="other"),
    )

    def row(user: str, r: int, f: int, m: float, segment: str, segmento: str) -> dict[str, Any]:
        return {
            "visitorId": user,
            "recency": r,
            "frequency": f,
            "monetary": m,
            "segment": segment,
            "segmento": segmento,
        }

    assert await data(run, RFM, {}) == {
        "rfm": {
            "customers": [
                row("vip@x", 2, 2, 100000.0, "VIP", "VIP"),
                row("leal@x", 20, 1, 20.0, "LOYAL", "Leal"),
                row("riesgo@x", 45, 1, 0.0, "AT_RISK", "En riesgo"),
                row("perdido@x", 89, 1, 3.0, "LOST", "Perdido"),
            ],
            "startDate": "2026-03-17T12:00:00+00:00",
            "endDate": "2026-06-15T12:00:00+00:00",
        }
    }
    assert await data(run, RFM, {"tenantId": "other"}) == {
        "rfm": {
            "customers": [row("otro@x", 1, 1, 5.0, "LOYAL", "Leal")],
            "startDate": "2026-03-17T12:00:00+00:00",
            "endDate": "2026-06-15T12:00:00+00:00",
        }
    }


async def test_rfm_empty_store_at_another_time(run: Run) -> None:
    later = utc(2026, 7, 1, 8, 30)
    assert await data(run, RFM, {"tenantId": "nobody"}, now=later) == {
        "rfm": {
            "customers": [],
            "startDate": "2026-04-02T08:30:00+00:00",
            "endDate": "2026-07-01T08:30:00+00:00",
        }
    }


# ---- alerts ------------------------------------------------------------------


def alert(
    kind: str, severity: str, message: str, value: float | None, slug: str | None = None
) -> dict[str, Any]:
    return {
        "type": kind,
        "severity": severity,
        "message": message,
        "timestamp": "2026-06-15T12:00:00+00:00",
        "value": value,
        "productSlug": slug,
    }


async def test_alerts_all_clear_on_an_empty_store(run: Run) -> None:
    clear_en = alert("ALL_CLEAR", "INFO", "No anomalies detected at this time.", None)
    clear_es = alert("ALL_CLEAR", "INFO", "No se detectaron anomalías en este momento.", None)
    assert await data(
        run, "{ alerts { type severity message timestamp value productSlug } }", {}
    ) == {"alerts": [clear_en]}
    assert await data(run, ALERTS, {"lang": "es"}) == {"alerts": [clear_es]}


async def test_alerts_every_rule_in_both_languages(database: EmbeddedDatabase, run: Run) -> None:
    at = NOW - HOUR / 2
    await store(
        database,
        # HIGH_ABANDONMENT: 3 identifiers begin checkout, none buys -> 100.0%
        *[event("begin_checkout", at=at, session=f"c{i}") for i in range(3)],
        # POPULAR_NO_CONVERSION: 12 sessions view "bota", 11 view "abrigo"
        *[event("product_view", at=at, session=f"v{i}", slug="bota") for i in range(12)],
        *[event("product_view", at=at, session=f"v{i}", slug="abrigo") for i in range(11)],
        # PAYMENT_ERRORS: 2 in the last hour
        event("payment_error", at=at, session="p"),
        event("payment_error", at=at, session="p"),
        # CARTS_ABANDONED: 5 sessions add to cart without checkout
        *[event("add_to_cart", at=at, session=f"a{i}") for i in range(5)],
        # STUCK_SESSIONS: "v0" has 2 views + 14 page views = 16 events, no purchase
        *[event("page_view", at=at, session="v0") for _ in range(14)],
    )
    assert await data(run, ALERTS, {"lang": "en"}) == {
        "alerts": [
            alert(
                "HIGH_ABANDONMENT",
                "CRITICAL",
                "Checkout abandonment of 100.0% in the last 24h (3 of 3 checkouts)",
                100.0,
            ),
            alert(
                "POPULAR_NO_CONVERSION",
                "WARNING",
                'Product "bota" had 12 unique views without any purchase in 7 days',
                12.0,
                "bota",
            ),
            alert(
                "POPULAR_NO_CONVERSION",
                "WARNING",
                'Product "abrigo" had 11 unique views without any purchase in 7 days',
                11.0,
                "abrigo",
            ),
            alert("PAYMENT_ERRORS", "CRITICAL", "2 payment errors detected in the last hour", 2.0),
            alert(
                "CARTS_ABANDONED", "WARNING", "5 carts did not start checkout in the last 6h", 5.0
            ),
            alert(
                "STUCK_SESSIONS",
                "INFO",
                "1 sessions with more than 15 events in 24h without completing a purchase",
                1.0,
            ),
        ]
    }
    spanish = await data(run, ALERTS, {"lang": "es"})
    assert [a["message"] for a in spanish["alerts"]] == [
        "Tasa de abandono del 100.0% en las últimas 24h (3 de 3 checkouts)",
        'Producto "bota" tuvo 12 vistas únicas sin ninguna compra en 7 días',
        'Producto "abrigo" tuvo 11 vistas únicas sin ninguna compra en 7 días',
        "Se detectaron 2 errores de pago en la última hora",
        "5 carritos no iniciaron checkout en las últimas 6h",
        "1 sesiones con más de 15 eventos en 24h sin completar compra",
    ]
    other = await data(run, ALERTS, {"lang": "en", "tenantId": "other"})
    assert [a["type"] for a in other["alerts"]] == ["ALL_CLEAR"]
    # Two hours later the payment errors are older than one hour.
    later = await data(run, ALERTS, {"lang": "en"}, now=NOW + 2 * HOUR)
    assert [a["type"] for a in later["alerts"]] == [
        "HIGH_ABANDONMENT",
        "POPULAR_NO_CONVERSION",
        "POPULAR_NO_CONVERSION",
        "CARTS_ABANDONED",
        "STUCK_SESSIONS",
    ]
    assert {a["timestamp"] for a in later["alerts"]} == {"2026-06-15T14:00:00+00:00"}


async def test_alerts_unknown_language_is_bad_user_input(run: Run) -> None:
    assert await error_codes(run, ALERTS, {"lang": "fr"}) == ["BAD_USER_INPUT"]
