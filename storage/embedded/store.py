"""The embedded store: mongomock-motor in process, durable under ``DATA_DIR``.

Used when ``MONGODB_URL`` is unset. Documents live in a mongomock-motor
collection; this module adds what mongomock lacks for a real service:

* durability: every write goes to ``storage.embedded.journal`` before it is acknowledged;
  start-up replays what is readable, skips (and reports) what is not, and keeps
  a damaged file aside rather than truncating it (``storage.embedded.recovery``);
* the documents live in the mongomock-motor collection's store as the very
  objects the indexes below point to: one copy in memory, and no per-insert
  BSON check and deep copy (ingest validated them; the journal encodes BSON);
* the unique ``(tenantId, dedupeKey)`` key as a hash map (mongomock checks unique
  indexes by scanning the collection on every insert, O(N));
* a time index per tenant and event type. mongomock copies the whole collection
  on every ``aggregate``, so cost would grow with all stored events; instead a
  pipeline whose first stage matches ``tenantId`` (and optionally a
  ``createdAt`` range and ``eventType``) is fed only the documents in that range,
  and mongomock's own stages run the rest (``storage.embedded.aggregation``, with a
  hash-based ``$group``), so a pipeline means the same here and on MongoDB.
  Other pipelines fall back to the collection.
* retention: a periodic purge plays the role of MongoDB's TTL index.

Everything between a uniqueness check and the write it guards runs without an
``await`` that could suspend, under one lock, so concurrent identical calls
store one event.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import gc
import heapq
import itertools
import logging
import os
import struct
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from mongomock import filtering as mongomock_filtering
from mongomock_motor import AsyncMongoMockClient

from core.clock import to_naive_utc, utcnow
from core.errors import ConfigError
from storage.database import (
    PAGE_SCAN,
    Database,
    EventPage,
    EventPosition,
    Pipeline,
    retired_key,
)
from storage.documents import EVENTS, PEOPLE, EventDocument, TenantDocument
from storage.embedded import rows
from storage.embedded.aggregation import run_pipeline
from storage.embedded.journal import Journal, write_rows
from storage.embedded.offload import Offloader
from storage.embedded.recovery import restore, rotated
from storage.embedded.rows import Row, as_doc, encode_key, micros, to_row
from storage.embedded.tenants import TenantFile
from storage.embedded.timelist import Bounds, TimeList
from storage.indexes import IndexSpec

log = logging.getLogger(__name__)

SNAPSHOT = "events.snapshot"
JOURNAL = "events.journal"
LOCK = "events.lock"
PURGE_EVERY_SECONDS = 3600
_INDEXED_MATCH_KEYS = frozenset({"tenantId", "createdAt", "eventType"})
SETTLE_EVERY_EVENTS = 20_000
# The journal is folded into a new snapshot, in a forked child, once it is this
# big and a quarter of the snapshot (start-up then reads mostly the snapshot).
COMPACT_MIN_BYTES = 16 << 20
COMPACT_SHARE = 4
# A pipeline over fewer documents runs inline: forking costs more than it saves.
# The fork pauses the loop ~12 ms per GiB of heap (~1M stored events), about what
# 5,000 documents cost inline: so the bar rises by one document per 200 stored.
OFFLOAD_MIN_DOCS = 5_000
OFFLOAD_STORED_PER_DOC = 200


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _write_snapshot(tenants: dict[str, _TenantIndex], path: Path) -> int:
    """In a forked child: the snapshot of every row the child sees; how many."""
    everything = [row for index in tenants.values() for row in index.all]
    write_rows(path, everything)
    return len(everything)


def _settle_heap() -> None:
    """Collect garbage once, then exempt every surviving object from future collections.

    Stored events live until purged, but each full collection would walk all of
    them: ~185 ms at 100k events, paid by whichever request triggered it. After
    a freeze, collections only walk what came since, so this runs after loading
    and after every ``SETTLE_EVERY_EVENTS`` new events (a pause of a few ms).
    """
    gc.collect()
    gc.freeze()


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere
    nothing).

    Loading frees large blocks as it goes: the key maps' smaller tables as they grow,
    the sorted copies and lists start-up builds. glibc keeps them mapped for reuse, so
    the server's RSS would count them (~48 MiB at 1M events) until new events filled
    them; trimmed, RSS is what the store holds. Takes a few ms.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


_OBJECT_ID_COUNTER = 0xFFFFFF  # an ObjectId's counter: its last 3 bytes
_PACK_TIME_RANDOM = struct.Struct(">I5s").pack


def new_ids(count: int) -> list[ObjectId]:
    """``count`` new ObjectIds, each as ``ObjectId()`` makes it (the current second, the
    process's 5 random bytes, the next value of pymongo's own counter), the counter
    taken once under pymongo's lock for them all: an ``ObjectId()`` costs ~1.4 us, most
    of it the lock, the clock and the packing, paid here once per batch."""
    if count <= 0:
        return []
    with ObjectId._inc_lock:
        first = ObjectId._inc
        ObjectId._inc = (first + count) % (_OBJECT_ID_COUNTER + 1)
    prefix = _PACK_TIME_RANDOM(int(time.time()), ObjectId._random())
    return [
        ObjectId(prefix + ((first + n) & _OBJECT_ID_COUNTER).to_bytes(3, "big"))
        for n in range(count)
    ]


# A key map's digests keep to 60 bits: an int of two 30-bit digits (32 B, not 48).
_DIGEST_BITS = (1 << 60) - 1


class _KeyMap:
    """A tenant's idempotency keys (as ``rows.encode_key`` makes them) -> the row holding each.

    Keyed by a 60-bit digest of the key (``hash``: keyed per process, so no one can
    aim collisions at it), not by the key: a dict key of its own would cost each
    event its key's bytes a second time, and the row holds them already (its
    ident). A hit counts only if the row's own key is the key looked up; a key whose
    digest is already taken by another key goes to a side map keyed by the key
    itself, so a collision costs a little memory, never an event.
    """

    __slots__ = ("_collided", "_rows")

    def __init__(self) -> None:
        self._rows: dict[int, Row] = {}
        self._collided: dict[bytes, Row] = {}

    def get(self, key: bytes) -> Row | None:
        row = self._rows.get(hash(key) & _DIGEST_BITS)
        if row is not None and rows.stored_key(row) == key:
            return row
        return self._collided.get(key) if self._collided else None

    def put(self, row: Row) -> None:
        """Map ``row``'s key to it (replacing the row that held the key, if any)."""
        key = rows.stored_key(row)
        held = self._rows.setdefault(hash(key) & _DIGEST_BITS, row)
        if held is row:
            if self._collided:
                self._collided.pop(key, None)
        elif rows.stored_key(held) == key:
            self._rows[hash(key) & _DIGEST_BITS] = row
        else:
            self._collided[key] = row

    def discard(self, row: Row) -> None:
        """Forget ``row``'s key if ``row`` is what it maps to."""
        key = rows.stored_key(row)
        digest = hash(key) & _DIGEST_BITS
        if self._rows.get(digest) is row:
            del self._rows[digest]
        elif self._collided.get(key) is row:
            del self._collided[key]

    def __len__(self) -> int:
        return len(self._rows) + len(self._collided)


@dataclass
class _TenantIndex:
    all: TimeList = field(default_factory=TimeList)
    # A list per event type too (8 B a row): a pipeline matching a rare type over a
    # long range reads only its rows, where filtering the tenant's list would look at
    # every row (~0.3 s per 1M events in range, against ~50 ms for the pipeline).
    by_type: defaultdict[str, TimeList] = field(default_factory=lambda: defaultdict(TimeList))

    # The idempotency keys of the tenant's events: key -> row.
    keys: _KeyMap = field(default_factory=_KeyMap)

    def add(self, row: Row) -> None:
        self.all.add(row)
        self.by_type[rows.event_type(row)].add(row)
        self.keys.put(row)

    def extend(self, many: list[Row]) -> None:
        """``add`` each of ``many`` in turn, a batch at a time (``TimeList.extend``)."""
        self.all.extend(many)
        by_type: dict[str, list[Row]] = {}
        for row in many:
            by_type.setdefault(rows.event_type(row), []).append(row)
        for event_type, typed in by_type.items():
            self.by_type[event_type].extend(typed)
        put = self.keys.put
        for row in many:
            put(row)

    def add_all(self, many: list[Row]) -> None:
        self.all.add_all(many)
        by_type: defaultdict[str, list[Row]] = defaultdict(list)
        put = self.keys.put
        for row in many:
            by_type[rows.event_type(row)].append(row)
            put(row)
        for event_type, typed in by_type.items():
            self.by_type[event_type].add_all(typed)

    def retire(self, old: Row, key: str) -> None:
        """Rename ``old``'s idempotency key to ``key`` (its window has passed)."""
        new = rows.with_key(old, key)
        self.all.replace(old, new)
        self.by_type[rows.event_type(old)].replace(old, new)
        self.keys.discard(old)
        self.keys.put(new)

    def purge_before(self, cutoff: datetime) -> int:
        dropped = self.all.drop_before(cutoff)
        for by_type in self.by_type.values():
            by_type.drop_before(cutoff)
        for row in dropped:
            self.keys.discard(row)
        return len(dropped)


@dataclass(frozen=True)
class _Range:
    low: datetime | None = None
    low_inclusive: bool = True
    high: datetime | None = None
    high_inclusive: bool = False


@dataclass(frozen=True)
class _Plan:
    """The time lists a first ``$match`` reads, their bounds, and what it filters after."""

    lists: list[TimeList]
    bounds: Bounds
    residual: dict[str, Any]

    def size(self) -> int:
        """How many documents the bounds hold (before the residual filter): bisects only."""
        return sum(time_list.count(self.bounds) for time_list in self.lists)

    def select(self) -> list[dict[str, Any]]:
        slices = [time_list.between(self.bounds) for time_list in self.lists]
        chosen = slices[0] if len(slices) == 1 else list(heapq.merge(*slices, key=rows.created_us))
        selected = [as_doc(row) for row in chosen]
        for name, condition in self.residual.items():
            selected = _filter(selected, name, condition)
        return selected


def _run_planned(plan: _Plan, stages: Pipeline) -> list[dict[str, Any]]:
    return run_pipeline(plan.select(), stages)


def _created_range(condition: object) -> _Range | None:
    if condition is None:
        return _Range()
    if not isinstance(condition, dict) or not condition:
        return None
    if not set(condition) <= {"$gte", "$gt", "$lt", "$lte"}:
        return None
    if not all(isinstance(value, datetime) for value in condition.values()):
        return None
    low = condition.get("$gte", condition.get("$gt"))
    high = condition.get("$lt", condition.get("$lte"))
    return _Range(
        low=None if low is None else to_naive_utc(low),
        low_inclusive="$gte" in condition,
        high=None if high is None else to_naive_utc(high),
        high_inclusive="$lte" in condition,
    )


def _event_types(condition: object) -> list[str] | bool | None:
    """The types named by an ``eventType`` condition; None = all; False = not indexable."""
    if condition is None:
        return None
    if isinstance(condition, str):
        return [condition]
    if isinstance(condition, dict) and set(condition) == {"$in"}:
        values = condition["$in"]
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            return list(dict.fromkeys(values))
    return False


def _filter(docs: list[dict[str, Any]], name: str, condition: Any) -> list[dict[str, Any]]:
    """Documents meeting one ``$match`` condition.

    The common shapes (a string or null, ``{"$ne": null | bool | string}``,
    ``{"$in": [strings]}`` on a top-level field) are checked directly: mongomock's
    matcher costs ~20 us a document. Anything else goes to mongomock's matcher.
    """
    if "." not in name and not name.startswith("$"):
        if condition is None:
            return [d for d in docs if d.get(name) is None]
        if type(condition) is str:
            return [d for d in docs if d.get(name) == condition]
        if condition == {"$ne": None}:
            return [d for d in docs if d.get(name) is not None]
        if isinstance(condition, dict) and set(condition) == {"$ne"}:
            # BSON equality: True is not 1, and a missing field is null.
            if (unwanted := condition["$ne"]) is True or unwanted is False:
                return [d for d in docs if d.get(name) is not unwanted]
            if type(unwanted) is str:
                return [d for d in docs if d.get(name) != unwanted]
        if (
            isinstance(condition, dict)
            and set(condition) == {"$in"}
            and isinstance(condition["$in"], list)
            and all(type(v) is str for v in condition["$in"])
        ):
            wanted = set(condition["$in"])
            return [d for d in docs if d.get(name) in wanted]
    applies = mongomock_filtering.filter_applies
    return [d for d in docs if applies({name: condition}, d)]  # type: ignore[no-untyped-call]


class EmbeddedDatabase(Database):
    """mongomock-motor plus journal, unique key map and time index (see module docstring)."""

    def __init__(
        self, data_dir: Path, *, fsync_seconds: float, retention_days: int, query_workers: int = 0
    ) -> None:
        super().__init__()
        self._data_dir = data_dir
        self._fsync_seconds = fsync_seconds
        self._retention = timedelta(days=retention_days)
        # Other collections (none is written here: tenants and counters have their
        # own homes) answer aggregations as an empty mongomock collection would.
        self._client: Any = AsyncMongoMockClient(tz_aware=False)
        # Every event is a row (storage.embedded.rows) in its tenant's index.
        self._tenants: defaultdict[str, _TenantIndex] = defaultdict(_TenantIndex)
        self._count = 0
        # Rate-limit counters, key -> [count, expiresAt]: in memory only (one
        # process owns DATA_DIR; a restart starts the current minute afresh).
        self._counters: dict[str, list[Any]] = {}
        self._counters_sweep_at = datetime.min
        # History versions (metrics.summaries): in memory, as the summaries they key are.
        self._history: defaultdict[str, int] = defaultdict(int)
        self.retention_days = retention_days
        self._lock = asyncio.Lock()
        # Large pipelines run in forked children (storage.embedded.offload); None: inline.
        self._offloader = Offloader(query_workers) if query_workers > 0 else None
        self._journal: Journal | None = None
        self._tenant_settings: TenantFile | None = None
        self._lock_file: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsettled = 0  # events stored since the heap was last frozen
        # Snapshots written while serving (compact()): one at a time, in a child.
        self._compactor = Offloader(1)
        self._compacting: asyncio.Task[None] | None = None
        self._snapshot_bytes = 0
        self.recovery: list[str] = []  # what start-up repaired: a line per damaged file

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        fsync_seconds: float = 1.0,
        retention_days: int = 365,
        query_workers: int = 0,
    ) -> EmbeddedDatabase:
        """Load ``data_dir`` (created if missing), compact it, and start background upkeep."""
        database = cls(
            data_dir,
            fsync_seconds=fsync_seconds,
            retention_days=retention_days,
            query_workers=query_workers,
        )
        await database._load()
        return database

    # ---- start-up and upkeep -------------------------------------------------

    def _take_lock(self) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._data_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"DATA_DIR {self._data_dir} is in use by another server process"
            ) from None
        self._lock_file = fd

    async def _load(self) -> None:
        self._take_lock()
        # Loading allocates millions of objects that all survive: collections
        # during it would walk them again and again (superlinear start-up).
        gc.disable()
        try:
            self._tenant_settings = TenantFile(self._data_dir)
            restored = restore(self._data_dir / SNAPSHOT, self._data_dir / JOURNAL)
            self._index_all(restored.rows)
        except BaseException:
            self._release_lock()
            raise
        finally:
            gc.enable()
        self._journal = restored.journal
        self._snapshot_bytes = _size(self._data_dir / SNAPSHOT)
        self.recovery = restored.report
        for note in restored.notes:
            log.info("%s", note)
        for line in restored.report:
            log.warning("%s", line)
        del restored  # its list of every row, before the heap is trimmed
        log.info("embedded store: %d events loaded from %s", self._count, self._data_dir)
        await self.purge_expired()
        # Loading builds rows, lists and strings, no reference cycles: what it threw
        # away is already freed, so the loaded heap is frozen without a full
        # collection walking every row first (~0.6 s at 1M events).
        gc.freeze()
        _trim_heap()
        self._tasks.append(asyncio.create_task(self._upkeep()))

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def _index_all(self, loaded: list[Row]) -> None:
        by_tenant: defaultdict[str, list[Row]] = defaultdict(list)
        for row in loaded:
            by_tenant[rows.tenant(row)].append(row)
        for tenant, owned in by_tenant.items():
            self._tenants[tenant].add_all(owned)
        self._count += len(loaded)

    async def _upkeep(self) -> None:
        """fsync the journal on a timer; purge expired events hourly."""
        interval = self._fsync_seconds if self._fsync_seconds > 0 else PURGE_EVERY_SECONDS
        since_purge = 0.0
        while True:
            await asyncio.sleep(interval)
            if self._journal is not None:
                await asyncio.to_thread(self._journal.sync)
            since_purge += interval
            if since_purge >= PURGE_EVERY_SECONDS:
                since_purge = 0.0
                await self.purge_expired()

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Delete events older than the retention period (what MongoDB's TTL index does)."""
        cutoff = to_naive_utc(now or utcnow()) - self._retention
        async with self._lock:
            dropped = sum(tenant.purge_before(cutoff) for tenant in self._tenants.values())
            if not dropped:
                return 0
            self._write([{"op": "purge", "before": cutoff}])
            self._count -= dropped
        return dropped

    def _write(self, records: Sequence[dict[str, Any]], rows: Sequence[Row] = ()) -> None:
        assert self._journal is not None, "embedded store used before open()"
        self._journal.append(records, fsync=self._fsync_seconds == 0, rows=rows)
        if self._journal.size > max(COMPACT_MIN_BYTES, self._snapshot_bytes // COMPACT_SHARE):
            self._folding()

    def _folding(self) -> asyncio.Task[None]:
        """The fold under way, started if there is none."""
        if self._compacting is None:
            self._compacting = asyncio.get_running_loop().create_task(self._compact())
        return self._compacting

    async def compact(self) -> None:
        """Fold the journal into a new snapshot now (or wait for the fold under way)."""
        await asyncio.shield(self._folding())

    async def _compact(self) -> None:
        """Write a snapshot of every event in a forked child while the loop goes on.

        The journal is first moved aside (``events.journal.1``) and a new one
        started, with nothing awaited in between; the child, forked after, writes
        every row it sees — all of the moved journal's and perhaps some of the new
        one's (replay is idempotent) — then the moved journal is deleted. If the
        server stops before, start-up folds the moved journal in itself.
        """
        assert self._journal is not None, "embedded store used before open()"
        aside = rotated(self._data_dir / JOURNAL)
        try:
            if aside.exists():  # a fold failed earlier: start-up will fold it
                return
            self._journal.rotate(aside)
            snapshot = self._data_dir / SNAPSHOT
            written = await self._compactor.run(_write_snapshot, self._tenants, snapshot)
            aside.unlink()
            self._snapshot_bytes = _size(snapshot)
            log.info("embedded store: %d events folded into %s", written, snapshot)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("embedded store: the snapshot could not be written while serving")
        finally:
            self._compacting = None

    # ---- Database ------------------------------------------------------------

    async def insert_events(
        self, docs: Sequence[EventDocument], *, retire_before: datetime | None
    ) -> list[bool]:
        stored: list[bool] = []
        chosen: list[tuple[EventDocument, bytes]] = []  # (a doc to store, its encoded key)
        retired: list[tuple[Row, str]] = []  # (the row holding a key, its retired key)
        retire_us = None if retire_before is None else micros(retire_before)
        async with self._lock:
            taken: set[tuple[str, str]] = set()
            for source in docs:
                key = (source["tenantId"], source["dedupeKey"])
                encoded = encode_key(source["dedupeKey"])
                index = self._tenants.get(source["tenantId"])
                holder = None if index is None else index.keys.get(encoded)
                if key in taken or (
                    holder is not None
                    and (retire_us is None or rows.created_us(holder) > retire_us)
                ):
                    stored.append(False)
                    continue
                if holder is not None:
                    retired.append(
                        (holder, retired_key(source["dedupeKey"], rows.event_id(holder)))
                    )
                taken.add(key)
                chosen.append((source, encoded))
                stored.append(True)
            if not chosen:
                await self._past_written(docs)
                return stored
            # Stored as given, with an ``_id`` added last when it has none.
            fresh = iter(new_ids(sum(1 for source, _ in chosen if "_id" not in source)))
            accepted: list[dict[str, Any]] = []
            for source, _ in chosen:
                doc: dict[str, Any] = dict(source)
                if "_id" not in doc:
                    doc["_id"] = next(fresh)
                accepted.append(doc)
            added = [
                to_row(doc, encoded) for doc, (_, encoded) in zip(accepted, chosen, strict=True)
            ]
            # Journal first, the batch in one write: once it returns, it survives a crash.
            records = [
                {"op": "retire", "id": rows.event_id(holder), "key": key} for holder, key in retired
            ]
            self._write(records, added)
            for holder, new_key in retired:
                self._tenants[rows.tenant(holder)].retire(holder, new_key)
            by_tenant: dict[str, list[Row]] = {}
            for row in added:
                by_tenant.setdefault(rows.tenant(row), []).append(row)
            for tenant, owned in by_tenant.items():
                self._tenants[tenant].extend(owned)
            self._count += len(accepted)
            self._unsettled += len(accepted)
        if self._unsettled >= SETTLE_EVERY_EVENTS:
            self._unsettled = 0
            _settle_heap()
        await self._past_written(docs)
        return stored

    def _plan(self, match: dict[str, Any]) -> _Plan | None:
        """How the time index serves a first ``$match``; None if it cannot."""
        tenant = match.get("tenantId")
        created = _created_range(match.get("createdAt"))
        types = _event_types(match.get("eventType"))
        if not isinstance(tenant, str) or created is None or types is False:
            return None
        index = self._tenants.get(tenant)
        lists: list[TimeList] = []
        if index is not None and types is None:
            lists = [index.all]
        elif index is not None:
            assert isinstance(types, list)
            lists = [index.by_type[t] for t in types if t in index.by_type]
        bounds = (created.low, created.low_inclusive, created.high, created.high_inclusive)
        residual = {k: v for k, v in match.items() if k not in _INDEXED_MATCH_KEYS}
        return _Plan(lists, bounds, residual)

    def _window(self, match: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The documents a first ``$match`` selects, via the time index; None if not indexable."""
        plan = self._plan(match)
        return None if plan is None else plan.select()

    async def _aggregate(self, collection: str, pipeline: Pipeline) -> list[dict[str, Any]]:
        if collection == EVENTS and pipeline and set(pipeline[0]) == {"$match"}:
            plan = self._plan(pipeline[0]["$match"])
            if plan is not None:
                stages = pipeline[1:]
                bar = max(OFFLOAD_MIN_DOCS, self._count // OFFLOAD_STORED_PER_DOC)
                if self._offloader is not None and plan.size() >= bar:
                    # Large: in a forked child, so tracking is not held up meanwhile.
                    return await self._offloader.run(_run_planned, plan, stages)
                return _run_planned(plan, stages)
        if collection == EVENTS:  # not served by the index: over every event
            return run_pipeline(self.documents(), pipeline)
        cursor = self._client["embedded"][collection].aggregate(pipeline)
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
        """Walks the time index from ``after`` (or ``low``): no event before it is read, and
        at most ``PAGE_SCAN`` after it. Rows of one instant are put in ``_id`` order."""
        index = self._tenants.get(tenant)
        if index is None or limit <= 0:
            return EventPage([], None)
        if types is None:
            lists = [index.all]
        else:
            lists = [index.by_type[t] for t in dict.fromkeys(types) if t in index.by_type]
        start = low if after is None else max(low, after.created_at)
        bounds: Bounds = (start, True, high, False)
        merged = heapq.merge(
            *(time_list.iterate(bounds) for time_list in lists), key=rows.created_us
        )
        position = None if after is None else (micros(after.created_at), after.event_id.binary)
        query = {**where, **PEOPLE}
        found: list[dict[str, Any]] = []
        scanned = 0
        for _, same_instant in itertools.groupby(merged, key=rows.created_us):
            for row in sorted(same_instant, key=rows.id_bytes):
                if position is not None and (rows.created_us(row), rows.id_bytes(row)) <= position:
                    continue
                scanned += 1
                doc = as_doc(row)
                if all(_filter([doc], name, test) for name, test in query.items()):
                    found.append(doc)
                last = row
                if len(found) == limit or scanned >= PAGE_SCAN:
                    return EventPage(found, EventPosition(rows.created(last), rows.event_id(last)))
        return EventPage(found, None)

    async def count_events(self, tenant: str | None = None) -> int:
        if tenant is None:
            return self._count
        index = self._tenants.get(tenant)
        return 0 if index is None else len(index.all)

    async def history_version(self, tenant: str) -> int:
        return self._history.get(tenant, 0)

    async def history_changed(self, tenant: str) -> None:
        self._history[tenant] += 1

    async def tenant(self, tenant_id: str) -> TenantDocument | None:
        return self._tenant_file().get(tenant_id)

    async def tenants(self) -> list[TenantDocument]:
        return self._tenant_file().all()

    async def put_tenant(self, doc: TenantDocument) -> None:
        await self._tenant_file().put(doc)

    async def reserve(self, key: str, units: int, *, expires_at: datetime) -> int:
        async with self._lock:
            counter = self._counters.get(key)
            if counter is None:
                now = to_naive_utc(utcnow())
                if now >= self._counters_sweep_at:  # at most once a minute: bounded work
                    self._counters_sweep_at = now + timedelta(seconds=60)
                    for stale in [k for k, (_, e) in self._counters.items() if e <= now]:
                        del self._counters[stale]
                counter = self._counters[key] = [0, expires_at]
            counter[0] += units
            return int(counter[0])

    async def release(self, key: str, units: int) -> None:
        async with self._lock:
            counter = self._counters.get(key)
            if counter is not None:
                counter[0] -= units

    def _tenant_file(self) -> TenantFile:
        assert self._tenant_settings is not None, "embedded store used before open()"
        return self._tenant_settings

    async def ping(self) -> None:
        if self._journal is None:
            raise RuntimeError("embedded store is closed")

    async def ensure_indexes(self, specs: Sequence[IndexSpec]) -> None:
        # Unique keys, time ranges and retention are enforced by this class
        # itself; declaring them to mongomock would only slow every insert.
        return None

    async def close(self) -> None:
        if self._compacting is not None:  # its child is killed; start-up folds the rest
            self._compacting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compacting
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._release_lock()

    def documents(self) -> Iterator[dict[str, Any]]:
        """Every stored event as a document, by ``createdAt`` (ties in arrival order)."""
        lists = [index.all for index in self._tenants.values()]
        return (as_doc(row) for row in list(heapq.merge(*lists, key=rows.created_us)))
