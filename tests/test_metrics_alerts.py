"""alerts(): rules over rolling windows before the request (docs/metrics.md, alerts).

Each rule is tested exactly at its threshold (does not fire: the answer is
ALL_CLEAR) and one step past it (fires: the answer is that one alert).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import mongomock

from core.clock import to_naive_utc
from core.vocabulary import AlertType, Severity
from metrics import alert_rules
from metrics.alerts import AlertResult, alerts
from metrics.hourly import ProductActivity, SessionActivity
from metrics.windows import rolling
from storage.documents import EVENTS, EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, sets_sorted, store

HOUR, SECOND = timedelta(hours=1), timedelta(seconds=1)
ALL_CLEAR = AlertResult(
    AlertType.ALL_CLEAR, Severity.INFO, "No anomalies detected at this time.", NOW, None, None
)


def sessions(count: int, event_type: str, *, prefix: str, **fields: Any) -> list[EventDocument]:
    """One ``event_type`` event in each of ``count`` sessions ``prefix0``, ``prefix1``, ..."""
    fields.setdefault("at", NOW - HOUR / 2)
    return [event(event_type, session=f"{prefix}{i}", **fields) for i in range(count)]


async def answer(database: EmbeddedDatabase, *docs: EventDocument) -> list[AlertResult]:
    await store(database, *docs)
    return await alerts(database, tenant="default", now=NOW, lang="en")


async def test_empty_store_is_all_clear_in_five_passes(database: EmbeddedDatabase) -> None:
    assert await alerts(database, tenant="default", now=NOW, lang="en") == [ALL_CLEAR]
    # Cold: four rules read an hour summary in two pipelines each (closed hours,
    # then the hour before NOW in 5-minute slices), but for the two rules on
    # session activity (6 and 24 hours) the slices are one read, shared
    # (summaries.SharedReads); payment errors one.
    assert database.pipelines_run == 4 * 2 - 1 + 1
    assert await alerts(database, tenant="default", now=NOW, lang="es") == [
        AlertResult(
            AlertType.ALL_CLEAR,
            Severity.INFO,
            "No se detectaron anomalías en este momento.",
            NOW,
            None,
            None,
        )
    ]


async def test_high_abandonment_at_70_0_percent_does_not_fire(database: EmbeddedDatabase) -> None:
    # 10 identifiers begin checkout, 3 buy: 7 of 10 = 70.0%, not above 70.
    docs = sessions(10, "begin_checkout", prefix="c") + sessions(3, "purchase", prefix="c")
    assert await answer(database, *docs) == [ALL_CLEAR]


async def test_high_abandonment_at_70_1_percent_fires(database: EmbeddedDatabase) -> None:
    # 67 identifiers begin checkout, 20 buy: 47 / 67 = 70.149...% -> 70.1%.
    docs = sessions(67, "begin_checkout", prefix="c") + sessions(20, "purchase", prefix="c")
    assert await answer(database, *docs) == [
        AlertResult(
            AlertType.HIGH_ABANDONMENT,
            Severity.CRITICAL,
            "Checkout abandonment of 70.1% in the last 24h (47 of 67 checkouts)",
            NOW,
            70.1,
            None,
        )
    ]


async def test_high_abandonment_needs_three_identifiers(database: EmbeddedDatabase) -> None:
    two = sessions(2, "begin_checkout", prefix="c")
    assert await answer(database, *two) == [ALL_CLEAR]
    # A third identifier: a logged-in user, on the 24 h window's inclusive edge;
    # one second earlier does not count.
    third = event("begin_checkout", at=NOW - 24 * HOUR, session="u-phone", user="u@x")
    early = event("begin_checkout", at=NOW - 24 * HOUR - SECOND, session="old")
    assert await answer(database, third, early) == [
        AlertResult(
            AlertType.HIGH_ABANDONMENT,
            Severity.CRITICAL,
            "Checkout abandonment of 100.0% in the last 24h (3 of 3 checkouts)",
            NOW,
            100.0,
            None,
        )
    ]


def popular(slug: str, views: int) -> AlertResult:
    return AlertResult(
        AlertType.POPULAR_NO_CONVERSION,
        Severity.WARNING,
        f'Product "{slug}" had {views} unique views without any purchase in 7 days',
        NOW,
        float(views),
        slug,
    )


async def test_popular_without_conversion_10_vs_11_unique_views(
    database: EmbeddedDatabase,
) -> None:
    week_ago = NOW - 7 * 24 * HOUR
    docs = [
        *sessions(10, "product_view", prefix="t", slug="ten"),
        event("product_view", session="t0", slug="ten", at=NOW - HOUR),  # same session again
        event("product_view", session="old", slug="ten", at=week_ago - SECOND),  # outside
        *sessions(10, "product_view", prefix="e", slug="eleven"),
        event("product_view", session="edge", slug="eleven", at=week_ago),  # inclusive start
        *sessions(12, "product_view", prefix="b", slug="bought"),
        event("purchase", session="buyer", slug="bought", at=NOW - 100 * HOUR, price=1),
        *sessions(12, "product_view", prefix="n", slug=None),
        *sessions(12, "product_view", prefix="o", slug="eleven", tenant="other"),
    ]
    assert await answer(database, *docs) == [popular("eleven", 11)]


async def test_popular_without_conversion_by_views_then_slug(database: EmbeddedDatabase) -> None:
    docs = [
        *sessions(11, "product_view", prefix="c", slug="c-slug"),
        *sessions(11, "product_view", prefix="a", slug="a-slug"),
        *sessions(13, "product_view", prefix="b", slug="b-slug"),
        # a purchase older than 7 × 24 h does not convert the slug
        event("purchase", session="x", slug="a-slug", at=NOW - 7 * 24 * HOUR - SECOND),
    ]
    assert await answer(database, *docs) == [
        popular("b-slug", 13),
        popular("a-slug", 11),
        popular("c-slug", 11),
    ]


async def test_payment_errors_in_the_last_hour(database: EmbeddedDatabase) -> None:
    outside = event("payment_error", at=NOW - HOUR - SECOND)
    other_errors = event("checkout_error", at=NOW - SECOND)
    assert await answer(database, outside, other_errors) == [ALL_CLEAR]
    edge = event("payment_error", at=NOW - HOUR)
    assert await answer(database, edge) == [
        AlertResult(
            AlertType.PAYMENT_ERRORS,
            Severity.CRITICAL,
            "1 payment errors detected in the last hour",
            NOW,
            1.0,
            None,
        )
    ]


async def test_carts_abandoned_4_vs_5_sessions(database: EmbeddedDatabase) -> None:
    six_hours_ago = NOW - 6 * HOUR
    docs = [
        *sessions(4, "add_to_cart", prefix="a"),
        event("add_to_cart", session="a0", at=NOW - HOUR),  # same session again
        event("add_to_cart", session="done", at=NOW - HOUR),
        event("begin_checkout", session="done", at=NOW - HOUR),
        event("add_to_cart", session="old", at=six_hours_ago - SECOND),
        event("begin_checkout", session="no-cart", at=NOW - HOUR),
    ]
    assert await answer(database, *docs) == [ALL_CLEAR]
    # Fifth: a cart on the inclusive edge whose checkout is before the window
    # (and before the 24 h of HIGH_ABANDONMENT, which would fire on 3 checkouts).
    fifth = [
        event("begin_checkout", session="edge", at=NOW - 25 * HOUR),
        event("add_to_cart", session="edge", at=six_hours_ago),
    ]
    assert await answer(database, *fifth) == [
        AlertResult(
            AlertType.CARTS_ABANDONED,
            Severity.WARNING,
            "5 carts did not start checkout in the last 6h",
            NOW,
            5.0,
            None,
        )
    ]


async def test_stuck_sessions_15_vs_16_events(database: EmbeddedDatabase) -> None:
    day_ago = NOW - 24 * HOUR
    docs = [
        *[event("page_view", session="fifteen", at=NOW - HOUR) for _ in range(15)],
        event("page_view", session="fifteen", at=day_ago - SECOND),  # outside
        *[event("page_view", session="buyer", at=NOW - HOUR) for _ in range(16)],
        event("purchase", session="buyer", at=NOW - 2 * HOUR, price=1),
    ]
    assert await answer(database, *docs) == [ALL_CLEAR]
    sixteenth = event("wishlist:add", session="fifteen", at=day_ago)  # any type counts
    assert await answer(database, sixteenth) == [
        AlertResult(
            AlertType.STUCK_SESSIONS,
            Severity.INFO,
            "1 sessions with more than 15 events in 24h without completing a purchase",
            NOW,
            1.0,
            None,
        )
    ]


async def test_rules_in_order_with_spanish_messages(database: EmbeddedDatabase) -> None:
    await store(
        database,
        *sessions(3, "begin_checkout", prefix="c"),
        *sessions(11, "product_view", prefix="v", slug="zapato"),
        *sessions(2, "payment_error", prefix="p"),
        *sessions(5, "add_to_cart", prefix="a"),
        *[event("page_view", session="bot", at=NOW - HOUR) for _ in range(16)],
    )
    found = await alerts(database, tenant="default", now=NOW, lang="es")
    assert [(a.type, a.severity, a.message, a.value, a.product_slug) for a in found] == [
        (
            AlertType.HIGH_ABANDONMENT,
            Severity.CRITICAL,
            "Tasa de abandono del 100.0% en las últimas 24h (3 de 3 checkouts)",
            100.0,
            None,
        ),
        (
            AlertType.POPULAR_NO_CONVERSION,
            Severity.WARNING,
            'Producto "zapato" tuvo 11 vistas únicas sin ninguna compra en 7 días',
            11.0,
            "zapato",
        ),
        (
            AlertType.PAYMENT_ERRORS,
            Severity.CRITICAL,
            "Se detectaron 2 errores de pago en la última hora",
            2.0,
            None,
        ),
        (
            AlertType.CARTS_ABANDONED,
            Severity.WARNING,
            "5 carritos no iniciaron checkout en las últimas 6h",
            5.0,
            None,
        ),
        (
            AlertType.STUCK_SESSIONS,
            Severity.INFO,
            "1 sesiones con más de 15 eventos en 24h sin completar compra",
            1.0,
            None,
        ),
    ]
    assert {a.timestamp for a in found} == {NOW}
    assert await alerts(database, tenant="other", now=NOW, lang="es") == [
        AlertResult(
            AlertType.ALL_CLEAR,
            Severity.INFO,
            "No se detectaron anomalías en este momento.",
            NOW,
            None,
            None,
        )
    ]


async def test_embedded_fast_path_matches_plain_mongomock(database: EmbeddedDatabase) -> None:
    docs = [
        *sessions(2, "product_view", prefix="v", slug="s"),
        event("purchase", session="v0", slug="s", at=NOW - HOUR),
        event("product_view", session="w", slug="t", at=NOW - 30 * HOUR),
        event("payment_error", session="p", at=NOW - SECOND),
        event("add_to_cart", session="a", at=NOW - HOUR),
        event("add_to_cart", session="b", at=NOW - HOUR),
        event("begin_checkout", session="b", at=NOW - HOUR),
        *[event("page_view", session="bot", at=NOW - HOUR) for _ in range(16)],
        event("payment_error", session="p", at=NOW - SECOND, tenant="other"),
    ]
    await store(database, *docs)
    collection = mongomock.MongoClient(tz_aware=False).db[EVENTS]
    collection.insert_many([dict(doc) for doc in docs])

    def hours_before(hours: int) -> tuple[datetime, datetime]:
        window = rolling(NOW, hours=hours)
        return to_naive_utc(window.start), to_naive_utc(window.end)

    pipelines = [
        ProductActivity().pipeline("default", *hours_before(168)),
        alert_rules.payment_errors_pipeline(tenant="default", window=rolling(NOW, hours=1)),
        SessionActivity().pipeline("default", *hours_before(6)),
        SessionActivity().pipeline("default", *hours_before(24)),
    ]
    for pipeline in pipelines:
        assert database._window(pipeline[0]["$match"]) is not None  # served by the index
        fast = await database.run_pipeline(EVENTS, pipeline)
        assert sets_sorted(fast) == sets_sorted(list(collection.aggregate(pipeline)))
        assert fast != []
