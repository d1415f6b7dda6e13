from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.vocabulary import TrackStatus
from metrics.ingest import EventInput, live_document, track_events
from storage.embedded.store import JOURNAL, EmbeddedDatabase
from tests.conftest import event, store

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


async def track(db: EmbeddedDatabase, key: str | None, at: datetime, session: str = "s1") -> str:
    doc = live_document(
        EventInput("add_to_cart", session_id=session, idempotency_key=key),
        tenant="default",
        user_id=None,
        now=at,
    )
    (outcome,) = await track_events(db, [doc], now=at, window_seconds=5)
    return outcome.status.value


async def test_racing_identical_calls_store_one(database: EmbeddedDatabase) -> None:
    statuses = await asyncio.gather(*(track(database, "k", NOW) for _ in range(25)))
    assert sorted(statuses) == ["DUPLICATE_IGNORED"] * 24 + ["OK"]
    assert await database.count_events() == 1


async def test_window_is_exclusive_of_its_end(database: EmbeddedDatabase) -> None:
    assert await track(database, "k", NOW) == "OK"
    assert await track(database, "k", NOW + timedelta(seconds=4.999)) == "DUPLICATE_IGNORED"
    assert await track(database, "k", NOW + timedelta(seconds=5)) == "OK"
    # The window restarts from the newly stored event.
    assert await track(database, "k", NOW + timedelta(seconds=9)) == "DUPLICATE_IGNORED"
    assert await track(database, "k", NOW + timedelta(seconds=10)) == "OK"
    assert await database.count_events() == 3


async def test_keys_are_per_tenant_and_calls_without_key_always_store(
    database: EmbeddedDatabase,
) -> None:
    other = live_document(
        EventInput("add_to_cart", idempotency_key="k"), tenant="shop2", user_id=None, now=NOW
    )
    assert await track(database, "k", NOW) == "OK"
    (outcome,) = await track_events(database, [other], now=NOW, window_seconds=5)
    assert outcome.status is TrackStatus.OK
    assert [await track(database, None, NOW) for _ in range(3)] == ["OK"] * 3
    assert await database.count_events() == 5


async def test_duplicates_inside_one_batch(database: EmbeddedDatabase) -> None:
    docs = [
        live_document(
            EventInput("page_view", idempotency_key=k), tenant="default", user_id=None, now=NOW
        )
        for k in ("a", "b", "a")
    ]
    outcomes = await track_events(database, docs, now=NOW, window_seconds=5)
    assert [o.status.value for o in outcomes] == ["OK", "OK", "DUPLICATE_IGNORED"]


async def test_imports_never_retire_their_keys(database: EmbeddedDatabase) -> None:
    doc = event("purchase", at=NOW - timedelta(days=2))
    assert await database.insert_events([doc], retire_before=None) == [True]
    again = dict(doc)
    again.pop("_id")
    assert await database.insert_events([again], retire_before=None) == [False]  # type: ignore[list-item]


async def reopen(path: Path) -> EmbeddedDatabase:
    return await EmbeddedDatabase.open(path, fsync_seconds=0, retention_days=365)


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    first = await reopen(tmp_path)
    assert await track(first, "k", NOW) == "OK"
    await store(first, event("purchase", at=NOW - timedelta(days=1), session="s2", price=3.5))
    assert await track(first, "k", NOW + timedelta(seconds=6)) == "OK"  # retires the first key
    await first.close()

    second = await reopen(tmp_path)
    assert await second.count_events() == 3
    assert (tmp_path / JOURNAL).stat().st_size == 0  # compacted into the snapshot
    # The key state came back too: inside the window of the second call, a repeat is ignored.
    assert await track(second, "k", NOW + timedelta(seconds=7)) == "DUPLICATE_IGNORED"
    await second.close()
    third = await reopen(tmp_path)
    sessions = sorted(doc["sessionId"] for doc in third.documents())
    assert sessions == ["s1", "s1", "s2"]
    await third.close()


def crash(db: EmbeddedDatabase) -> None:
    """What kill -9 leaves: files as written, no compaction, the lock released."""
    for task in db._tasks:
        task.cancel()
    assert db._journal is not None and db._lock_file is not None
    os.close(db._journal._fd)
    os.close(db._lock_file)
    db._journal = None
    db._lock_file = None


async def test_a_torn_journal_tail_is_dropped(tmp_path: Path) -> None:
    first = await reopen(tmp_path)
    await track(first, "a", NOW)
    await track(first, "b", NOW)
    crash(first)
    journal = tmp_path / JOURNAL
    data = journal.read_bytes()
    journal.write_bytes(data + data[:10])  # a third record cut short mid-write
    second = await reopen(tmp_path)
    assert await second.count_events() == 2
    await second.close()


async def test_retention_purge(tmp_path: Path) -> None:
    # Real time: opening the store purges with the wall clock, as the TTL index would.
    now = datetime.now(UTC)
    db = await EmbeddedDatabase.open(tmp_path, fsync_seconds=0, retention_days=30)
    await store(
        db,
        event("page_view", at=now - timedelta(days=31), session="old"),
        event("page_view", at=now - timedelta(days=29), session="new"),
    )
    assert await db.purge_expired(now=now) == 1
    assert [d["sessionId"] for d in db.documents()] == ["new"]
    await db.close()
    again = await EmbeddedDatabase.open(tmp_path, fsync_seconds=0, retention_days=30)
    assert [d["sessionId"] for d in again.documents()] == ["new"]
    await again.close()


async def test_one_server_per_data_dir(tmp_path: Path) -> None:
    first = await reopen(tmp_path)
    with pytest.raises(ConfigError, match="in use"):
        await reopen(tmp_path)
    await first.close()
    second = await reopen(tmp_path)
    await second.close()


async def test_fast_path_matches_mongomock_on_the_same_pipeline(
    database: EmbeddedDatabase,
) -> None:
    docs = [
        event("page_view", at=NOW - timedelta(hours=h), session=f"s{h % 3}", source=src)
        for h, src in [(1, "google"), (2, None), (30, "google"), (200, "meta"), (5, None)]
    ]
    await store(database, *docs, event("page_view", at=NOW, tenant="other"))
    match = {
        "tenantId": "default",
        "createdAt": {"$gte": datetime(2026, 6, 14), "$lt": datetime(2026, 6, 15, 12)},
        "source": {"$ne": None},
    }
    pipeline = [
        {"$match": match},
        {"$group": {"_id": "$sessionId", "n": {"$sum": 1}}},
        {"$sort": {"_id": 1}},
    ]
    fast = await database.run_pipeline("analytics_events", pipeline)
    slow = [d async for d in database._collection.aggregate(pipeline)]
    # h=1 (s1, google) and h=30 (s0, google) are in range with a source; h=200 is before it.
    assert fast == slow == [{"_id": "s0", "n": 1}, {"_id": "s1", "n": 1}]


@pytest.mark.parametrize(
    "condition",
    [
        {"source": None},
        {"source": "google"},
        {"source": {"$ne": None}},
        {"source": {"$in": ["google", "meta"]}},
        {"source": {"$in": ["google", None]}},
        {"price": {"$gte": 2}},
        {"metadata.quantity": 2},
        {"$or": [{"source": "meta"}, {"price": 1}]},
        {"bot": {"$ne": True}},
        {"bot": {"$ne": False}},
        {"source": {"$ne": "google"}},
    ],
    ids=str,
)
async def test_extra_match_conditions_match_mongomock(
    database: EmbeddedDatabase, condition: dict[str, object]
) -> None:
    await store(
        database,
        event("page_view", at=NOW, session="a", source="google", price=1),
        event("page_view", at=NOW, session="b", source=None, price=2, quantity=2),
        event("page_view", at=NOW, session="c", source="meta", price=3),
        {**event("page_view", at=NOW, session="d"), "bot": True},  # type: ignore[typeddict-item]
        {**event("page_view", at=NOW, session="f"), "bot": False},  # type: ignore[typeddict-item]
    )
    pipeline = [
        {"$match": {"tenantId": "default", **condition}},
        {"$group": {"_id": "$sessionId"}},
        {"$sort": {"_id": 1}},
    ]
    fast = await database.run_pipeline("analytics_events", pipeline)
    slow = [d async for d in database._collection.aggregate(pipeline)]
    assert fast == slow
