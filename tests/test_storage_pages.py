"""Database.page_events on both stores: (createdAt, _id) order, ties by _id, filters, bots
left out, and the embedded store's bounded scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId
from mongomock_motor import AsyncMongoMockClient

from storage import database as storage_database
from storage.database import Database, EventPosition, MongoDatabase
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from storage.embedded import store as embedded_store
from tests.conftest import event

T0 = datetime(2026, 6, 10, 12, tzinfo=UTC)


def events() -> list[EventDocument]:
    docs = []
    for n in range(12):
        doc = event(
            "page_view" if n % 3 else "purchase",
            at=T0 + timedelta(minutes=n // 2),  # pairs share an instant
            session=f"s{n}",
            source="google" if n % 2 else None,
        )
        doc["_id"] = ObjectId(f"{(12 - n):024x}")  # later events, smaller ids: ties flip
        docs.append(doc)
    bot = event("page_view", at=T0, session="crawler")
    bot["bot"] = True
    other = event("page_view", at=T0, session="x", tenant="other")
    return [*docs, bot, other]


async def walk(database: Database, limit: int, **options: object) -> list[str]:
    low, high = datetime(2026, 6, 10), datetime(2026, 6, 11)
    seen: list[str] = []
    after = None
    for _ in range(50):
        page = await database.page_events(
            "default",
            low,
            high,
            after=after,
            limit=limit,
            **options,  # type: ignore[arg-type]
        )
        seen += [doc["sessionId"] for doc in page.events]
        if page.resume is None:
            return seen
        after = page.resume
    raise AssertionError("no end")


@pytest.fixture(params=["embedded", "mongodb"])
async def stored(request: pytest.FixtureRequest, database: EmbeddedDatabase) -> Database:
    target: Database = (
        database
        if request.param == "embedded"
        else MongoDatabase(AsyncMongoMockClient(tz_aware=False), "pages")
    )
    await target.insert_events(events(), retire_before=None)
    return target


# Instants hold pairs (s0 s1), (s2 s3), ...; within a pair the later session has the
# smaller _id, so it comes first.
IN_ORDER = ["s1", "s0", "s3", "s2", "s5", "s4", "s7", "s6", "s9", "s8", "s11", "s10"]


@pytest.mark.parametrize("limit", [1, 3, 5, 12, 100])
async def test_pages_follow_created_then_id_whatever_their_size(
    stored: Database, limit: int
) -> None:
    assert await walk(stored, limit, types=None, where={}) == IN_ORDER


async def test_types_and_equality_filters(stored: Database) -> None:
    purchases = await walk(stored, 2, types=["purchase"], where={})
    assert purchases == ["s0", "s3", "s6", "s9"]  # n % 3 == 0, each at its own instant
    google = await walk(stored, 4, types=None, where={"source": "google"})
    assert google == ["s1", "s3", "s5", "s7", "s9", "s11"]
    assert await walk(stored, 4, types=["purchase"], where={"source": "google"}) == ["s3", "s9"]


async def test_a_position_skips_what_it_has_seen(stored: Database) -> None:
    first = await stored.page_events(
        "default",
        datetime(2026, 6, 10),
        datetime(2026, 6, 11),
        types=None,
        where={},
        after=None,
        limit=3,
    )
    assert [d["sessionId"] for d in first.events] == ["s1", "s0", "s3"]
    assert first.resume == EventPosition(datetime(2026, 6, 10, 12, 1), ObjectId(f"{9:024x}"))


async def test_the_embedded_store_reads_a_bounded_number_per_page(
    database: EmbeddedDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_store, "PAGE_SCAN", 4)
    await database.insert_events(events(), retire_before=None)
    page = await database.page_events(
        "default",
        datetime(2026, 6, 10),
        datetime(2026, 6, 11),
        types=None,
        where={"source": "google"},
        after=None,
        limit=10,
    )
    # Four read (s1, s0, the bot of the same instant, s3), two of them google's; the page
    # says where to go on from.
    assert [d["sessionId"] for d in page.events] == ["s1", "s3"]
    assert page.resume is not None and page.resume.event_id == ObjectId(f"{9:024x}")
    assert storage_database.PAGE_SCAN == 20_000
    assert await walk(database, 10, types=None, where={"source": "google"}) == [
        "s1",
        "s3",
        "s5",
        "s7",
        "s9",
        "s11",
    ]
