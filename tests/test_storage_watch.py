"""Database.watch_tenants: other processes' events, by change stream or by polling.

mongomock-motor has no change streams at all: there the polling fallback runs, and
the change-stream handling is checked with a stand-in stream. With MONGODB_URL set,
the same is checked against a real server (a replica set streams, a standalone polls).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import OperationFailure

from storage import database as storage_database
from storage.database import EventPosition, MongoDatabase
from storage.embedded import EmbeddedDatabase
from tests.conftest import event

REAL_URL = os.environ.get("MONGODB_URL")
WAIT = 10.0  # seconds at most for anything to arrive


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_database, "POLL_SECONDS", 0.01)


def watching(*tenants: str) -> Callable[[], Collection[str]]:
    return lambda: frozenset(tenants)


def now_event(tenant: str) -> Any:
    return event("page_view", at=datetime.now(UTC), tenant=tenant)


async def test_the_embedded_store_has_no_other_writer(database: EmbeddedDatabase) -> None:
    assert [t async for t in database.watch_tenants(watching("a"))] == []


async def test_polling_announces_a_watched_tenant_whose_newest_event_moved(
    mongo: MongoDatabase, fast_polls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if REAL_URL:  # a replica set would stream: make this test about polling
        monkeypatch.setattr(mongo._events, "watch", None, raising=False)
    await mongo.insert_events([now_event("a")], retire_before=None)
    stream = mongo.watch_tenants(watching("a"))
    arriving = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)  # a few polls: the first one only notes where "a" is
    assert not arriving.done()
    await mongo.insert_events([now_event("b")], retire_before=None)  # not watched
    await asyncio.sleep(0.05)
    assert not arriving.done()
    await mongo.insert_events([now_event("a")], retire_before=None)
    assert await asyncio.wait_for(arriving, WAIT) == "a"
    await stream.aclose()


async def test_newest_event(mongo: MongoDatabase) -> None:
    assert await mongo.newest_event("a") is None
    older = event("page_view", at=datetime(2026, 6, 15, 11, tzinfo=UTC), tenant="a")
    newer = event("page_view", at=datetime(2026, 6, 15, 12, tzinfo=UTC), tenant="a")
    await mongo.insert_events([newer, older], retire_before=None)
    assert await mongo.newest_event("a") == EventPosition(newer["createdAt"], newer["_id"])


class StandInStream:
    """What Motor's watch() returns, for mongomock: changes, or an error on opening."""

    def __init__(self, changes: list[dict[str, Any]], error: Exception | None = None) -> None:
        self.changes = changes
        self.error = error
        self.closed = False

    async def __aenter__(self) -> StandInStream:
        if self.error is not None:
            raise self.error
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True

    def __aiter__(self) -> StandInStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if not self.changes:
            await asyncio.Event().wait()  # a quiet stream waits
        return self.changes.pop(0)


async def test_change_stream_announces_watched_tenants_only() -> None:
    mongo = MongoDatabase(AsyncMongoMockClient(tz_aware=False), "watch_test")
    opened: list[Any] = []
    stream_of_changes = StandInStream(
        [
            {"fullDocument": {"tenantId": "b"}},
            {"fullDocument": {}},  # no tenant: ignored
            {"fullDocument": {"tenantId": "a"}},
        ]
    )

    def watch(pipeline: list[dict[str, Any]]) -> StandInStream:
        opened.append(pipeline)
        return stream_of_changes

    mongo._events = type("Events", (), {"watch": staticmethod(watch)})()
    stream = mongo.watch_tenants(watching("a"))
    assert await asyncio.wait_for(anext(stream), WAIT) == "a"
    assert opened == [
        [{"$match": {"operationType": "insert"}}, {"$project": {"fullDocument.tenantId": 1}}]
    ]
    await stream.aclose()
    assert stream_of_changes.closed


async def test_a_standalone_server_falls_back_to_polling(
    fast_polls: None, caplog: pytest.LogCaptureFixture
) -> None:
    mongo = MongoDatabase(AsyncMongoMockClient(tz_aware=False), "watch_test")
    events = mongo._events
    refusal = OperationFailure(
        "The $changeStream stage is only supported on replica sets", code=40573
    )

    class Events:
        def watch(self, pipeline: list[dict[str, Any]]) -> StandInStream:
            return StandInStream([], refusal)

        def __getattr__(self, name: str) -> Any:
            return getattr(events, name)

    mongo._events = Events()
    stream = mongo.watch_tenants(watching("a"))
    arriving = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    await mongo.insert_events([now_event("a")], retire_before=None)
    assert await asyncio.wait_for(arriving, WAIT) == "a"
    assert "no change streams" in caplog.text
    await stream.aclose()


async def test_other_stream_errors_are_raised() -> None:
    mongo = MongoDatabase(AsyncMongoMockClient(tz_aware=False), "watch_test")
    failure = OperationFailure("not authorized", code=13)
    mongo._events = type(
        "Events", (), {"watch": staticmethod(lambda pipeline: StandInStream([], failure))}
    )()
    with pytest.raises(OperationFailure):
        await anext(mongo.watch_tenants(watching("a")))
