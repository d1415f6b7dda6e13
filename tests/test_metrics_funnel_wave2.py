"""Funnel wave 2 (docs/metrics.md): custom steps, ordered funnels with a window, conversion
and dropoff; hand-counted sessions.

All on 2026-06-15 (UTC); now is 12:05:30, so 12:00–12:05 is still read raw.

    A  page_view 10:00, page_view 10:50, product_view 10:55, add_to_cart 11:00
       (first-match from 10:00 misses the 30-minute window; from 10:50 it reaches 3)
    B  product_view 09:00, page_view 09:05             (in order: page view only)
    C  page_view and product_view at 08:00:00.000, add_to_cart 08:01 (no strict order)
    D  page_view 05:00, product_view 06:00, add_to_cart 07:00
    E  add_to_cart 04:00
    G  page_view 11:50, product_view 12:03             (its second step is still raw)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.errors import BadUserInput
from metrics import summaries
from metrics.funnel import FunnelStep, funnel
from metrics.hourly import reach
from metrics.windows import funnel_window
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import event, store

NOW = datetime(2026, 6, 15, 12, 5, 30, tzinfo=UTC)
STEPS = ["page_view", "product_view", "add_to_cart"]


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 15, hour, minute, tzinfo=UTC)


def sessions() -> list[EventDocument]:
    return [
        event("page_view", at=at(10), session="A"),
        event("page_view", at=at(10, 50), session="A"),
        event("product_view", at=at(10, 55), session="A"),
        event("add_to_cart", at=at(11), session="A"),
        event("product_view", at=at(9), session="B"),
        event("page_view", at=at(9, 5), session="B"),
        event("page_view", at=at(8), session="C"),
        event("product_view", at=at(8), session="C"),
        event("add_to_cart", at=at(8, 1), session="C"),
        event("page_view", at=at(5), session="D"),
        event("product_view", at=at(6), session="D"),
        event("add_to_cart", at=at(7), session="D"),
        event("add_to_cart", at=at(4), session="E"),
        event("page_view", at=at(11, 50), session="G"),
        event("product_view", at=at(12, 3), session="G"),
    ]


async def counts(database: EmbeddedDatabase, **options: object) -> list[int]:
    window = funnel_window(
        date(2026, 6, 15), date(2026, 6, 15), NOW, ZoneInfo("UTC"), retention_days=365
    )
    result = await funnel(
        database,
        tenant="default",
        window=window,
        source=None,
        now=NOW,
        **options,  # type: ignore[arg-type]
    )
    return [step.count for step in result.steps]


@pytest.mark.parametrize(
    ("window_minutes", "expected"),
    [
        (30, [5, 2, 1]),  # A 3, B 1, C 1, D 1 (06:00 is 60 min after 05:00), G 2
        (90, [5, 3, 1]),  # D 2: its product view, not its cart (120 min after)
        (None, [5, 3, 2]),  # D 3
    ],
)
async def test_ordered_within_a_window_where_first_match_is_wrong(
    database: EmbeddedDatabase, window_minutes: int | None, expected: list[int]
) -> None:
    await store(database, *sessions())
    for _ in range(2):  # cold, then warm (the span's levels kept, G recomputed)
        assert (
            await counts(database, steps=STEPS, ordered=True, window_minutes=window_minutes)
            == expected
        )


async def test_unordered_custom_steps_count_each_on_its_own(database: EmbeddedDatabase) -> None:
    await store(database, *sessions())
    # page view: A B C D G; product view: A B C D G; cart: A C D E.
    assert await counts(database, steps=STEPS) == [5, 5, 4]
    # A cart, then a page view after it: no session (A, C, D viewed pages before).
    assert await counts(database, steps=["add_to_cart", "page_view"], ordered=True) == [4, 0]


async def test_a_role_step_matches_every_type_of_the_role(database: EmbeddedDatabase) -> None:
    await store(
        database,
        event("page.viewed", at=at(9), session="H"),  # Hanzo's page view
        event("order.completed", at=at(9, 10), session="H"),  # Hanzo's purchase
        event("purchase", at=at(9, 20), session="I"),
    )
    assert await counts(database, steps=["page_view", "purchase"]) == [1, 2]
    assert await counts(database, steps=["page_view", "order.completed"]) == [1, 1]
    assert await counts(database, steps=["page.viewed", "purchase"], ordered=True) == [1, 1]


async def test_conversion_and_dropoff(database: EmbeddedDatabase) -> None:
    await store(database, *sessions())
    window = funnel_window(
        date(2026, 6, 15), date(2026, 6, 15), NOW, ZoneInfo("UTC"), retention_days=365
    )
    result = await funnel(
        database,
        tenant="default",
        window=window,
        source=None,
        now=NOW,
        steps=STEPS,
        ordered=True,
        window_minutes=30,
    )
    assert result.steps == [
        FunnelStep("page_view", 5, 100.0, 100.0, 0),
        FunnelStep("product_view", 2, 40.0, 40.0, 3),
        FunnelStep("add_to_cart", 1, 50.0, 20.0, 1),
    ]
    assert (result.ordered, result.window_minutes) == (True, 30)


def test_reach_weighs_events_of_one_instant_together() -> None:
    minute = 60_000
    # page(1) and product(2) at t=0, cart(4) at 1 min: no strict order from page to product.
    assert reach([(0, 0b001), (0, 0b010), (minute, 0b100)], 3, None) == 1
    # One event matching two steps cannot be both.
    assert reach([(0, 0b011)], 2, None) == 1
    assert reach([(0, 0b011), (minute, 0b011)], 2, None) == 2
    # A later start reaches further within the window.
    events = [(0, 0b01), (50 * minute, 0b01), (55 * minute, 0b10)]
    assert (reach(events, 2, 30 * minute), reach(events[:1] + events[2:], 2, 30 * minute)) == (
        2,
        1,
    )
    assert reach([], 3, None) == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"steps": ["page_view"]}, "steps"),
        ({"steps": ["page_view"] * 11}, "steps"),
        ({"steps": ["page_view", "Bad Step"]}, "steps[1]"),
        ({"steps": ["page_view", "x" * 65]}, "steps[1]"),
        ({"window_minutes": 30}, "windowMinutes"),  # not ordered
        ({"ordered": True, "window_minutes": 0}, "windowMinutes"),
        ({"ordered": True, "window_minutes": 10**9}, "windowMinutes"),
    ],
)
async def test_bad_steps_and_windows_are_bad_user_input(
    database: EmbeddedDatabase, options: dict[str, object], field: str
) -> None:
    with pytest.raises(BadUserInput) as raised:
        await counts(database, **options)
    assert raised.value.extensions["field"] == field


async def test_the_default_funnel_is_unchanged_and_ordered_reads_its_own_summary(
    database: EmbeddedDatabase,
) -> None:
    await store(database, *sessions())
    # Unordered default: page A B C D G, product A B C D G, cart A C D E, none beyond.
    assert await counts(database) == [5, 5, 4, 0, 0]
    assert await counts(database, ordered=True) == [5, 3, 2, 0, 0]  # A and D reach carts
    assert summaries.cache_of(database).misses > 0
