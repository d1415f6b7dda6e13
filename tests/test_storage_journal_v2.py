"""Journal format 2: inserted batches as frames of pickled rows, BSON for the other records;
format 1 journals still read (and never appended to)."""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
import pytest

from storage.embedded import rows
from storage.embedded.journal import (
    JOURNAL_MAGIC,
    JOURNAL_VERSION,
    ROWS_TAG,
    SNAPSHOT_MAGIC,
    Journal,
    _framed,
    frame,
    header,
    rows_frame,
    scan,
)
from storage.embedded.store import JOURNAL, SNAPSHOT, EmbeddedDatabase
from tests.conftest import event, record_writes, store

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def docs(count: int, *, start: int = 0) -> list[dict[str, Any]]:
    """Events ``start``.. with ids and keys of their own number: the same on every call."""
    return [
        {
            **event(
                "purchase" if n % 3 == 0 else "page_view",
                at=NOW - timedelta(minutes=n),
                session=f"s{n}",
                price=1.5 if n % 3 == 0 else None,
                metadata={"n": n, "big": 2**40, "list": [1, "é", None]},
                order=f"o{n}" if n % 3 == 0 else None,
            ),
            "_id": bson.ObjectId(n.to_bytes(12, "big")),
            "dedupeKey": f"test:{n}",
        }
        for n in range(start, start + count)
    ]


def batch(count: int, *, start: int = 0) -> list[rows.Row]:
    return [rows.to_row(doc) for doc in docs(count, start=start)]


def read(path: Path) -> Any:
    return scan(path, JOURNAL_MAGIC, tail_may_tear=True)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A version 2 journal: a retire and a batch of three, then a batch of two."""
    path = tmp_path / JOURNAL
    writer = Journal(path)
    retire = {"op": "retire", "id": bson.ObjectId(), "key": "live:k:retired"}
    writer.append([retire], fsync=False, rows=batch(3))
    writer.append([], fsync=True, rows=batch(2, start=3))
    writer.close()
    return path


def test_batches_come_back_as_inserts_of_the_same_rows(journal: Path) -> None:
    found = read(journal)
    assert found.clean and found.version == JOURNAL_VERSION
    assert journal.read_bytes().startswith(b"\x89SAJ\x02\x00\x00\x00")
    ops = [record["op"] for _, record in found.records]
    assert ops == ["retire", "insert", "insert"]
    assert found.records[1][1]["docs"] == batch(3)
    assert found.records[2][1]["docs"] == batch(2, start=3)
    # The very shapes of the table: rows read back are rows the store can index.
    (first, *_) = found.records[1][1]["docs"]
    assert first[-1] is batch(1)[0][-1]
    assert [rows.as_doc(row) for row in found.records[1][1]["docs"]] == docs(3)


def test_a_batch_is_one_frame_after_its_records_in_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Journal(tmp_path / JOURNAL)
    writes = record_writes(monkeypatch)
    record = {"op": "purge", "before": datetime(2026, 1, 1)}
    writer.append([record], fsync=True, rows=batch(4))
    writer.close()
    assert writes == [frame(record) + rows_frame(batch(4))]
    assert rows_frame(batch(4))[12:16] == ROWS_TAG


@pytest.mark.parametrize("cut", [1, 11, 12, 16, 40, -1])
def test_a_torn_batch_is_dropped(journal: Path, cut: int) -> None:
    whole = rows_frame(batch(5, start=10))
    journal.write_bytes(journal.read_bytes() + whole[: cut if cut > 0 else len(whole) + cut])
    found = read(journal)
    assert [record["op"] for _, record in found.records] == ["retire", "insert", "insert"]
    assert found.damaged == [] and found.torn > 0


def test_a_damaged_batch_loses_that_batch_only(journal: Path) -> None:
    data = bytearray(journal.read_bytes())
    _, (second, _), (third, _) = read(journal).records
    data[second + 40] ^= 0x40
    journal.write_bytes(bytes(data))
    found = read(journal)
    assert [offset for offset, _ in found.records] == [8, third]
    assert found.damaged == [(second, third - second)]


def test_a_pickle_naming_anything_but_rows_is_damage(journal: Path) -> None:
    hostile = _framed(ROWS_TAG + pickle.dumps([os.getcwd], protocol=pickle.HIGHEST_PROTOCOL))
    not_rows = _framed(ROWS_TAG + pickle.dumps([("a", 1)], protocol=pickle.HIGHEST_PROTOCOL))
    size = journal.stat().st_size
    journal.write_bytes(journal.read_bytes() + hostile + not_rows + rows_frame(batch(1)))
    found = read(journal)
    assert len(found.records) == 4
    assert found.damaged == [(size, len(hostile) + len(not_rows))]


def test_a_journal_of_version_1_is_read(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    written = docs(3)
    path.write_bytes(
        header(JOURNAL_MAGIC, 1)
        + frame({"op": "insert", "docs": written[:2]})
        + frame({"op": "insert", "docs": written[2:]})
    )
    found = read(path)
    assert found.clean and found.version == 1
    assert [record["docs"] for _, record in found.records] == [written[:2], written[2:]]
    with pytest.raises(RuntimeError, match="older format"):
        Journal(path).append([], fsync=False, rows=batch(1))


async def reopen(path: Path) -> EmbeddedDatabase:
    return await EmbeddedDatabase.open(path, fsync_seconds=0, retention_days=365)


def stored(db: EmbeddedDatabase) -> list[dict[str, Any]]:
    return sorted(db.documents(), key=lambda doc: doc["sessionId"])


async def test_the_store_replays_a_version_1_journal_and_goes_on_in_version_2(
    tmp_path: Path,
) -> None:
    written = docs(4)
    for doc in written:
        doc["createdAt"] = doc["createdAt"].replace(tzinfo=None)
    (tmp_path / JOURNAL).write_bytes(
        header(JOURNAL_MAGIC, 1) + frame({"op": "insert", "docs": written})
    )
    db = await reopen(tmp_path)
    assert db.recovery == []
    assert await db.count_events() == 4
    # Folded into the snapshot; the journal starts again in the current format.
    assert (tmp_path / JOURNAL).read_bytes() == header(JOURNAL_MAGIC)
    assert scan(tmp_path / SNAPSHOT, SNAPSHOT_MAGIC, tail_may_tear=False).clean
    await store(db, *(event("page_view", at=NOW, session=f"new{n}") for n in range(3)))
    before = stored(db)
    await db.close()
    db = await reopen(tmp_path)
    assert stored(db) == before and len(before) == 7
    await db.close()


async def test_an_empty_version_1_journal_is_started_again(tmp_path: Path) -> None:
    (tmp_path / JOURNAL).write_bytes(header(JOURNAL_MAGIC, 1))
    db = await reopen(tmp_path)
    await store(db, event("page_view", at=NOW, session="a"))
    await db.close()
    found = read(tmp_path / JOURNAL)
    assert found.version == JOURNAL_VERSION
    assert [record["op"] for _, record in found.records] == ["insert"]
    db = await reopen(tmp_path)
    assert [doc["sessionId"] for doc in db.documents()] == ["a"]
    await db.close()


async def test_events_survive_a_restart_through_rows_frames(tmp_path: Path) -> None:
    db = await reopen(tmp_path)
    await store(
        db, *(event("page_view", at=NOW - timedelta(hours=n), session=f"s{n}") for n in range(5))
    )
    await store(db, event("purchase", at=NOW, session="p", price=2.5, order="o1"))
    before = stored(db)
    await db.close()
    found = read(tmp_path / JOURNAL)
    assert [len(record["docs"]) for _, record in found.records] == [5, 1]
    db = await reopen(tmp_path)
    assert stored(db) == before
    await db.close()
