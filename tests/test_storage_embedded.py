from __future__ import annotations

import asyncio
import logging
import os
import pickle
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
import httpx
import mongomock
import pytest

from core.errors import ConfigError
from core.vocabulary import TrackStatus
from metrics.ingest import EventInput, live_document, track_events
from storage.embedded import journal as journal_module
from storage.embedded import store as embedded_store
from storage.embedded.journal import (
    JOURNAL_MAGIC,
    SNAPSHOT_MAGIC,
    SNAPSHOT_VERSION,
    frame,
    header,
    scan,
    write_snapshot,
)
from storage.embedded.store import JOURNAL, SNAPSHOT, EmbeddedDatabase
from tests.conftest import FREE, event, store
from tests.live_server import Server
from tests.test_storage_offload import appears, wait_for

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


async def test_keys_whose_digests_collide_are_told_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every key the same digest: each lookup must compare the row's own key.
    monkeypatch.setattr(embedded_store, "_DIGEST_BITS", 0)
    database = await reopen(tmp_path)
    assert [await track(database, key, NOW) for key in ("k", "j", "k", "i")] == [
        "OK",
        "OK",
        "DUPLICATE_IGNORED",
        "OK",
    ]
    later = NOW + timedelta(seconds=6)
    assert [await track(database, key, later) for key in ("j", "k", "j")] == [
        "OK",  # retires j's first key
        "OK",
        "DUPLICATE_IGNORED",
    ]
    old = event("purchase", at=NOW - timedelta(days=400))
    imported = [event("purchase", at=NOW - timedelta(days=d)) for d in (1, 2)]
    await store(database, old, *imported)
    assert await database.insert_events([*imported, old], retire_before=None) == [False] * 3
    assert await database.purge_expired(now=NOW) == 1  # the old one, its key with it
    assert await database.insert_events([old], retire_before=None) == [True]
    assert await database.count_events() == 8
    await database.close()
    reopened = await reopen(tmp_path)
    assert await track(reopened, "k", later + timedelta(seconds=1)) == "DUPLICATE_IGNORED"
    assert await track(reopened, "i", later) == "OK"
    assert await reopened.insert_events(imported, retire_before=None) == [False] * 2
    live = sorted(d["dedupeKey"] for d in reopened.documents() if d["dedupeKey"].startswith("live"))
    assert [key.split("#")[0] for key in live] == ["live:i"] * 2 + ["live:j"] * 2 + ["live:k"] * 2
    assert sum("#retired:" in key for key in live) == 3  # i, j and k's first
    await reopened.close()


EMPTY_JOURNAL = header(JOURNAL_MAGIC)


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
    assert (tmp_path / JOURNAL).read_bytes() == EMPTY_JOURNAL  # compacted into the snapshot
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
    journal.write_bytes(data + data[8:18])  # a third frame cut short mid-write
    second = await reopen(tmp_path)
    assert await second.count_events() == 2
    assert second.recovery == []
    assert set_aside_files(tmp_path) == []
    assert journal.read_bytes() == EMPTY_JOURNAL
    await second.close()


def frame_offsets(data: bytes) -> list[int]:
    """Where each frame starts, walked by hand: an 8-byte header, then 12 + length each."""
    offsets, at = [], 8
    while at < len(data):
        offsets.append(at)
        at += 12 + int.from_bytes(data[at + 4 : at + 8], "little")
    return offsets


def set_aside_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.corrupt-*"))


def flip(path: Path, at: int) -> bytes:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


async def tracked_then_crashed(directory: Path, sessions: int) -> bytes:
    """A journal of one insert record per session (s0, s1, ...), as kill -9 leaves it."""
    db = await reopen(directory)
    for i in range(sessions):
        await track(db, None, NOW, session=f"s{i}")
    crash(db)
    return (directory / JOURNAL).read_bytes()


def sessions(db: EmbeddedDatabase) -> list[str]:
    return sorted(doc["sessionId"] for doc in db.documents())


async def test_a_damaged_middle_record_is_skipped_reported_and_kept_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / JOURNAL
    offsets = frame_offsets(await tracked_then_crashed(tmp_path, 5))
    assert len(offsets) == 5
    damaged = flip(journal, offsets[2] + 20)  # inside the third record's BSON
    with caplog.at_level(logging.WARNING, logger="storage.embedded"):
        second = await reopen(tmp_path)
    assert sessions(second) == ["s0", "s1", "s3", "s4"]
    (aside,) = set_aside_files(tmp_path)
    assert aside.name.startswith("events.journal.corrupt-")
    length = offsets[3] - offsets[2]
    line = (
        f"{journal} was damaged: 4 records recovered; {length} bytes skipped at offset "
        f"{offsets[2]} ({length} bytes); the damaged file is kept as {aside}"
    )
    assert second.recovery == [line]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [line]
    assert aside.read_bytes() == damaged  # moved, not truncated
    assert journal.read_bytes() == EMPTY_JOURNAL
    await second.close()
    third = await reopen(tmp_path)
    assert third.recovery == []
    assert sessions(third) == ["s0", "s1", "s3", "s4"]
    await third.close()


async def test_garbage_appended_to_the_journal_is_reported(tmp_path: Path) -> None:
    data = await tracked_then_crashed(tmp_path, 2)
    journal = tmp_path / JOURNAL
    journal.write_bytes(data + b"garbage!" * 4)
    db = await reopen(tmp_path)
    assert sessions(db) == ["s0", "s1"]
    (aside,) = set_aside_files(tmp_path)
    assert db.recovery == [
        f"{journal} was damaged: 2 records recovered; 32 bytes skipped at offset {len(data)} "
        f"(32 bytes); the damaged file is kept as {aside}"
    ]
    await db.close()


async def test_malformed_records_are_skipped_and_the_rest_replayed(tmp_path: Path) -> None:
    at = NOW - timedelta(hours=1)
    first, pair, last = (event("page_view", at=at, session=s) for s in ("a", "b", "c"))
    no_id: dict[str, Any] = dict(event("page_view", at=at, session="x"))
    del no_id["_id"]
    no_tenant: dict[str, Any] = dict(event("page_view", at=at, session="y"))
    del no_tenant["tenantId"]
    rows: list[dict[str, Any]] = [
        {"op": "insert", "docs": [first]},
        {"op": "insert", "docs": [no_id]},
        {"op": "frobnicate"},
        {"op": "insert", "docs": [pair, no_tenant]},
        {"op": "retire", "id": first["_id"]},
        {"op": "purge", "before": "yesterday"},
        {"op": "insert", "docs": [last]},
    ]
    frames = [frame(row) for row in rows]
    offsets = [8 + sum(len(f) for f in frames[:i]) for i in range(len(frames))]
    journal = tmp_path / JOURNAL
    journal.write_bytes(EMPTY_JOURNAL + b"".join(frames))
    db = await reopen(tmp_path)
    assert sessions(db) == ["a", "b", "c"]
    assert [d["dedupeKey"] for d in db.documents() if d["sessionId"] == "a"] == [first["dedupeKey"]]
    (aside,) = set_aside_files(tmp_path)
    assert db.recovery == [
        f"{journal} was damaged: 2 records recovered; 5 malformed records skipped at "
        f"offset {offsets[1]} (insert: 1 of 1 documents skipped, a document without _id), "
        f"offset {offsets[2]} (an unknown op 'frobnicate'), "
        f"offset {offsets[3]} (insert: 1 of 2 documents skipped, a document without tenantId), "
        f"offset {offsets[4]} (a retire without an ObjectId id and a string key), "
        f"offset {offsets[5]} (a purge without a datetime before); "
        f"the damaged file is kept as {aside}"
    ]
    await db.close()


async def test_zero_length_files_open_an_empty_store(tmp_path: Path) -> None:
    (tmp_path / SNAPSHOT).write_bytes(b"")
    (tmp_path / JOURNAL).write_bytes(b"")
    db = await reopen(tmp_path)
    assert (await db.count_events(), db.recovery) == (0, [])
    assert (tmp_path / JOURNAL).read_bytes() == EMPTY_JOURNAL
    await db.close()


async def test_snapshot_and_journal_are_0600(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        db = await reopen(tmp_path)
        await track(db, "a", NOW)
        await db.close()
        db = await reopen(tmp_path)  # compacts into a new snapshot
        await db.close()
    finally:
        os.umask(previous)
    assert (tmp_path / SNAPSHOT).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / JOURNAL).stat().st_mode & 0o777 == 0o600


async def test_a_damaged_snapshot_record_is_skipped_and_the_file_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "CHUNK_ROWS", 1)  # an event a frame, as in version 1
    db = await reopen(tmp_path)
    await store(db, *(event("page_view", at=NOW, session=f"s{i}") for i in range(3)))
    await db.close()
    db = await reopen(tmp_path)  # the snapshot now holds s0, s1, s2 in order of _id
    await db.close()
    snapshot = tmp_path / SNAPSHOT
    offsets = frame_offsets(snapshot.read_bytes())
    damaged = flip(snapshot, offsets[1] + 20)
    db = await reopen(tmp_path)
    assert sessions(db) == ["s0", "s2"]
    (aside,) = set_aside_files(tmp_path)
    length = offsets[2] - offsets[1]
    assert db.recovery == [
        f"{snapshot} was damaged: 2 records recovered; {length} bytes skipped at offset "
        f"{offsets[1]} ({length} bytes); the damaged file is kept as {aside}"
    ]
    assert aside.read_bytes() == damaged
    rewritten = scan(snapshot, SNAPSHOT_MAGIC, tail_may_tear=False)
    assert rewritten.clean and len(rewritten.records) == 2
    await db.close()


async def test_a_malformed_snapshot_document_is_skipped(tmp_path: Path) -> None:
    good = event("page_view", at=NOW, session="a")
    undated: dict[str, Any] = dict(event("page_view", at=NOW, session="b"))
    del undated["createdAt"]
    snapshot = tmp_path / SNAPSHOT
    write_snapshot(snapshot, [dict(good), undated])
    db = await reopen(tmp_path)
    assert sessions(db) == ["a"]
    (aside,) = set_aside_files(tmp_path)
    offset = 8 + len(frame(dict(good)))
    assert db.recovery == [
        f"{snapshot} was damaged: 1 record recovered; 1 malformed record skipped at "
        f"offset {offset} (a document without createdAt); the damaged file is kept as {aside}"
    ]
    await db.close()


@pytest.mark.parametrize("content", ["garbage", "no usable event"])
async def test_an_unreadable_snapshot_stops_start_up(tmp_path: Path, content: str) -> None:
    snapshot = tmp_path / SNAPSHOT
    if content == "garbage":
        snapshot.write_bytes(b"garbage!" * 8)
    else:
        anonymous: dict[str, Any] = dict(event("page_view", at=NOW))
        del anonymous["_id"]
        write_snapshot(snapshot, [anonymous])
    before = snapshot.read_bytes()
    expected = f"{snapshot} is damaged and holds no readable event ({len(before)} bytes)"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        await reopen(tmp_path)
    assert snapshot.read_bytes() == before
    assert set_aside_files(tmp_path) == []
    snapshot.unlink()
    db = await reopen(tmp_path)  # the failed start released DATA_DIR
    assert await db.count_events() == 0
    await db.close()


async def test_files_from_before_checksums_are_read_and_rewritten(tmp_path: Path) -> None:
    old = [event("page_view", at=NOW, session=s) for s in ("a", "b", "c")]
    (tmp_path / SNAPSHOT).write_bytes(bson.encode(old[0]) + bson.encode(old[1]))
    (tmp_path / JOURNAL).write_bytes(bson.encode({"op": "insert", "docs": [old[2]]}))
    db = await reopen(tmp_path)
    assert (sessions(db), db.recovery) == (["a", "b", "c"], [])
    assert (tmp_path / SNAPSHOT).read_bytes().startswith(header(SNAPSHOT_MAGIC, SNAPSHOT_VERSION))
    assert (tmp_path / JOURNAL).read_bytes() == EMPTY_JOURNAL
    await db.close()


async def test_a_batch_is_one_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = await reopen(tmp_path)
    assert await track(db, "k", NOW) == "OK"
    writes: list[int] = []
    real_write = os.write

    def counting(fd: int, data: bytes) -> int:
        writes.append(fd)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting)
    assert await track(db, "k", NOW + timedelta(seconds=6)) == "OK"  # retire + insert
    monkeypatch.undo()
    assert len(writes) == 1
    await db.close()
    journal = scan(tmp_path / JOURNAL, JOURNAL_MAGIC, tail_may_tear=True)
    assert [record["op"] for _, record in journal.records] == ["insert", "retire", "insert"]


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


def plain_mongomock(database: EmbeddedDatabase) -> Any:
    """A plain mongomock collection holding the store's documents (the reference engine)."""
    collection: Any = mongomock.MongoClient(tz_aware=False).db["analytics_events"]
    collection.insert_many(list(database.documents()))
    return collection


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
    slow = list(plain_mongomock(database).aggregate(pipeline))
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
    assert fast == list(plain_mongomock(database).aggregate(pipeline))


@pytest.mark.slow
def test_a_real_server_starts_on_a_damaged_journal_and_says_so(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = Server(data_dir)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(5):  # one request, one record, in this order
            response = client.post(
                "/graphql",
                json={
                    "query": "mutation($i: TrackEventInput!) { trackEvent(input: $i) { status } }",
                    "variables": {"i": {"eventType": "page_view", "sessionId": f"s{i}"}},
                },
            )
            assert response.json() == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}
    server.kill()
    journal = data_dir / JOURNAL
    offsets = frame_offsets(journal.read_bytes())
    assert len(offsets) == 5
    flip(journal, offsets[2] + 20)

    restarted = Server(data_dir)
    restarted.kill()
    (aside,) = set_aside_files(data_dir)
    length = offsets[3] - offsets[2]
    line = (
        f"WARNING storage.embedded.store: {journal} was damaged: 4 records recovered; "
        f"{length} bytes skipped at offset {offsets[2]} ({length} bytes); "
        f"the damaged file is kept as {aside}"
    )
    assert line in restarted.output.splitlines()

    async def stored() -> list[str]:
        db = await EmbeddedDatabase.open(data_dir, fsync_seconds=0)
        try:
            return sessions(db)
        finally:
            await db.close()

    assert asyncio.run(stored()) == ["s0", "s1", "s3", "s4"]


async def test_events_imported_in_any_order_are_read_in_time_order(tmp_path: Path) -> None:
    # 400 events over 20 days, 40 distinct instants (ties), stored in a shuffled
    # order in batches: every range read returns them by time, ties in arrival
    # order, as the collection itself (insertion order) stably sorted by time.
    rng = random.Random(7)
    start = datetime(2026, 5, 20)
    instants = [start + timedelta(hours=12 * i) for i in range(40)]
    docs = [
        event(rng.choice(["page_view", "purchase"]), at=rng.choice(instants), session=f"s{i}")
        for i in range(400)
    ]
    database = await EmbeddedDatabase.open(tmp_path)
    for at in range(0, 400, 37):
        await store(database, *docs[at : at + 37])
    low, high = datetime(2026, 5, 23, 6), datetime(2026, 6, 4)
    pipeline: list[dict[str, Any]] = [
        {"$match": {"tenantId": "default", "createdAt": {"$gte": low, "$lt": high}}},
        {"$project": {"_id": 0, "sessionId": 1}},
    ]
    both_types = [
        {"$match": {**pipeline[0]["$match"], "eventType": {"$in": ["purchase", "page_view"]}}},
        {"$project": {"_id": 0, "sessionId": 1, "createdAt": 1}},
    ]
    in_range = [d for d in docs if low <= d["createdAt"].replace(tzinfo=None) < high]
    expected = [
        {"sessionId": d["sessionId"]}
        for d in sorted(in_range, key=lambda d: d["createdAt"])  # stable: arrival order
    ]
    assert 50 < len(expected) < 400
    assert await database.run_pipeline("analytics_events", pipeline) == expected
    # Two types merged by time: ties keep arrival order within a type only, so
    # compare the sequence of instants and the set of sessions.
    merged = await database.run_pipeline("analytics_events", both_types)
    instants_in_range = sorted(d["createdAt"].replace(tzinfo=None) for d in in_range)
    assert [row["createdAt"] for row in merged] == instants_in_range
    assert sorted(row["sessionId"] for row in merged) == sorted(r["sessionId"] for r in expected)
    await database.close()

    reopened = await EmbeddedDatabase.open(tmp_path)  # indexed in bulk at start-up
    assert await reopened.run_pipeline("analytics_events", pipeline) == expected
    merged = await reopened.run_pipeline("analytics_events", both_types)
    assert [row["createdAt"] for row in merged] == instants_in_range
    # The purge drops exactly the events before its cutoff, wherever they were inserted.
    cutoff = start + timedelta(days=10)
    before = sum(1 for d in docs if d["createdAt"].replace(tzinfo=None) < cutoff)
    retention = timedelta(days=365)
    assert await reopened.purge_expired(now=cutoff + retention) == before
    assert await reopened.count_events() == 400 - before
    rest = await reopened.run_pipeline("analytics_events", pipeline)
    assert rest == [
        row
        for row, d in zip(expected, sorted(in_range, key=lambda d: d["createdAt"]), strict=True)
        if d["createdAt"].replace(tzinfo=None) >= cutoff
    ]
    await reopened.close()


async def test_a_reloaded_store_keeps_one_copy_of_repeated_keys_and_values(tmp_path: Path) -> None:
    at = datetime(2026, 6, 1, 9)
    docs = [
        event("page_view", at=at + timedelta(minutes=n), session=f"s{n % 2}", source="google")
        for n in range(4)
    ]
    database = await EmbeddedDatabase.open(tmp_path)
    await store(database, *docs)
    before = sorted(database.documents(), key=lambda d: d["createdAt"])
    await database.close()
    for reopen in range(2):  # from the journal, then from the snapshot
        reopened = await EmbeddedDatabase.open(tmp_path)
        loaded = sorted(reopened.documents(), key=lambda d: d["createdAt"])
        assert loaded == before, reopen
        first, second, third = loaded[0], loaded[1], loaded[2]
        # Keys: the code's own strings; values: one object per distinct string.
        assert all(a is b for a, b in zip(first, second, strict=True))
        assert first["sessionId"] is third["sessionId"] and first["sessionId"] == "s0"
        assert first["source"] is second["source"] and first["eventType"] is second["eventType"]
        # A key unique to one event is not interned (it would only grow the table).
        assert first["dedupeKey"] != second["dedupeKey"]
        await reopened.close()


async def test_a_small_sound_journal_is_kept_at_start_up_not_folded_in(tmp_path: Path) -> None:
    db = await reopen(tmp_path)
    await store(db, *(event("page_view", at=NOW, session=f"s{i}") for i in range(40)))
    await db.close()
    db = await reopen(tmp_path)  # the journal outweighs an empty snapshot: folded in
    assert (tmp_path / JOURNAL).read_bytes() == EMPTY_JOURNAL
    snapshot = (tmp_path / SNAPSHOT).read_bytes()
    await store(db, event("purchase", at=NOW, session="late", price=2.0))
    await db.close()
    journal = (tmp_path / JOURNAL).read_bytes()
    for _ in range(2):  # one small insert: kept, replayed once per start, never doubled
        db = await reopen(tmp_path)
        assert await db.count_events() == 41
        assert sorted(d["sessionId"] for d in db.documents() if d["eventType"] == "purchase") == [
            "late"
        ]
        await db.close()
        assert (tmp_path / SNAPSHOT).read_bytes() == snapshot
        assert (tmp_path / JOURNAL).read_bytes() == journal


async def test_a_snapshot_of_rows_gives_back_every_document_as_stored(tmp_path: Path) -> None:
    db = await reopen(tmp_path)
    docs: list[dict[str, Any]] = [
        dict(event("purchase", at=NOW, session="ñandú", slug="tee", price=19.9, order="o1")),
        {**event("page_view", at=NOW, session="b"), "visitorId": "v" * 45, "country": "CO"},
        dict(event("add_to_cart", at=NOW, session="c", metadata={"big": 2**40, "n": [1, "x"]})),
    ]
    docs[0]["dedupeKey"] = "import:" + "ab" * 32
    await store(db, *docs)  # type: ignore[arg-type]
    await db.close()
    for _ in range(2):  # folded into a snapshot of rows, then read from it
        db = await reopen(tmp_path)
        assert sorted(db.documents(), key=lambda d: d["sessionId"]) == sorted(
            docs, key=lambda d: d["sessionId"]
        )
        await db.close()
    snapshot = (tmp_path / SNAPSHOT).read_bytes()
    assert snapshot.startswith(header(SNAPSHOT_MAGIC, SNAPSHOT_VERSION))


async def test_a_damaged_chunk_loses_its_own_events_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "CHUNK_ROWS", 2)
    db = await reopen(tmp_path)
    at = [NOW + timedelta(minutes=n) for n in range(5)]
    await store(db, *(event("page_view", at=at[n], session=f"s{n}") for n in range(5)))
    await db.close()
    db = await reopen(tmp_path)  # chunks: s0 s1 | s2 s3 | s4
    await db.close()
    snapshot = tmp_path / SNAPSHOT
    offsets = frame_offsets(snapshot.read_bytes())
    assert len(offsets) == 3
    flip(snapshot, offsets[1] + 30)
    db = await reopen(tmp_path)
    assert sessions(db) == ["s0", "s1", "s4"]
    assert len(db.recovery) == 1 and "bytes skipped at offset" in db.recovery[0]
    await db.close()


class _Hostile:
    """Pickles as a call of os.system: what a planted snapshot would try."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


async def test_a_chunk_naming_anything_but_rows_is_damage_and_never_runs(tmp_path: Path) -> None:
    db = await reopen(tmp_path)
    await store(db, event("page_view", at=NOW, session="kept"))
    await db.close()
    db = await reopen(tmp_path)  # a snapshot of rows
    await db.close()
    snapshot = tmp_path / SNAPSHOT
    marker = tmp_path / "ran"
    payload = pickle.dumps([_Hostile(marker)])
    snapshot.write_bytes(snapshot.read_bytes() + journal_module._framed(payload))
    db = await reopen(tmp_path)
    assert not marker.exists()
    assert sessions(db) == ["kept"]
    assert len(db.recovery) == 1 and "was damaged: 1 record recovered" in db.recovery[0]
    await db.close()


ROTATED = JOURNAL + ".1"


async def test_compaction_while_serving_folds_the_journal_and_keeps_later_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await reopen(tmp_path)
    await store(db, *(event("page_view", at=NOW, session=f"s{i}") for i in range(3)))
    gate = tmp_path / "gate"
    write = embedded_store._write_snapshot
    # The child waits at the gate: meanwhile the loop stores more, into the new journal.
    monkeypatch.setattr(
        embedded_store, "_write_snapshot", lambda *args: wait_for(gate, lambda: write(*args))
    )
    folding = asyncio.create_task(db.compact())
    await appears(gate.with_suffix(".pid"))
    assert (tmp_path / ROTATED).exists()
    await store(db, event("purchase", at=NOW, session="late", price=2.0))
    assert await track(db, "k", NOW) == "OK"
    gate.touch()
    await folding
    assert not (tmp_path / ROTATED).exists()
    snapshot = scan(tmp_path / SNAPSHOT, SNAPSHOT_MAGIC, tail_may_tear=False)
    assert sum(len(chunk) for _, chunk in snapshot.records) == 3  # what the fork saw
    await db.close()
    db = await reopen(tmp_path)
    # s0–s2 and "late" once each; the tracked event's session is s1.
    assert sessions(db) == ["late", "s0", "s1", "s1", "s2"]
    await db.close()


async def test_a_stop_during_a_fold_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db = await reopen(tmp_path)
    await store(db, *(event("page_view", at=NOW, session=f"s{i}") for i in range(3)))
    assert db._journal is not None
    db._journal.rotate(tmp_path / ROTATED)  # the fold started, its snapshot never came
    await store(db, event("page_view", at=NOW, session="after"))
    crash(db)
    db = await reopen(tmp_path)
    assert sessions(db) == ["after", "s0", "s1", "s2"]
    assert not (tmp_path / ROTATED).exists()
    await db.close()
    db = await reopen(tmp_path)  # and again, from the snapshot it wrote
    assert sessions(db) == ["after", "s0", "s1", "s2"]
    assert (tmp_path / JOURNAL).read_bytes() == EMPTY_JOURNAL
    await db.close()


async def test_a_failed_fold_is_logged_and_start_up_folds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    db = await reopen(tmp_path)
    await store(db, event("page_view", at=NOW, session="a"))

    def broken(*args: Any) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(embedded_store, "_write_snapshot", broken)
    await db.compact()
    assert "the snapshot could not be written while serving" in caplog.text
    assert (tmp_path / ROTATED).exists()
    await store(db, event("page_view", at=NOW, session="b"))  # serving goes on
    await db.compact()  # no second fold over the first one's journal
    await db.close()
    monkeypatch.undo()
    db = await reopen(tmp_path)
    assert sessions(db) == ["a", "b"]
    assert not (tmp_path / ROTATED).exists()
    await db.close()


async def test_a_big_journal_starts_a_fold_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 events: ~1.6 kB of journal (rows frames, format 2).
    monkeypatch.setattr(embedded_store, "COMPACT_MIN_BYTES", 1_000)
    db = await reopen(tmp_path)
    await store(db, *(event("page_view", at=NOW, session=f"s{i}") for i in range(20)))
    assert db._compacting is not None
    await db._compacting
    assert (tmp_path / JOURNAL).read_bytes() == EMPTY_JOURNAL
    assert not (tmp_path / ROTATED).exists()
    await db.close()


async def test_start_up_trims_the_heap_where_the_c_library_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trimmed: list[int] = []

    class Glibc:
        def malloc_trim(self, pad: int) -> int:
            trimmed.append(pad)
            return 1

    monkeypatch.setattr(embedded_store.ctypes, "CDLL", lambda name: Glibc())
    db = await EmbeddedDatabase.open(tmp_path)
    await db.close()
    assert trimmed == [0]

    class Other:  # a C library without malloc_trim (macOS, musl): start-up goes on
        pass

    monkeypatch.setattr(embedded_store.ctypes, "CDLL", lambda name: Other())
    db = await EmbeddedDatabase.open(tmp_path)
    await db.close()


def test_new_ids_are_made_as_objectid_makes_them_the_counter_moved_once() -> None:
    from bson import ObjectId

    from storage.embedded.store import new_ids

    before = ObjectId()
    made = new_ids(5)
    after = ObjectId()
    assert new_ids(0) == []
    assert len({oid.binary for oid in made}) == 5
    counters = [int.from_bytes(oid.binary[9:], "big") for oid in (before, *made, after)]
    assert counters == [(counters[0] + n) % (1 << 24) for n in range(7)]
    # the same process random bytes, the current second
    assert {oid.binary[4:9] for oid in (before, *made, after)} == {before.binary[4:9]}
    assert before.generation_time <= made[0].generation_time <= after.generation_time
