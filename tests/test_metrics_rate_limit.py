"""The per-tenant rate limit (docs/metrics.md, "Tenants and rate limit"; metrics.rate_limit):
the counter seam on both stores, the admission arithmetic, and tracking through the schema."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from core.settings import Settings
from metrics import rate_limit
from metrics.context import RequestFacts
from metrics.tenants import Tenant
from schema.context import Context
from storage.database import Database, MongoDatabase
from storage.embedded import EmbeddedDatabase
from storage.indexes import RATE_LIMITS, event_indexes, rate_limit_indexes
from tests.conftest import NOW, SCHEMA, SECRET, Run, token

REAL_URL = os.environ.get("MONGODB_URL")
TRACK = """mutation($e: TrackEventInput!) { trackEvent(input: $e) { status } }"""
BATCH = """mutation($e: [TrackEventInput!]!) {
  trackEvents(events: $e) { index status error { code field retryAfter } } }"""
IMPORT = """mutation($e: [ImportEventInput!]!, $t: ID) {
  importEvents(events: $e, tenantId: $t) { inserted duplicates } }"""
UPSERT = """mutation($id: ID!, $limit: Int!) {
  upsertTenant(id: $id, input: {rateLimitPerMinute: $limit}) { rateLimitPerMinute } }"""
# 20 s into the current real UTC minute (40 s to the next): counters expire two
# minutes after their minute, and both MongoDB's TTL (which mongomock applies on
# reads) and the embedded sweep compare expiresAt with the real clock.
AT = datetime.now(UTC).replace(second=20, microsecond=0)


@pytest.fixture(autouse=True)
def _current_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    # Taken per test, not once at import: on a slow run a counter stamped minutes
    # earlier would already have expired (mongomock applies TTL on reads).
    now = datetime.now(UTC).replace(second=20, microsecond=0)
    monkeypatch.setattr(sys.modules[__name__], "AT", now)


LATER = datetime(2100, 1, 1)


def shop(limit: int, tenant_id: str = "shop1") -> Tenant:
    return Tenant(
        id=tenant_id,
        name=tenant_id,
        timezone="UTC",
        currency="USD",
        rate_limit_per_minute=limit,
        allowed_origins=(),
    )


@pytest.fixture(params=["embedded", "mongomock", "mongodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database: Database
    if request.param == "embedded":
        database = await EmbeddedDatabase.open(tmp_path / "store", fsync_seconds=0)
    else:
        name = f"analytics_test_{uuid.uuid4().hex[:12]}"
        if request.param == "mongomock":
            database = MongoDatabase(AsyncMongoMockClient(tz_aware=False), name)
        else:
            if not REAL_URL:
                pytest.skip("MONGODB_URL is not set: no real MongoDB to test against")
            database = MongoDatabase.connect(REAL_URL, name)
        await database.ensure_indexes(event_indexes(retention_days=365))
        await database.ensure_indexes(rate_limit_indexes())
    yield database
    if isinstance(database, MongoDatabase):
        await database._client.drop_database(name)
    await database.close()


# ---- the arithmetic ----------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (NOW, 60),  # on the minute: the whole next minute
        (NOW + timedelta(seconds=20), 40),
        (NOW + timedelta(seconds=30, microseconds=200_000), 30),  # 29.8 s, rounded up
        (NOW + timedelta(seconds=59, microseconds=999_999), 1),  # never 0
    ],
)
def test_retry_after_is_whole_seconds_to_the_next_utc_minute(now: datetime, seconds: int) -> None:
    assert rate_limit.retry_after(now) == seconds


def test_counter_key_is_tenant_and_utc_minute() -> None:
    bogota = datetime(2026, 6, 15, 7, 34, 59, tzinfo=UTC).astimezone()
    minute = rate_limit.minute_of(bogota)
    assert minute == datetime(2026, 6, 15, 7, 34)
    assert rate_limit.counter_key("shop1", minute) == "shop1|2026-06-15T07:34Z"


def test_the_counter_index_is_a_ttl_on_expires_at() -> None:
    (spec,) = rate_limit_indexes()
    assert (spec.collection, spec.keys, spec.expire_after_seconds) == (
        RATE_LIMITS,
        (("expiresAt", 1),),
        0,
    )
    assert spec.serves


# ---- the seam, on each store ------------------------------------------------


async def test_reserve_counts_and_release_gives_back(store: Database) -> None:
    expires = LATER
    assert await store.reserve("shop1|2026-06-15T12:00Z", 3, expires_at=expires) == 3
    assert await store.reserve("shop1|2026-06-15T12:00Z", 2, expires_at=expires) == 5
    await store.release("shop1|2026-06-15T12:00Z", 4)
    assert await store.reserve("shop1|2026-06-15T12:00Z", 1, expires_at=expires) == 2
    # Another tenant, another minute: counters of their own.
    assert await store.reserve("shop2|2026-06-15T12:00Z", 1, expires_at=expires) == 1
    assert await store.reserve("shop1|2026-06-15T12:01Z", 1, expires_at=expires) == 1


async def test_mongodb_counter_document_shape(store: Database) -> None:
    if not isinstance(store, MongoDatabase):
        pytest.skip("the document shape is MongoDB's")
    expires = LATER
    await store.reserve("shop1|2026-06-15T12:00Z", 2, expires_at=expires)
    await store.reserve("shop1|2026-06-15T12:00Z", 1, expires_at=datetime(2200, 1, 1))
    found = await store._db[RATE_LIMITS].find_one({"_id": "shop1|2026-06-15T12:00Z"})
    # expiresAt is set once, by the first reservation.
    assert found == {"_id": "shop1|2026-06-15T12:00Z", "count": 3, "expiresAt": expires}


async def test_150_concurrent_reservations_admit_exactly_100(store: Database) -> None:
    grants = await asyncio.gather(
        *(rate_limit.reserve(store, shop(100), 1, AT) for _ in range(150))
    )
    assert sum(g.admitted for g in grants) == 100
    assert sum(g.refused for g in grants) == 50
    # Refused units were given back: the counter holds exactly the admitted ones.
    key = rate_limit.counter_key("shop1", rate_limit.minute_of(AT))
    assert await store.reserve(key, 0, expires_at=LATER) == 100


async def test_a_batch_is_admitted_up_to_the_limit_in_order(store: Database) -> None:
    first = await rate_limit.reserve(store, shop(10), 7, AT)
    second = await rate_limit.reserve(store, shop(10), 7, AT)
    third = await rate_limit.reserve(store, shop(10), 2, AT)
    assert (first.admitted, first.refused) == (7, 0)
    assert (second.admitted, second.refused) == (3, 4)
    assert (third.admitted, third.refused) == (0, 2)
    # A unit given back (a duplicate) lets one more in, and only one.
    await rate_limit.give_back(store, first, 1)
    fourth = await rate_limit.reserve(store, shop(10), 2, AT)
    assert (fourth.admitted, fourth.refused) == (1, 1)


async def test_the_next_minute_has_a_fresh_budget(store: Database) -> None:
    assert (await rate_limit.reserve(store, shop(1), 1, AT)).admitted == 1
    assert (await rate_limit.reserve(store, shop(1), 1, AT)).admitted == 0
    later = AT + timedelta(seconds=40)  # 12:01:00
    assert (await rate_limit.reserve(store, shop(1), 1, later)).admitted == 1


async def test_zero_is_no_limit_and_touches_no_counter(store: Database) -> None:
    grant = await rate_limit.reserve(store, shop(0), 500, AT)
    assert (grant.keys, grant.admitted, grant.refused) == ((), 500, 0)
    key = rate_limit.counter_key("shop1", rate_limit.minute_of(AT))
    assert await store.reserve(key, 0, expires_at=LATER) == 0


# ---- tracking through the schema (embedded store) -----------------------------


class Tracker:
    """Schema calls at a fixed time against one store, sharing one settings object."""

    def __init__(self, database: EmbeddedDatabase, settings: Settings) -> None:
        self.run = Run(database, settings)
        self.database = database
        self.settings = settings

    async def limit(self, tenant: str, limit: int) -> None:
        result = await self.run(UPSERT, {"id": tenant, "limit": limit})
        assert result.errors is None, result.errors

    async def call(self, query: str, variables: dict[str, Any], *, bot: bool = False) -> Any:
        facts = RequestFacts(user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)")
        context = Context(
            database=self.database,
            settings=self.settings,
            jwt_secret=SECRET,
            now=AT,
            facts=facts if bot else RequestFacts(),
        )
        return await SCHEMA.execute(query, variable_values=variables, context_value=context)

    async def track(self, key: str, tenant: str = "shop1", **options: Any) -> Any:
        item = {"eventType": "page_view", "tenantId": tenant, "idempotencyKey": key}
        return await self.call(TRACK, {"e": item}, **options)


@pytest.fixture
def tracker(database: EmbeddedDatabase, settings: Settings) -> Tracker:
    return Tracker(database, settings)


def answer(result: Any) -> str:
    """``OK``/``BOT``/``DUPLICATE_IGNORED``, or the error code."""
    if result.errors:
        return str(result.errors[0].extensions["code"])
    return str(result.data["trackEvent"]["status"])


async def test_150_concurrent_track_events_store_exactly_100(
    tracker: Tracker, database: EmbeddedDatabase
) -> None:
    await tracker.limit("shop1", 100)
    results = await asyncio.gather(*(tracker.track(f"k{i}") for i in range(150)))
    answers = [answer(r) for r in results]
    assert answers.count("OK") == 100
    assert answers.count("RATE_LIMITED") == 50
    refused = next(r for r in results if r.errors)
    assert refused.errors[0].extensions == {"code": "RATE_LIMITED", "retryAfter": 40}
    assert refused.data is None
    assert await database.count_events("shop1") == 100


async def test_duplicates_spend_no_budget(tracker: Tracker, database: EmbeddedDatabase) -> None:
    await tracker.limit("shop1", 3)
    assert [answer(await tracker.track(key)) for key in "aaabcd"] == [
        "OK",
        "DUPLICATE_IGNORED",
        "DUPLICATE_IGNORED",
        "OK",
        "OK",  # the two duplicates took nothing: c is the third event
        "RATE_LIMITED",
    ]
    assert await database.count_events("shop1") == 3


async def test_track_events_answers_per_item(tracker: Tracker, database: EmbeddedDatabase) -> None:
    await tracker.limit("shop1", 3)
    await tracker.limit("shop2", 1)

    def item(key: str, tenant: str = "shop1", event_type: str = "page_view") -> dict[str, Any]:
        return {"eventType": event_type, "tenantId": tenant, "idempotencyKey": key}

    batch = [
        item("a"),
        item("bad", event_type="Not A Type"),  # rejected: costs nothing
        item("b"),
        item("x", tenant="shop2"),
        item("c"),
        item("d"),  # shop1's fourth
        item("y", tenant="shop2"),  # shop2's second
        item("a"),  # a duplicate of the first, in the same call: admitted, then given back
    ]
    result = await tracker.call(BATCH, {"e": batch})
    assert result.errors is None
    rows = [(r["status"], r["error"]) for r in result.data["trackEvents"]]
    limited = {"code": "RATE_LIMITED", "field": None, "retryAfter": 40}
    assert rows == [
        ("OK", None),
        (None, {"code": "BAD_USER_INPUT", "field": "events[1].eventType", "retryAfter": None}),
        ("OK", None),
        ("OK", None),
        ("OK", None),
        (None, limited),
        (None, limited),
        # Items are admitted in order: the 4th shop1 item (d) was already over
        # the limit, so this one is too (nothing stored either way).
        (None, limited),
    ]
    assert await database.count_events("shop1") == 3
    assert await database.count_events("shop2") == 1


async def test_a_duplicate_inside_a_batch_gives_its_unit_back(
    tracker: Tracker, database: EmbeddedDatabase
) -> None:
    await tracker.limit("shop1", 2)
    batch = [{"eventType": "page_view", "tenantId": "shop1", "idempotencyKey": k} for k in "aa"]
    result = await tracker.call(BATCH, {"e": batch})
    assert [r["status"] for r in result.data["trackEvents"]] == ["OK", "DUPLICATE_IGNORED"]
    assert answer(await tracker.track("b")) == "OK"  # the second unit came back
    assert answer(await tracker.track("c")) == "RATE_LIMITED"
    assert await database.count_events("shop1") == 2


async def test_zero_means_no_limit(tracker: Tracker, database: EmbeddedDatabase) -> None:
    await tracker.limit("shop1", 0)
    batch = [{"eventType": "page_view", "tenantId": "shop1"} for _ in range(100)]
    for _ in range(3):
        result = await tracker.call(BATCH, {"e": batch})
        assert {r["status"] for r in result.data["trackEvents"]} == {"OK"}
    assert await database.count_events("shop1") == 300


async def test_unconfigured_tenants_get_the_server_default(
    tracker: Tracker, database: EmbeddedDatabase
) -> None:
    # TENANT_RATE_LIMIT_PER_MINUTE defaults to 100.
    batch = [{"eventType": "page_view", "tenantId": "fresh"} for _ in range(100)]
    first = await tracker.call(BATCH, {"e": batch})
    assert {r["status"] for r in first.data["trackEvents"]} == {"OK"}
    assert answer(await tracker.track("one-more", tenant="fresh")) == "RATE_LIMITED"
    assert await database.count_events("fresh") == 100


async def test_bot_events_spend_budget(tracker: Tracker, database: EmbeddedDatabase) -> None:
    await tracker.limit("shop1", 2)
    answers = [answer(await tracker.track(key, bot=True)) for key in "ab"]
    assert answers == ["BOT", "BOT"]
    assert answer(await tracker.track("c")) == "RATE_LIMITED"
    assert await database.count_events("shop1") == 2


async def test_admin_imports_are_not_limited(tracker: Tracker, database: EmbeddedDatabase) -> None:
    await tracker.limit("shop1", 1)
    created = (AT - timedelta(hours=1)).isoformat()
    events = [
        {"eventType": "page_view", "sessionId": f"s{i}", "createdAt": created} for i in range(5)
    ]
    result = await tracker.run(
        IMPORT, {"e": events, "t": "shop1"}, now=AT, authorization=f"Bearer {token(tenant='*')}"
    )
    assert result.data == {"importEvents": {"inserted": 5, "duplicates": 0}}
    # ...and spend none of the live budget.
    assert answer(await tracker.track("live")) == "OK"


async def test_a_visitor_share_caps_one_busy_client(store: Database) -> None:
    # Limit 10, share 0.3: a visitor spends at most 3 of a minute's 10.
    grants = [
        await rate_limit.reserve(store, shop(10), 5, AT, visitor=v, visitor_share=0.3)
        for v in "abcd"
    ]
    assert [(g.admitted, g.refused) for g in grants] == [(3, 2), (3, 2), (3, 2), (1, 4)]
    minute = rate_limit.minute_of(AT)
    tenant_key = rate_limit.counter_key("shop1", minute)
    assert await store.reserve(tenant_key, 0, expires_at=LATER) == 10
    visitor_a = rate_limit.counter_key("shop1|a", minute)
    assert await store.reserve(visitor_a, 0, expires_at=LATER) == 3
    # A duplicate of visitor a gives its unit back to both counters.
    await rate_limit.give_back(store, grants[0], 1)
    assert await store.reserve(tenant_key, 0, expires_at=LATER) == 9
    assert await store.reserve(visitor_a, 0, expires_at=LATER) == 2
    # Visitor d was refused by the tenant, not by its share: its units came back.
    visitor_d = rate_limit.counter_key("shop1|d", minute)
    assert await store.reserve(visitor_d, 0, expires_at=LATER) == 1
    assert rate_limit.visitor_limit(shop(10), 0.0) == 0
    assert rate_limit.visitor_limit(shop(10), 0.01) == 1
    assert rate_limit.visitor_limit(shop(0), 0.5) == 0


async def test_a_visitor_share_through_the_schema(
    database: EmbeddedDatabase, tmp_path: Path
) -> None:
    from core.settings import load_settings

    settings = load_settings(
        {"DATA_DIR": str(tmp_path), "JWT_SECRET": SECRET, "RATE_LIMIT_VISITOR_SHARE": "0.5"}
    )
    tracker = Tracker(database, settings)
    await tracker.limit("shop1", 4)

    async def track(ip: str, key: str, agent: str = "UA") -> str:
        item = {
            "eventType": "page_view",
            "tenantId": "shop1",
            "sessionId": key,
            "idempotencyKey": key,
        }
        context = Context(
            database=database,
            settings=settings,
            jwt_secret=SECRET,
            now=AT,
            facts=RequestFacts(client_ip=ip, user_agent=agent),
            visitor_key=b"k" * 32,
        )
        result = await SCHEMA.execute(TRACK, variable_values={"e": item}, context_value=context)
        return answer(result)

    # One client is its address: new sessions and user agents do not buy it more.
    busy = [await track("203.0.113.1", f"b{i}", agent=f"UA {i}") for i in range(3)]
    assert busy == ["OK", "OK", "RATE_LIMITED"]
    assert [await track("203.0.113.2", f"c{i}") for i in range(3)] == ["OK", "OK", "RATE_LIMITED"]
    assert await track("203.0.113.3", "l0") == "RATE_LIMITED"  # the tenant's 4 are spent
    assert await database.count_events("shop1") == 4
