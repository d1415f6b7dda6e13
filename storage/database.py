"""The one seam between the service and its database driver.

``Database`` is what the rest of the service sees: insert events with
idempotency, run an aggregation pipeline, ping, ensure indexes. Two
implementations sit behind it:

* ``MongoDatabase`` here: Motor on a real MongoDB 6+ (replica set or sharded);
* ``EmbeddedDatabase`` in ``storage.embedded``: mongomock-motor in process,
  made durable by a journal under ``DATA_DIR``.

Motor is frozen upstream (PyMongo's async client replaces it); this module and
``storage.embedded`` are the only ones that touch a driver, so switching is a
change here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ReturnDocument, WriteConcern
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from core.clock import to_naive_utc, utcnow
from storage.documents import (
    EVENTS,
    HISTORY_VERSIONS,
    PEOPLE,
    TENANTS,
    EventDocument,
    TenantDocument,
)
from storage.indexes import RATE_LIMITS, IndexSpec

Pipeline = list[dict[str, Any]]
log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
INDEX_OPTIONS_CONFLICT = (85, 86)
# "The $changeStream stage is only supported on replica sets" (a standalone server).
NO_CHANGE_STREAMS = (40573,)
# Without change streams, each watched tenant's newest event is read this often.
POLL_SECONDS = 3.0


# An event created longer than this before the clock was written into the past.
# Summaries only cache hours that ended longer ago than this (SETTLE, 5 min).
PAST = timedelta(minutes=1)


def retired_key(key: str, event_id: object) -> str:
    """The key a live event keeps once its idempotency window has passed.

    Renaming (rather than deleting) keeps every document in the unique index
    with a distinct value, so the index needs no partial filter.
    """
    return f"{key}#retired:{event_id}"


# At most this many events are read for one page (a selective filter answers short pages).
PAGE_SCAN = 20_000


@dataclass(frozen=True, slots=True)
class EventPosition:
    """A place in a tenant's events: ``(createdAt, _id)``, the order pages follow."""

    created_at: datetime  # naive UTC
    event_id: ObjectId


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[dict[str, Any]]
    resume: EventPosition | None  # the last position read, if more may follow


class ChangeStreamsUnavailable(Exception):
    """The server offers no change streams (a standalone server, or mongomock)."""


class Database(ABC):
    """Storage operations the service needs, independent of the driver."""

    def __init__(self) -> None:
        # How many aggregation pipelines ran: tests use it to check that a
        # selection runs only the passes it needs.
        self.pipelines_run = 0
        # How long events are kept (EVENT_RETENTION_DAYS): the oldest hours are
        # being purged, so summaries leave them alone.
        self.retention_days = 365

    @abstractmethod
    async def insert_events(
        self, docs: Sequence[EventDocument], *, retire_before: datetime | None
    ) -> list[bool]:
        """Store ``docs``; per doc, True if stored, False if its key was already taken.

        The unique index on ``(tenantId, dedupeKey)`` decides, so concurrent
        identical calls store one event. With ``retire_before`` (live tracking),
        a key held by an event created at or before that instant is retired
        and the new event stored; without it (imports) a taken key is final.
        """

    async def run_pipeline(self, collection: str, pipeline: Pipeline) -> list[dict[str, Any]]:
        """Run an aggregation pipeline and return all its documents."""
        self.pipelines_run += 1
        return await self._aggregate(collection, pipeline)

    @abstractmethod
    async def _aggregate(self, collection: str, pipeline: Pipeline) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def page_events(
        self,
        tenant: str,
        low: datetime,
        high: datetime,
        *,
        types: Sequence[str] | None,
        where: Mapping[str, Any],
        after: EventPosition | None,
        limit: int,
    ) -> EventPage:
        """Up to ``limit`` events of ``tenant`` in ``[low, high)`` (naive UTC), people only,
        of ``types`` (None: any) whose fields equal ``where``'s (None: missing), ordered
        by ``(createdAt, _id)``, strictly after ``after``.

        Work is bounded: a store may stop after reading ``PAGE_SCAN`` events and answer
        fewer, with ``resume`` where to go on from (None: nothing is left).
        """

    async def watch_tenants(self, watched: Callable[[], Collection[str]]) -> AsyncIterator[str]:
        """Each time another process stores events for a tenant in ``watched()``, that
        tenant (live subscriptions recompute then; this process's own writes are
        announced in process by ``metrics.activity``). Runs until cancelled.

        The embedded store has no other writer (its lock file): nothing ever comes.
        """
        return
        yield  # an async generator that ends at once

    @abstractmethod
    async def count_events(self, tenant: str | None = None) -> int:
        """How many events are stored (for one tenant, or all)."""

    @abstractmethod
    async def history_version(self, tenant: str) -> int:
        """A number that changes whenever a write reaches into ``tenant``'s past.

        Summaries of closed hours (``metrics.summaries``) are kept per version.
        ``insert_events`` moves it on, after writing, for every tenant of a batch
        holding an event created more than ``PAST`` before the clock (an import),
        stored or duplicate: a retried import whose first try stored its events
        but failed before the move still moves it. Live tracking writes at the
        clock's time and leaves it alone.
        """

    @abstractmethod
    async def history_changed(self, tenant: str) -> None:
        """Move ``tenant``'s history version on."""

    async def _past_written(self, docs: Sequence[EventDocument]) -> None:
        """Called by ``insert_events`` after its write: see ``history_version``."""
        past = to_naive_utc(utcnow()) - PAST
        for tenant in sorted({doc["tenantId"] for doc in docs if doc["createdAt"] < past}):
            await self.history_changed(tenant)

    @abstractmethod
    async def tenant(self, tenant_id: str) -> TenantDocument | None:
        """The settings stored for ``tenant_id``, if an admin configured it."""

    @abstractmethod
    async def tenants(self) -> list[TenantDocument]:
        """Every configured tenant, by id."""

    @abstractmethod
    async def put_tenant(self, doc: TenantDocument) -> None:
        """Store (create or replace) a tenant's settings, durably."""

    @abstractmethod
    async def reserve(self, key: str, units: int, *, expires_at: datetime) -> int:
        """Add ``units`` to the counter ``key`` atomically (creating it at 0, to be
        dropped after ``expires_at``); the count after the addition.

        Concurrent reservations (from any process sharing the database) see
        distinct, consecutive counts: the rate limit rests on that.
        """

    @abstractmethod
    async def release(self, key: str, units: int) -> None:
        """Give ``units`` back to the counter ``key`` (reserved, then not used)."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the database does not answer."""

    @abstractmethod
    async def ensure_indexes(self, specs: Sequence[IndexSpec]) -> None:
        """Create the indexes in ``specs``; safe to call at every start-up."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections and flush anything pending."""


class MongoDatabase(Database):
    """A real MongoDB through Motor. Event writes use majority write concern with journaling."""

    def __init__(self, client: Any, database: str) -> None:
        super().__init__()
        self._client = client
        self._db = client[database]
        # An acknowledged event survives a primary failover.
        majority = WriteConcern(w="majority", j=True)
        self._events = self._db.get_collection(EVENTS, write_concern=majority)
        self._tenants = self._db.get_collection(TENANTS, write_concern=majority)
        # Majority too: a counter that lost increments in a failover would admit
        # more than the limit for the rest of its minute.
        self._rate_limits = self._db.get_collection(RATE_LIMITS, write_concern=majority)
        # {_id: tenant, version}: read by every summarised view, moved on by imports;
        # majority, so that no process keeps reading a version a failover took back.
        self._history = self._db.get_collection(HISTORY_VERSIONS, write_concern=majority)

    @classmethod
    def connect(cls, url: str, database: str) -> MongoDatabase:
        """A Motor client for ``url`` (called in the Starlette lifespan, never at import)."""
        client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(
            url, tz_aware=False, uuidRepresentation="standard"
        )
        return cls(client, database)

    async def insert_events(
        self, docs: Sequence[EventDocument], *, retire_before: datetime | None
    ) -> list[bool]:
        if not docs:
            return []
        stored = [True] * len(docs)
        try:
            await self._events.insert_many([dict(doc) for doc in docs], ordered=False)
        except BulkWriteError as error:
            for write_error in error.details.get("writeErrors", []):
                if write_error.get("code") != DUPLICATE_KEY:
                    raise
                stored[write_error["index"]] = False
        if retire_before is not None:
            for index, doc in enumerate(docs):
                if not stored[index]:
                    stored[index] = await self._retry_after_retire(doc, retire_before)
        await self._past_written(docs)
        return stored

    async def _retry_after_retire(self, doc: EventDocument, retire_before: datetime) -> bool:
        holder = await self._events.find_one(
            {
                "tenantId": doc["tenantId"],
                "dedupeKey": doc["dedupeKey"],
                "createdAt": {"$lte": retire_before},
            },
            {"_id": 1},
        )
        if holder is None:
            return False  # the key is held by an event inside the window
        # Matching on the old key makes the rename happen once among racers;
        # the unique index then admits exactly one of their inserts.
        await self._events.update_one(
            {"_id": holder["_id"], "dedupeKey": doc["dedupeKey"]},
            {"$set": {"dedupeKey": retired_key(doc["dedupeKey"], holder["_id"])}},
        )
        try:
            await self._events.insert_one(dict(doc))
        except DuplicateKeyError:
            return False
        return True

    async def _aggregate(self, collection: str, pipeline: Pipeline) -> list[dict[str, Any]]:
        cursor = self._db[collection].aggregate(pipeline, allowDiskUse=True)
        return [doc async for doc in cursor]

    async def page_events(
        self,
        tenant: str,
        low: datetime,
        high: datetime,
        *,
        types: Sequence[str] | None,
        where: Mapping[str, Any],
        after: EventPosition | None,
        limit: int,
    ) -> EventPage:
        query: dict[str, Any] = {"tenantId": tenant, "createdAt": {"$gte": low, "$lt": high}}
        if types is not None:
            query["eventType"] = {"$in": list(types)}
        query.update(where)
        query.update(PEOPLE)
        if after is not None:
            query["$or"] = [
                {"createdAt": {"$gt": after.created_at}},
                {"createdAt": after.created_at, "_id": {"$gt": after.event_id}},
            ]
        cursor = self._events.find(query).sort([("createdAt", 1), ("_id", 1)]).limit(limit)
        found = [doc async for doc in cursor]
        resume = None
        if len(found) == limit:
            resume = EventPosition(found[-1]["createdAt"], found[-1]["_id"])
        return EventPage(found, resume)

    async def watch_tenants(self, watched: Callable[[], Collection[str]]) -> AsyncIterator[str]:
        """A change stream of inserts on the events collection (replica set or sharded
        cluster); where the server has none (a standalone server), polling: every
        ``POLL_SECONDS``, each watched tenant's newest ``(createdAt, _id)`` (index
        tenant_created_id), announced when it moved. Polling sees live tracking, not
        an import of past events; a missed change waits for the next one."""
        try:
            async with contextlib.aclosing(self._inserted_tenants()) as inserted:
                async for tenant in inserted:
                    if tenant in watched():
                        yield tenant
        except ChangeStreamsUnavailable as error:
            log.warning(
                "no change streams (%s): polling watched tenants every %s s", error, POLL_SECONDS
            )
        async with contextlib.aclosing(self._polled_tenants(watched)) as polled:
            async for tenant in polled:
                yield tenant

    async def _inserted_tenants(self) -> AsyncGenerator[str, None]:
        # Only the tenant of each insert travels: the rest of the document is not needed.
        pipeline = [
            {"$match": {"operationType": "insert"}},
            {"$project": {"fullDocument.tenantId": 1}},
        ]
        try:
            stream = self._events.watch(pipeline)
        except TypeError as error:  # mongomock: no watch at all
            raise ChangeStreamsUnavailable(str(error)) from None
        try:
            async with stream:
                async for change in stream:
                    tenant = change.get("fullDocument", {}).get("tenantId")
                    if isinstance(tenant, str):
                        yield tenant
        except OperationFailure as error:
            if error.code not in NO_CHANGE_STREAMS:
                raise
            raise ChangeStreamsUnavailable(str(error)) from None

    async def _polled_tenants(
        self, watched: Callable[[], Collection[str]]
    ) -> AsyncGenerator[str, None]:
        seen: dict[str, EventPosition | None] = {}
        while True:
            tenants = sorted(watched())
            for tenant in tenants:
                newest = await self.newest_event(tenant)
                if tenant in seen and seen[tenant] != newest:
                    yield tenant
                seen[tenant] = newest
            for gone in set(seen) - set(tenants):
                del seen[gone]
            await asyncio.sleep(POLL_SECONDS)

    async def newest_event(self, tenant: str) -> EventPosition | None:
        """The position of ``tenant``'s newest event by ``createdAt`` (None: no event)."""
        found = await self._events.find_one(
            {"tenantId": tenant},
            {"_id": 1, "createdAt": 1},
            sort=[("createdAt", -1), ("_id", -1)],
        )
        return None if found is None else EventPosition(found["createdAt"], found["_id"])

    async def count_events(self, tenant: str | None = None) -> int:
        query = {} if tenant is None else {"tenantId": tenant}
        return int(await self._events.count_documents(query))

    async def history_version(self, tenant: str) -> int:
        found = await self._history.find_one({"_id": tenant}, {"version": 1})
        return 0 if found is None else int(found["version"])

    async def history_changed(self, tenant: str) -> None:
        await self._history.update_one({"_id": tenant}, {"$inc": {"version": 1}}, upsert=True)

    async def tenant(self, tenant_id: str) -> TenantDocument | None:
        found: TenantDocument | None = await self._tenants.find_one({"_id": tenant_id})
        return found

    async def tenants(self) -> list[TenantDocument]:
        return [doc async for doc in self._tenants.find({}).sort("_id", 1)]

    async def put_tenant(self, doc: TenantDocument) -> None:
        await self._tenants.replace_one({"_id": doc["_id"]}, dict(doc), upsert=True)

    async def reserve(self, key: str, units: int, *, expires_at: datetime) -> int:
        # One atomic upsert, never get-then-put: the server serialises the $inc.
        # Two first upserts of a key can race; the loser's duplicate-key error
        # means the document now exists, and the retry increments it.
        for attempt in range(2):
            try:
                after = await self._rate_limits.find_one_and_update(
                    {"_id": key},
                    {"$inc": {"count": units}, "$setOnInsert": {"expiresAt": expires_at}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                    projection={"count": 1},
                )
            except DuplicateKeyError:
                if attempt:
                    raise
                continue
            return int(after["count"])
        raise AssertionError("unreachable")

    async def release(self, key: str, units: int) -> None:
        await self._rate_limits.update_one({"_id": key}, {"$inc": {"count": -units}})

    async def ping(self) -> None:
        await self._client.admin.command("ping")

    async def ensure_indexes(self, specs: Sequence[IndexSpec]) -> None:
        for spec in specs:
            options: dict[str, Any] = {"name": spec.name, "unique": spec.unique, **spec.options}
            if spec.expire_after_seconds is not None:
                options["expireAfterSeconds"] = spec.expire_after_seconds
            try:
                await self._db[spec.collection].create_index(list(spec.keys), **options)
            except OperationFailure as error:
                if error.code not in INDEX_OPTIONS_CONFLICT or spec.expire_after_seconds is None:
                    raise
                # EVENT_RETENTION_DAYS changed: adjust the TTL in place.
                await self._db.command(
                    "collMod",
                    spec.collection,
                    index={"name": spec.name, "expireAfterSeconds": spec.expire_after_seconds},
                )

    async def close(self) -> None:
        self._client.close()


T = TypeVar("T")


class PerDatabase(Generic[T]):
    """One ``T`` per database object, made by ``make`` on first use and dropped with
    the database: per process, and per test's database."""

    def __init__(self, make: Callable[[Database], T]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[Database, T] = weakref.WeakKeyDictionary()

    def __call__(self, database: Database) -> T:
        found = self._made.get(database)
        if found is None:
            found = self._made[database] = self._make(database)
        return found

    def made(self) -> list[tuple[Database, T]]:
        """Each database's ``T`` made so far (and still alive)."""
        return list(self._made.items())
