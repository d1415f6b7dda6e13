"""Large embedded pipelines run in forked children (storage.embedded.offload)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from storage.documents import EVENTS
from storage.embedded import store as embedded_store
from storage.embedded.offload import Offloader, OffloadFailed
from storage.embedded.store import EmbeddedDatabase
from tests.conftest import event, store

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def answer(value: Any) -> Any:
    return value


def fail() -> None:
    raise ValueError("no such figure")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def wait_for(path: Path, then: Any) -> Any:
    """Write the child's pid next to ``path``, block until ``path`` exists, return ``then()``."""
    path.with_suffix(".pid").write_text(str(os.getpid()))
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    return then()


async def appears(path: Path) -> None:
    for _ in range(6000):
        if os.path.exists(path):  # noqa: ASYNC240 (a stat, polled)
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{path} never appeared")


async def test_the_answer_comes_back_whole() -> None:
    offloader = Offloader(1)
    value = {"_id": ObjectId("0123456789ab0123456789ab"), "at": datetime(2026, 1, 2, 3, 4, 5)}
    assert await offloader.run(answer, [value, 1.5, None]) == [value, 1.5, None]
    assert offloader.forks == 1


async def test_an_error_in_the_child_is_raised_as_it_was() -> None:
    with pytest.raises(ValueError, match=r"^no such figure$"):
        await Offloader(1).run(fail)


async def test_a_child_that_dies_without_an_answer_is_reported() -> None:
    with pytest.raises(OffloadFailed, match="ended without an answer"):
        await Offloader(1).run(die)


async def test_cancelling_kills_the_child(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    task = asyncio.create_task(Offloader(1).run(wait_for, gate, lambda: 1))
    await appears(gate.with_suffix(".pid"))
    pid = int(gate.with_suffix(".pid").read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Reaped: the pid no longer names a child of ours.
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 (WNOHANG: never blocks)


async def test_children_beyond_the_worker_count_wait_their_turn(tmp_path: Path) -> None:
    offloader = Offloader(1)
    gate = tmp_path / "gate"
    first = asyncio.create_task(offloader.run(wait_for, gate, lambda: "first"))
    second = asyncio.create_task(offloader.run(answer, "second"))
    await appears(gate.with_suffix(".pid"))
    await asyncio.sleep(0.05)
    assert offloader.forks == 1 and not second.done()
    gate.touch()
    assert await asyncio.gather(first, second) == ["first", "second"]
    assert offloader.forks == 2


@pytest.fixture
async def offloading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setattr(embedded_store, "OFFLOAD_MIN_DOCS", 3)
    db = await EmbeddedDatabase.open(
        tmp_path / "store", fsync_seconds=0, retention_days=365, query_workers=1
    )
    yield db
    await db.close()


SALES = [
    {"$match": {"tenantId": "default", "eventType": "purchase"}},
    {"$group": {"_id": None, "sales": {"$sum": "$price"}, "orders": {"$sum": 1}}},
]


async def test_tracking_goes_on_while_a_view_computes_on_what_was_stored_when_it_began(
    offloading: EmbeddedDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    purchases = [event("purchase", at=NOW + timedelta(minutes=n), price=10.0) for n in range(4)]
    await store(offloading, *purchases)
    gate = tmp_path / "gate"
    run_planned = embedded_store._run_planned
    # The child waits at the gate before it reads anything.
    monkeypatch.setattr(
        embedded_store, "_run_planned", lambda *args: wait_for(gate, lambda: run_planned(*args))
    )
    view = asyncio.create_task(offloading.run_pipeline(EVENTS, SALES))
    await appears(gate.with_suffix(".pid"))
    # Meanwhile the loop stores more, and answers a small view inline (under the threshold).
    late = event("purchase", at=NOW + timedelta(hours=1), price=5.0)
    await store(offloading, late)
    assert await offloading.count_events() == 5
    assert not view.done()
    gate.touch()
    # The child computes over the four purchases stored before it forked.
    assert await view == [{"_id": None, "sales": 40.0, "orders": 4}]
    monkeypatch.setattr(embedded_store, "_run_planned", run_planned)
    assert await offloading.run_pipeline(EVENTS, SALES) == [
        {"_id": None, "sales": 45.0, "orders": 5}
    ]


async def test_small_pipelines_stay_inline(offloading: EmbeddedDatabase) -> None:
    await store(offloading, event("purchase", at=NOW, session="s1", price=1))
    await store(offloading, event("purchase", at=NOW, session="s2", price=1))
    assert await offloading.run_pipeline(EVENTS, SALES) == [
        {"_id": None, "sales": 2.0, "orders": 2}
    ]
    assert offloading._offloader is not None and offloading._offloader.forks == 0
    await store(offloading, event("purchase", at=NOW, session="s3", price=1))
    assert await offloading.run_pipeline(EVENTS, SALES) == [
        {"_id": None, "sales": 3.0, "orders": 3}
    ]
    assert offloading._offloader.forks == 1


async def test_a_pipeline_error_from_the_child_is_the_one_raised_inline(
    offloading: EmbeddedDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store(offloading, *(event("purchase", at=NOW, session=f"s{n}") for n in range(3)))
    bad = [SALES[0], {"$group": {"_id": None, "x": {"$nosuch": 1}}}]
    with pytest.raises(NotImplementedError) as offloaded:
        await offloading.run_pipeline(EVENTS, bad)
    monkeypatch.setattr(embedded_store, "OFFLOAD_MIN_DOCS", 100)
    with pytest.raises(NotImplementedError) as inline:
        await offloading.run_pipeline(EVENTS, bad)
    assert str(offloaded.value) == str(inline.value)
    assert "$nosuch is not a valid group operator" in str(inline.value)
    assert offloading._offloader is not None and offloading._offloader.forks == 1


async def test_the_bar_for_a_child_rises_with_the_events_stored(
    offloading: EmbeddedDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fork pauses the loop in proportion to the heap: with one document in two
    # stored as the bar, 4 purchases among 10 events run inline, 6 among 10 in a child.
    monkeypatch.setattr(embedded_store, "OFFLOAD_STORED_PER_DOC", 2)
    assert offloading._offloader is not None
    await store(
        offloading, *(event("purchase", at=NOW, price=1.0, session=f"p{n}") for n in range(4))
    )
    await store(offloading, *(event("page_view", at=NOW, session=f"v{n}") for n in range(6)))
    assert await offloading.run_pipeline(EVENTS, SALES) == [
        {"_id": None, "sales": 4.0, "orders": 4}
    ]
    assert offloading._offloader.forks == 0
    await store(
        offloading, *(event("purchase", at=NOW, price=1.0, session=f"q{n}") for n in range(2))
    )
    assert await offloading.run_pipeline(EVENTS, SALES) == [
        {"_id": None, "sales": 6.0, "orders": 6}
    ]
    assert offloading._offloader.forks == 1
