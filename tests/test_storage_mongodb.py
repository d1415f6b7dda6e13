"""``MongoDatabase``: over mongomock-motor always, over a real MongoDB when MONGODB_URL is set.

The mongomock run checks our logic (unordered bulk insert, duplicate handling,
retiring a key after its window, index creation); the real run checks that
MongoDB's unique index, TTL and write concern behave as we rely on.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from core.vocabulary import TrackStatus
from metrics.ingest import EventInput, live_document, track_events
from storage.database import MongoDatabase
from storage.documents import EVENTS
from storage.indexes import event_indexes
from tests.conftest import event

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
REAL_URL = os.environ.get("MONGODB_URL")


async def track(db: MongoDatabase, key: str, at: datetime) -> TrackStatus:
    doc = live_document(
        EventInput("add_to_cart", session_id="s", idempotency_key=key),
        tenant="default",
        user_id=None,
        now=at,
    )
    (outcome,) = await track_events(db, [doc], now=at, window_seconds=5)
    return outcome.status


async def test_indexes(mongo: MongoDatabase) -> None:
    info = await mongo._db[EVENTS].index_information()
    assert info["tenant_dedupe_unique"]["unique"] is True
    assert info["tenant_dedupe_unique"]["key"] == [("tenantId", 1), ("dedupeKey", 1)]
    assert info["tenant_created"]["key"] == [("tenantId", 1), ("createdAt", 1)]
    assert info["tenant_type_created"]["key"] == [
        ("tenantId", 1),
        ("eventType", 1),
        ("createdAt", 1),
    ]
    assert info["created_ttl"]["expireAfterSeconds"] == 365 * 86400
    assert info["tenant_visitor_created"]["key"] == [
        ("tenantId", 1),
        ("visitorId", 1),
        ("createdAt", 1),
    ]
    assert info["tenant_visitor_created"]["partialFilterExpression"] == {
        "visitorId": {"$exists": True}
    }
    assert info["tenant_source_created"]["key"] == [
        ("tenantId", 1),
        ("source", 1),
        ("createdAt", 1),
    ]
    assert info["tenant_campaign_created"]["partialFilterExpression"] == {
        "utmCampaign": {"$exists": True}
    }
    # Idempotent at every start-up.
    await mongo.ensure_indexes(event_indexes(retention_days=365))


async def test_racing_identical_calls_store_one(mongo: MongoDatabase) -> None:
    statuses = await asyncio.gather(*(track(mongo, "k", NOW) for _ in range(25)))
    assert sorted(s.value for s in statuses) == ["DUPLICATE_IGNORED"] * 24 + ["OK"]
    assert await mongo.count_events() == 1


async def test_window(mongo: MongoDatabase) -> None:
    assert await track(mongo, "k", NOW) is TrackStatus.OK
    assert await track(mongo, "k", NOW + timedelta(seconds=4)) is TrackStatus.DUPLICATE_IGNORED
    assert await track(mongo, "k", NOW + timedelta(seconds=5)) is TrackStatus.OK
    assert await track(mongo, "k", NOW + timedelta(seconds=6)) is TrackStatus.DUPLICATE_IGNORED
    assert await mongo.count_events() == 2


async def test_batch_with_duplicates_and_imports(mongo: MongoDatabase) -> None:
    docs = [event("purchase", at=NOW, session=f"s{i}") for i in range(3)]
    docs[2]["dedupeKey"] = docs[0]["dedupeKey"]
    for doc in docs:
        doc.pop("_id")
    assert await mongo.insert_events(docs, retire_before=None) == [True, True, False]
    assert await mongo.insert_events(docs[:1], retire_before=None) == [False]
    assert await mongo.count_events("default") == 2
    assert await mongo.count_events("other") == 0


async def test_pipelines_run_and_are_counted(mongo: MongoDatabase) -> None:
    await mongo.insert_events([event("page_view", at=NOW, session="a")], retire_before=None)
    result = await mongo.run_pipeline(
        EVENTS, [{"$match": {"tenantId": "default"}}, {"$group": {"_id": "$sessionId"}}]
    )
    assert result == [{"_id": "a"}]
    assert mongo.pipelines_run == 1
    await mongo.ping()
