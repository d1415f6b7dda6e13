"""Hour summaries (metrics.summaries): pieces, the cache, and the same numbers as raw events.

The reference answers here are computed in plain Python from the stored
documents, straight from docs/metrics.md, and compared with what the views
answer cold (nothing cached), warm (closed hours from the cache) and after an
import into a closed hour, in zones whose days start on, off (Kolkata,
Kathmandu) and across DST changes (Madrid) of UTC hours.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mongomock_motor import AsyncMongoMockClient

from core.clock import to_aware_utc, to_naive_utc, utcnow
from core.roles import Role, role_of
from core.vocabulary import DIRECT_SOURCE
from metrics import customers, ingest, summaries
from metrics import dashboard_passes as passes
from metrics.abandonment import Abandonment, abandonment
from metrics.funnel import FUNNEL_ROLES, FunnelStep, funnel, with_conversion
from metrics.hourly import (
    SessionActivity,
    Sessions,
    SessionSpan,
    TypeCounts,
    distinct_count,
    union,
)
from metrics.rounding import percent
from metrics.windows import DayWindow, dashboard_window, funnel_window
from storage.database import MongoDatabase
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import event, store

HOUR = timedelta(hours=1)
TYPES = [
    "page_view",
    "page.viewed",
    "product_view",
    "product.viewed",
    "product_click",
    "add_to_cart",
    "begin_checkout",
    "checkout.started",
    "purchase",
    "order.completed",
    "payment_error",
    "newsletter_signup",
    "whatsapp_cart_click",
    "click_whatsapp",
    "whatsapp_purchase",
]
PRODUCT_ROLES = (Role.PRODUCT_VIEW, Role.ADD_TO_CART, Role.PURCHASE)


# ---- pieces ------------------------------------------------------------------


def naive(*parts: int) -> datetime:
    return datetime(*parts)  # type: ignore[arg-type]


def test_a_utc_day_is_whole_hours_cacheable_up_to_the_settled_hour() -> None:
    plan = summaries.pieces(
        [naive(2026, 6, 14), naive(2026, 6, 15), naive(2026, 6, 15, 12, 30)],
        closed_before=naive(2026, 6, 15, 11),
        kept_from=naive(2026, 1, 1),
    )
    # Each bucket's kept hours are one run: 24 of them, then 11.
    assert [(p.low, p.high, p.bucket, p.cacheable, p.hourly) for p in plan] == [
        (naive(2026, 6, 14), naive(2026, 6, 15), 0, True, True),
        (naive(2026, 6, 15), naive(2026, 6, 15, 11), 1, True, True),
        (naive(2026, 6, 15, 11), naive(2026, 6, 15, 12), 1, False, False),
        (naive(2026, 6, 15, 12), naive(2026, 6, 15, 12, 30), 1, False, False),
    ]
    assert [p.key for p in plan[1].hours()] == [naive(2026, 6, 15, h) for h in range(11)]
    assert plan[1].key == (naive(2026, 6, 15), naive(2026, 6, 15, 11))


def test_kathmandu_days_cut_one_hour_in_two_and_each_part_is_kept_in_slices() -> None:
    # 00:00 in Kathmandu (+05:45) is 18:15 UTC the day before.
    window = funnel_window(
        date(2026, 6, 10),
        date(2026, 6, 11),
        naive(2026, 6, 15),
        ZoneInfo("Asia/Kathmandu"),
        retention_days=365,
    )
    plan = summaries.pieces(
        window.bucket_boundaries, closed_before=naive(2026, 6, 15), kept_from=naive(2026, 1, 1)
    )
    assert all(p.cacheable for p in plan)
    slices = [(p.low, p.high, p.bucket) for p in plan if not p.hourly]

    def five_minutes(bucket: int, low: datetime, high: datetime) -> list[tuple[Any, ...]]:
        count = (high - low) // summaries.SLICE
        return [
            (low + i * summaries.SLICE, low + (i + 1) * summaries.SLICE, bucket)
            for i in range(count)
        ]

    assert slices == [
        *five_minutes(0, naive(2026, 6, 9, 18, 15), naive(2026, 6, 9, 19)),
        *five_minutes(0, naive(2026, 6, 10, 18), naive(2026, 6, 10, 18, 15)),
        *five_minutes(1, naive(2026, 6, 10, 18, 15), naive(2026, 6, 10, 19)),
        *five_minutes(1, naive(2026, 6, 11, 18), naive(2026, 6, 11, 18, 15)),
    ]
    assert len(slices) == 24
    runs = [(p.low, p.high, p.bucket) for p in plan if p.hourly]
    assert runs == [
        (naive(2026, 6, 9, 19), naive(2026, 6, 10, 18), 0),  # 23 hours
        (naive(2026, 6, 10, 19), naive(2026, 6, 11, 18), 1),
    ]


def test_the_open_hour_is_kept_in_settled_slices_and_the_rest_read_raw() -> None:
    now = naive(2026, 6, 15, 12, 21, 40)
    plan = summaries.pieces(
        [naive(2026, 6, 15, 10, 3, 20), now],
        closed_before=now - summaries.SETTLE,
        kept_from=naive(2026, 1, 1),
    )
    assert [(p.low, p.high, p.cacheable, p.hourly) for p in plan] == [
        (naive(2026, 6, 15, 10, 3, 20), naive(2026, 6, 15, 10, 5), False, False),
        *(
            (naive(2026, 6, 15, 10, m), naive(2026, 6, 15, 10, m) + summaries.SLICE, True, False)
            for m in range(5, 60, 5)
        ),
        (naive(2026, 6, 15, 11), naive(2026, 6, 15, 12), True, True),  # a run of one hour
        *(
            (naive(2026, 6, 15, 12, m), naive(2026, 6, 15, 12, m) + summaries.SLICE, True, False)
            for m in (0, 5, 10)  # 12:15-12:20 ended less than SETTLE ago
        ),
        (naive(2026, 6, 15, 12, 15), now, False, False),
    ]


def test_a_dst_day_has_23_or_25_cacheable_hours_and_old_hours_are_raw() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    spring = funnel_window(
        date(2026, 3, 29), date(2026, 3, 29), naive(2026, 6, 1), madrid, retention_days=365
    )
    autumn = funnel_window(
        date(2026, 10, 25), date(2026, 10, 25), naive(2026, 11, 1), madrid, retention_days=365
    )
    for window, hours in ((spring, 23), (autumn, 25)):
        plan = summaries.pieces(
            window.bucket_boundaries, closed_before=naive(2027, 1, 1), kept_from=naive(2026, 1, 1)
        )
        (run,) = plan
        assert run.hourly and run.high - run.low == hours * HOUR
        assert len(run.hours()) == hours
    kept_from = naive(2026, 3, 29, 5)  # near the retention cutoff: not cached
    plan = summaries.pieces(
        spring.bucket_boundaries, closed_before=naive(2027, 1, 1), kept_from=kept_from
    )
    assert [p.cacheable for p in plan] == [p.low >= kept_from for p in plan]


def test_the_cache_keeps_its_weight_bounded_and_drops_the_least_recently_used() -> None:
    cache = summaries._Cache(capacity=10)
    cache.put(("t", "k", naive(2026, 1, 1, 0)), 0, "a", 3)  # weight 3 + 1
    cache.put(("t", "k", naive(2026, 1, 1, 1)), 0, "b", 3)
    assert cache.get(("t", "k", naive(2026, 1, 1, 0)), 0) == "a"  # now the most recent
    cache.put(("t", "k", naive(2026, 1, 1, 2)), 0, "c", 3)  # over 10: "b" goes
    assert cache.get(("t", "k", naive(2026, 1, 1, 1)), 0) is None
    assert cache.get(("t", "k", naive(2026, 1, 1, 2)), 0) == "c"
    assert cache.weight == 8
    assert cache.get(("t", "k", naive(2026, 1, 1, 2)), 1) is None  # another history version
    assert cache.weight == 4
    cache.put(("t", "k", naive(2026, 1, 1, 3)), 0, "huge", 50)  # larger than it all: not kept
    assert len(cache) == 1


# ---- the same numbers as the raw events ---------------------------------------


def generated(seed: int, now: datetime, *, days: int = 9) -> list[EventDocument]:
    """Sessions of 1–8 events over the ``days`` before ``now``, some spanning hours."""
    rng = random.Random(seed)
    docs: list[EventDocument] = []
    for number in range(160):
        at = now - timedelta(seconds=rng.randrange(days * 86400))
        session = f"s{number}"
        for _ in range(rng.randint(1, 8)):
            at += timedelta(minutes=rng.choice([0, 3, 17, 45, 70]), milliseconds=rng.randrange(999))
            if at >= now:
                break
            kind = rng.choice(TYPES)
            docs.append(
                event(
                    kind,
                    at=at,
                    session=session,
                    tenant="default" if rng.random() < 0.9 else "other",
                    user=rng.choice([None, "ana@x", "bo@x"]),
                    slug=rng.choice([None, "p0", "p1", "p2", "p3|x"]),
                    name=rng.choice([None, "Tee", "Cap", "Bag"]),
                    price=rng.choice([None, 10.0, 2.5]),
                    quantity=rng.randint(1, 3),
                    source=rng.choice([None, None, "google", "instagram"]),
                )
            )
    bot = event("page_view", at=now - timedelta(hours=30), session="bot", source="google")
    bot["bot"] = True
    docs.append(bot)
    return docs


def in_window(docs: list[EventDocument], window: DayWindow, tenant: str) -> list[EventDocument]:
    low, high = to_naive_utc(window.start), to_naive_utc(window.end)
    return [
        d
        for d in docs
        if d["tenantId"] == tenant and not d.get("bot") and low <= d["createdAt"] < high
    ]


def day_index(window: DayWindow, doc: EventDocument) -> int:
    return bisect.bisect_right(window.day_starts, to_aware_utc(doc["createdAt"])) - 1


def expected_type_counts(docs: list[EventDocument], window: DayWindow) -> dict[str, list[int]]:
    counts: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(window.days))
    for doc in in_window(docs, window, "default"):
        counts[doc["eventType"]][day_index(window, doc)] += 1
    return dict(counts)


def expected_sessions(
    docs: list[EventDocument], window: DayWindow, *, unique: bool
) -> passes.Sessions:
    events: Counter[str] = Counter()
    earliest: dict[str, tuple[datetime, str]] = {}
    roles: defaultdict[str, set[str]] = defaultdict(set)
    for doc in in_window(docs, window, "default"):
        session = doc["sessionId"]
        events[session] += 1
        if doc["source"] is not None:
            keyed = (doc["createdAt"], doc["source"])
            earliest[session] = min(earliest.get(session, keyed), keyed)
        role = role_of(doc["eventType"])
        if role is not None:
            roles[role.value].add(session)
    by_source = Counter(source for _, source in earliest.values())
    if len(events) > len(earliest):
        by_source[DIRECT_SOURCE] += len(events) - len(earliest)
    funnel_roles = ("product_view", "add_to_cart", "begin_checkout", "purchase")
    return passes.Sessions(
        sessions=len(events),
        events=sum(events.values()),
        sessions_by_type={r: len(roles[r]) for r in funnel_roles} if unique else {},
        sessions_by_source=dict(by_source),
        buying_sessions=len(roles["purchase"]),
    )


def expected_products(
    docs: list[EventDocument], window: DayWindow, *, unique: bool
) -> list[passes.ProductFigures]:
    counted: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    units: Counter[str] = Counter()
    names: dict[str, tuple[datetime, str]] = {}
    for doc in in_window(docs, window, "default"):
        slug = doc["productSlug"]
        if slug is None:
            continue
        if doc["productName"] is not None:
            # the latest name; equal times: the greater name (as the keyed text compares)
            moment = doc["createdAt"]
            keyed = (
                moment.replace(microsecond=moment.microsecond // 1000 * 1000),
                doc["productName"],
            )
            names[slug] = max(names.get(slug, keyed), keyed)
        role = role_of(doc["eventType"])
        if role in PRODUCT_ROLES:
            counted[(slug, role.value)].append(doc["sessionId"])
            if role == Role.PURCHASE:
                units[slug] += doc["quantity"]

    def count(slug: str, role: Role) -> int:
        sessions = counted.get((slug, role.value), [])
        return len(set(sessions)) if unique else len(sessions)

    slugs = {slug for slug, _ in counted}
    listed = [
        passes.ProductFigures(
            slug=slug,
            name=names[slug][1] if slug in names else slug,
            views=count(slug, Role.PRODUCT_VIEW),
            add_to_cart=count(slug, Role.ADD_TO_CART),
            purchases=count(slug, Role.PURCHASE),
            purchases_units=units[slug],
        )
        for slug in slugs
    ]
    return sorted(listed, key=lambda p: (-p.views, p.slug))


def expected_funnel(
    docs: list[EventDocument], window: DayWindow, source: str | None
) -> list[FunnelStep]:
    wanted = None if source == DIRECT_SOURCE else source
    sessions: defaultdict[Role, set[str]] = defaultdict(set)
    for doc in in_window(docs, window, "default"):
        if source is not None and doc["source"] != wanted:
            continue
        role = role_of(doc["eventType"])
        if role in FUNNEL_ROLES:
            sessions[role].add(doc["sessionId"])
    return with_conversion(
        [role.value for role in FUNNEL_ROLES], [len(sessions[role]) for role in FUNNEL_ROLES]
    )


def expected_buyers(docs: list[EventDocument], now: datetime) -> list[customers.Buyer]:
    low, high = to_naive_utc(now) - timedelta(days=90), to_naive_utc(now)
    lines: defaultdict[str, list[EventDocument]] = defaultdict(list)
    for doc in docs:
        if (
            doc["tenantId"] == "default"
            and role_of(doc["eventType"]) == Role.PURCHASE
            and doc["userId"] is not None
            and low <= doc["createdAt"] < high
        ):
            lines[doc["userId"]].append(doc)
    return [
        customers.Buyer(
            user_id=user,
            last_purchase=max(d["createdAt"] for d in bought),
            orders=len({d["orderId"] or d["_id"] for d in bought}),
            monetary=math.fsum((d["price"] or 0) * d["quantity"] for d in bought),
        )
        for user, bought in sorted(lines.items())
    ]


def expected_abandonment(docs: list[EventDocument], low: datetime, high: datetime) -> Abandonment:
    checked_out: set[str] = set()
    bought: set[str] = set()
    for doc in docs:
        if doc["tenantId"] == "default" and not doc.get("bot") and low <= doc["createdAt"] < high:
            identifier = doc["userId"] or doc["sessionId"]
            if role_of(doc["eventType"]) == Role.BEGIN_CHECKOUT:
                checked_out.add(identifier)
            if role_of(doc["eventType"]) == Role.PURCHASE:
                bought.add(identifier)
    abandoned = len(checked_out - bought)
    return Abandonment(len(checked_out), abandoned, percent(abandoned, len(checked_out)))


def expected_whatsapp(docs: list[EventDocument], window: DayWindow) -> passes.Whatsapp:
    clicks: dict[str, datetime] = {}
    bought: set[str] = set()
    for doc in in_window(docs, window, "default"):
        session = doc["sessionId"]
        if role_of(doc["eventType"]) == Role.WHATSAPP_CART_CLICK:
            clicks[session] = max(clicks.get(session, doc["createdAt"]), doc["createdAt"])
        if doc["eventType"] == "whatsapp_purchase":
            bought.add(session)
    latest = sorted(clicks, key=lambda session: (-clicks[session].timestamp(), session))[:10]
    return passes.Whatsapp(len(clicks), len(bought), tuple(latest))


async def assert_views_match(
    database: EmbeddedDatabase, docs: list[EventDocument], zone: ZoneInfo, now: datetime
) -> None:
    week = dashboard_window(now, zone)
    counts = await passes.type_day_counts(database, tenant="default", window=week, now=now)
    expected = expected_type_counts(docs, week)
    assert {t: list(c) for t, c in counts.per_day.items()} == expected
    assert counts.total("never_sent") == 0
    revenue = math.fsum(
        (d["price"] or 0) * d["quantity"]
        for d in in_window(docs, week, "default")
        if role_of(d["eventType"]) == Role.PURCHASE
    )
    assert await passes.revenue(database, tenant="default", window=week, now=now) == revenue
    for unique in (False, True):
        assert await passes.sessions(
            database, tenant="default", window=week, unique=unique, now=now
        ) == expected_sessions(docs, week, unique=unique)
        assert await passes.products(
            database, tenant="default", window=week, unique=unique, now=now
        ) == expected_products(docs, week, unique=unique)
    assert await customers.buyers(database, tenant="default", now=now) == expected_buyers(docs, now)
    assert await passes.whatsapp(
        database, tenant="default", window=week, now=now
    ) == expected_whatsapp(docs, week)
    for low, high in ((week.start, week.end), (now - 24 * HOUR, now)):
        low, high = to_naive_utc(low), to_naive_utc(high)
        assert await abandonment(
            database, tenant="default", low=low, high=high, now=now
        ) == expected_abandonment(docs, low, high)
    month = funnel_window(None, None, now, zone, retention_days=365)
    for source in (None, "google", DIRECT_SOURCE):
        result = await funnel(database, tenant="default", window=month, source=source, now=now)
        assert result.steps == expected_funnel(docs, month, source), source


ZONES = ["UTC", "America/Bogota", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Madrid"]


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 6, 15, 12, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 31, 0, 20, tzinfo=UTC),  # the week holds Madrid's spring change
        datetime(2026, 10, 27, 23, 59, tzinfo=UTC),  # ... and the autumn one
    ],
    ids=["june", "spring", "autumn"],
)
async def test_cold_warm_and_after_an_import_the_views_answer_as_the_raw_events(
    database: EmbeddedDatabase, zone_name: str, now: datetime
) -> None:
    zone = ZoneInfo(zone_name)
    docs = generated(seed=len(zone_name) + now.month, now=now)
    await store(database, *docs)
    await assert_views_match(database, docs, zone, now)  # cold: computes, caches
    cache = summaries.cache_of(database)
    hits, misses, cached = cache.hits, cache.misses, len(cache)
    assert misses == cached > 0  # each cacheable hour and span read once (passes share some)
    before = database.pipelines_run
    await assert_views_match(database, docs, zone, now)  # warm: closed hours cached
    # Nothing missed or added; each bucket's closed hours came as one span, so
    # the warm run looked up a tenth of what the cold one did, or less.
    assert (cache.misses, len(cache)) == (misses, cached)
    assert 0 < cache.hits - hits <= (hits + misses) / 10
    # Warm, each pass reads only its raw edges, in every zone: the minutes since
    # the last settled slice (types, revenue, sessions and products in both
    # modes, buyers, the funnel for three sources, WhatsApp, abandonment over the
    # week and over 24 hours: 13 reads), and the minutes before the first slice
    # of each of two rolling windows (buyers', the 24 hours'), unless it starts on one.
    on_a_slice = now.minute % 5 == 0 and now.second == 0
    assert database.pipelines_run - before == 13 + (0 if on_a_slice else 2)
    # An import into a closed hour two days ago (and one into another tenant).
    old = now - timedelta(days=2, hours=3)
    late = [
        event("product_view", at=old, session="imp", slug="p1", name="Late", source="google"),
        event("purchase", at=old + HOUR, session="imp", slug="p1", quantity=3, user="bo@x"),
        event("page_view", at=old, session="imp2", tenant="other"),
    ]
    assert await ingest.import_events(database, late) == (3, 0)
    await assert_views_match(database, [*docs, *late], zone, now)


async def test_the_open_hour_is_read_raw_and_live_events_show_at_once(
    database: EmbeddedDatabase,
) -> None:
    now = utcnow()
    await store(database, event("page_view", at=now - timedelta(hours=5), session="a"))
    version = await database.history_version("default")
    first = await summaries.over_range(
        database, TypeCounts(), tenant="default", low=now - 6 * HOUR, high=now, now=now
    )
    # A live event lands in the open hour and leaves the history version alone.
    await store(database, event("page_view", at=utcnow(), session="b"))
    assert await database.history_version("default") == version
    second = await summaries.over_range(
        database, TypeCounts(), tenant="default", low=now - 6 * HOUR, high=utcnow(), now=utcnow()
    )
    assert (first, second) == ({"page_view": 1}, {"page_view": 2})


async def test_sessions_spanning_hours_count_once_with_their_earliest_source(
    database: EmbeddedDatabase,
) -> None:
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    at = datetime(2026, 6, 15, 8, 50, tzinfo=UTC)
    await store(
        database,
        event("page_view", at=at, session="a"),  # no source in its first hour
        event("product_view", at=at + timedelta(minutes=20), session="a", source="instagram"),
        event("add_to_cart", at=at + timedelta(minutes=80), session="a", source="google"),
        event("page_view", at=at + timedelta(minutes=90), session="b", source="google"),
    )
    for _ in range(2):  # cold, then warm
        state = await summaries.over_range(
            database, SessionActivity(), tenant="default", low=now - 6 * HOUR, high=now, now=now
        )
        assert (state.sessions, state.events) == ({"a", "b"}, 4)
        assert state.events_by_session == {"a": 3, "b": 1}
        assert state.sources == {"a": "instagram", "b": "google"}
        assert state.role(Role.ADD_TO_CART) == {"a"}
        assert state.role(Role.PAGE_VIEW) == {"a", "b"}


def test_busy_sessions_of_a_span_count_every_piece() -> None:
    # The base (most sessions) is read from its own list; sessions the edges touch
    # are counted in full, whichever side of 15 events they started on.
    base = Sessions(events={"a": 20, "b": 10, "c": 16, "f": 16, "g": 15, "h": 1})
    before = Sessions(events={"b": 3, "f": 1})
    after = Sessions(events={"c": 1, "d": 16, "e": 2, "g": 1})
    span = SessionSpan([before, base, after])
    expected = {"a", "c", "d", "f", "g"}
    assert {s for s, n in span.events_by_session.items() if n > 15} == expected
    assert span.sessions_above(15) == expected
    assert base.busy == {15: ["a", "c", "f"]}
    assert SessionSpan([before, base, after]).sessions_above(15) == expected  # memo kept
    assert span.sessions_above(16) == {"a", "c", "f"}
    assert SessionSpan([]).sessions_above(0) == set()


async def test_history_versions_on_mongodb_move_on_per_tenant() -> None:
    mongo = MongoDatabase(AsyncMongoMockClient(tz_aware=False), "history_test")
    assert await mongo.history_version("shop") == 0
    await mongo.history_changed("shop")
    await mongo.history_changed("shop")
    await mongo.history_changed("other")
    assert (await mongo.history_version("shop"), await mongo.history_version("other")) == (2, 1)
    assert await mongo.history_version("nobody") == 0


@pytest.mark.parametrize("kind", ["embedded", "mongodb"])
async def test_a_write_into_the_past_moves_its_tenants_on_even_as_a_duplicate(
    database: EmbeddedDatabase, kind: str
) -> None:
    target = (
        database
        if kind == "embedded"
        else MongoDatabase(AsyncMongoMockClient(tz_aware=False), "past_writes")
    )
    old = event("page_view", at=utcnow() - timedelta(minutes=2), tenant="shop")
    assert await ingest.import_events(target, [old]) == (1, 0)
    assert await ingest.import_events(target, [old]) == (0, 1)  # a retried import
    assert await target.history_version("shop") == 2
    live = event("page_view", at=utcnow(), tenant="shop", session="now")
    await target.insert_events([live], retire_before=None)
    assert await target.history_version("shop") == 2
    assert await target.history_version("default") == 0


def test_a_span_counts_from_its_biggest_piece_as_the_full_merge_does() -> None:
    def piece(events: dict[str, int], sources: dict[str, str], **roles: set[str]) -> Sessions:
        state = Sessions(events=events, sources=sources, event_total=sum(events.values()))
        for name, sessions in roles.items():
            state.roles[Role(name)] = sessions
        return state

    before = piece({"x": 1, "y": 1}, {"x": "instagram"}, page_view={"x", "y"})
    base = piece(  # the biggest: counts start from it
        {"x": 2, "z": 1, "w": 1, "v": 1},
        {"x": "google", "z": "facebook"},
        page_view={"z", "w"},
        add_to_cart={"x"},
    )
    after = piece({"z": 1, "u": 1, "w": 1}, {"w": "email", "z": "google"}, page_view={"u"})
    after.roles[Role.ADD_TO_CART] = {"z"}
    span = SessionActivity().merge([before, base, after])
    # x's earliest source is instagram (before the base), z keeps the base's
    # facebook, w takes email from the piece after; y, v and u have none.
    assert span.session_count == len(span.sessions) == 6
    assert span.source_counts == {"instagram": 1, "facebook": 1, "email": 1}
    assert span.sources == {"x": "instagram", "z": "facebook", "w": "email"}
    assert span.role_count(Role.PAGE_VIEW) == len(span.role(Role.PAGE_VIEW)) == 5
    assert span.role_count(Role.ADD_TO_CART) == 2
    assert span.role_count(Role.PURCHASE) == 0
    assert span.events == 10
    combined = SessionActivity().combine([before, base, after])
    assert combined.events == {"x": 3, "y": 1, "z": 2, "w": 2, "v": 1, "u": 1}
    assert (combined.sources, combined.event_total) == (span.sources, 10)
    assert combined.roles[Role.ADD_TO_CART] == {"x", "z"}
    # Merged with a later piece, the combined state answers as its pieces did.
    late = piece({"u": 1, "t": 1}, {"t": "email", "u": "facebook"}, page_view={"t"})
    assert SessionActivity().merge([combined, late]).source_counts == {
        "instagram": 1,
        "facebook": 2,
        "email": 2,
    }
    assert SessionActivity().merge([]).session_count == 0


def test_runs_are_the_kept_whole_hours_of_one_bucket() -> None:
    boundaries = [naive(2026, 6, 15, 0), naive(2026, 6, 15, 3, 30), naive(2026, 6, 15, 6)]
    plan = summaries.pieces(
        boundaries, closed_before=naive(2026, 6, 15, 5), kept_from=naive(2026, 6, 15, 1)
    )
    # 00-01 too old (raw); 01-03 a run; 03-03:30 | 03:30-04 cut by the edge
    # (slices); 04-05 alone in its bucket's run; 05-06 not closed (raw).
    assert [(p.low, p.high, p.cacheable, p.hourly) for p in plan if p.high - p.low >= HOUR] == [
        (naive(2026, 6, 15, 0), naive(2026, 6, 15, 1), False, False),
        (naive(2026, 6, 15, 1), naive(2026, 6, 15, 3), True, True),
        (naive(2026, 6, 15, 4), naive(2026, 6, 15, 5), True, True),
        (naive(2026, 6, 15, 5), naive(2026, 6, 15, 6), False, False),
    ]
    assert [p.cacheable for p in plan] == [False, True, *[True] * 12, True, False]
    assert [p.key for p in plan[1:3]] == [
        (naive(2026, 6, 15, 1), naive(2026, 6, 15, 3)),  # the span's key
        (naive(2026, 6, 15, 3), naive(2026, 6, 15, 3, 5)),  # a slice's
    ]
    assert plan[-2].key == naive(2026, 6, 15, 4)  # an hour's


def test_union_and_distinct_count_of_pieces() -> None:
    big = {f"s{i}" for i in range(100)}
    pieces = [{"a", "s1"}, big, set(), {"s99", "b", "a"}]
    merged = union(pieces)
    assert merged == big | {"a", "b"} and len(merged) == 102
    assert distinct_count(pieces) == 102
    # A new set: no piece, the biggest included, is changed or handed out.
    assert merged is not big and big == {f"s{i}" for i in range(100)}
    assert pieces[0] == {"a", "s1"} and pieces[3] == {"s99", "b", "a"}
    assert union([]) == set() and distinct_count([]) == 0
    assert union(iter([{"x"}])) == {"x"} and union([frozenset({1}), {2}]) == {1, 2}


async def test_concurrent_views_of_cold_hours_share_each_read(tmp_path: Path) -> None:
    now = datetime(2026, 6, 15, 12, 7, 30, tzinfo=UTC)
    docs = generated(seed=7, now=now)
    window = (now - timedelta(days=3), now)
    low, high = to_naive_utc(window[0]), to_naive_utc(now)
    expected = Counter(
        d["eventType"]
        for d in docs
        if d["tenantId"] == "default" and not d.get("bot") and low <= d["createdAt"] < high
    )
    reads: list[int] = []
    for callers in (1, 3):  # the same cold store, read by one view, then by three at once
        database = await EmbeddedDatabase.open(
            tmp_path / f"callers-{callers}", fsync_seconds=0, retention_days=365
        )
        await store(database, *docs)

        async def view(database: EmbeddedDatabase = database) -> Any:
            return await summaries.over_range(
                database, TypeCounts(), tenant="default", low=window[0], high=window[1], now=now
            )

        before = database.pipelines_run
        answers = await asyncio.gather(*(view() for _ in range(callers)))
        reads.append(database.pipelines_run - before)
        assert answers == [expected] * callers
        assert len(summaries.reads_of(database)) == 0  # nothing left running
        await database.close()
    # Three views at once read what one alone reads (each run once, shared).
    assert reads[1] == reads[0] > 0


async def test_a_shared_read_outlives_a_cancelled_caller_but_not_all_of_them() -> None:
    reads = summaries.SharedReads()
    started = 0
    release = asyncio.Event()

    async def slow() -> list[int]:
        nonlocal started
        started += 1
        await release.wait()
        return [started]

    # Two callers; the first is cancelled; the second still gets the one answer.
    one = asyncio.create_task(reads.read("k", slow))
    two = asyncio.create_task(reads.read("k", slow))
    await asyncio.sleep(0)
    one.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await two == [1] and started == 1
    with pytest.raises(asyncio.CancelledError):
        await one
    assert len(reads) == 0
    # Every caller cancelled: the read itself is cancelled, and a later caller starts anew.
    release.clear()
    lone = asyncio.create_task(reads.read("k", slow))
    await asyncio.sleep(0)
    (running,) = reads._running.values()
    lone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lone
    await asyncio.sleep(0)
    assert running.task.cancelled() and len(reads) == 0
    release.set()
    assert await reads.read("k", slow) == [3] and started == 3

    # A failing read fails each of its callers, and is not kept.
    async def broken() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("down")

    results = await asyncio.gather(
        reads.read("x", broken), reads.read("x", broken), return_exceptions=True
    )
    assert [str(r) for r in results] == ["down", "down"] and len(reads) == 0
