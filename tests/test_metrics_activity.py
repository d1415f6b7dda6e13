"""metrics.activity: ingest wakes the listeners of a tenant; other processes' events too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from mongomock_motor import AsyncMongoMockClient

from metrics.activity import activity_of
from metrics.ingest import EventInput, live_document, track_events
from storage import database as storage_database
from storage.database import MongoDatabase
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event

WAIT = 10.0


async def track(database: EmbeddedDatabase, tenant: str, *, bot: bool = False) -> None:
    doc = live_document(
        EventInput("page_view", session_id="s"), tenant=tenant, user_id=None, now=NOW
    )
    if bot:
        doc["bot"] = True
    await track_events(database, [doc], now=NOW, window_seconds=5)


async def test_tracking_wakes_the_tenants_listeners_only(database: EmbeddedDatabase) -> None:
    activity = activity_of(database)
    assert activity_of(database) is activity
    assert not activity.listening
    with activity.listen("a") as a, activity.listen("b") as b:
        assert activity.watched() == {"a", "b"}
        await track(database, "a")
        assert a.is_set()
        assert not b.is_set()
        a.clear()
        await track(database, "a", bot=True)  # bots change no figure
        assert not a.is_set()
    assert not activity.listening


async def test_the_watcher_runs_while_anyone_listens(database: EmbeddedDatabase) -> None:
    activity = activity_of(database)
    with activity.listen("a"):
        watcher = activity._watcher
        assert watcher is not None
    assert activity._watcher is None
    await asyncio.sleep(0)
    assert watcher.cancelled() or watcher.done()


async def test_other_processes_events_wake_listeners(monkeypatch: pytest.MonkeyPatch) -> None:
    # Over mongomock (no change streams): polling, made fast here.
    monkeypatch.setattr(storage_database, "POLL_SECONDS", 0.01)
    database = MongoDatabase(AsyncMongoMockClient(tz_aware=False), "activity_test")
    activity = activity_of(database)
    with activity.listen("a") as woken:
        await asyncio.sleep(0.05)  # the first poll notes where "a" is
        # Stored without ingest, as another process would.
        await database.insert_events(
            [event("page_view", at=datetime.now(UTC), tenant="a")], retire_before=None
        )
        await asyncio.wait_for(woken.wait(), WAIT)
