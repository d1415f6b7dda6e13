"""Hour summaries: closed hours are read once, then answered from memory.

Events are immutable and live tracking only writes into the current hour, so
what a view counts over a *closed* hour cannot change until an import writes
into the past. A view's range is cut into pieces, each inside one of its
buckets (days of the zone, or the whole range):

* a whole UTC hour that ended at least ``SETTLE`` ago (and is not about to be
  purged) is *cacheable*: its summary — a small, mergeable partial state — is
  computed once and kept, per process, under the tenant's history version
  (``Database.history_version``, moved on by imports);
* anything else (the open hour, the minutes before ``SETTLE``, a piece of an hour
  cut by a bucket edge, as in Kolkata or Kathmandu) is read raw, every time.

Adjacent misses are computed by one pipeline whose group keys start with the
hour, so a cold range costs one pass, as before; a warm one costs only the
merge of its pieces and the raw read of the open hour (and, in a zone whose
days do not start on a UTC hour, of the hours its days cut). Each bucket's answer is
the merge of its pieces, oldest first: the same numbers the raw events give
(tests compare the two on generated stores, in several zones, around imports).

Both stores run this same code: the embedded store keeps its versions in
memory, MongoDB in ``history_versions`` (one ``$inc`` per import). The cache is
bounded (``CACHE_ITEMS`` items of partial state in all, least recently used
dropped first).
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from core.clock import to_naive_utc
from metrics.filters import PEOPLE
from storage.database import Database, Pipeline
from storage.documents import EVENTS

P = TypeVar("P")  # the state of one piece
M = TypeVar("M")  # the state of consecutive pieces

HOUR = timedelta(hours=1)
# An hour is closed once it ended this long ago: a live event is stored with its
# receive time, and a request in flight has at most REQUEST_TIMEOUT_SECONDS
# plus its own handling to land (servers' clocks are assumed within a minute).
SETTLE = timedelta(minutes=5)
# Hours this close to the retention cutoff are being purged: read raw.
PURGE_MARGIN = timedelta(days=1)
# Group keys of summary pipelines start with the UTC hour, "YYYY-MM-DDTHH|".
HOUR_KEY: dict[str, Any] = {"$dateToString": {"format": "%Y-%m-%dT%H", "date": "$createdAt"}}
HOUR_KEY_WIDTH = 13
CACHE_ITEMS = 4_000_000


def hour_keyed(*parts: Any) -> dict[str, Any]:
    """A group key: the event's UTC hour, ``|``, then ``parts`` concatenated."""
    return {"$concat": [HOUR_KEY, "|", *parts]}


def after_hour(key: str) -> str:
    """What follows the hour in a group key."""
    return key[HOUR_KEY_WIDTH + 1 :]


class Summary(ABC, Generic[P, M]):
    """One kind of hour summary: its pipeline, its partial state and how states merge."""

    @abstractmethod
    def key(self) -> Hashable:
        """What, besides tenant and hour, tells this summary's entries apart."""

    @abstractmethod
    def stages(self) -> Pipeline:
        """The stages after the ``$match``; group keys start with ``hour_keyed``."""

    def match(self) -> dict[str, Any]:
        """Conditions of the first ``$match`` besides tenant, range and bots."""
        return {}

    @abstractmethod
    def partial(self, rows: Sequence[dict[str, Any]]) -> P:
        """The state of one piece from its rows (none: an empty piece)."""

    @abstractmethod
    def merge(self, partials: Sequence[P]) -> M:
        """The state of consecutive pieces, given oldest first (read-only: pieces are shared)."""

    @abstractmethod
    def weight(self, partial: P) -> int:
        """How many items ``partial`` holds (the cache's measure)."""

    def pipeline(self, tenant: str, low: datetime, high: datetime) -> Pipeline:
        match = {"tenantId": tenant, "createdAt": {"$gte": low, "$lt": high}}
        return [{"$match": {**match, **self.match(), **PEOPLE}}, *self.stages()]


@dataclass(frozen=True, slots=True)
class _Piece:
    low: datetime  # naive UTC
    high: datetime
    bucket: int
    cacheable: bool


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def pieces(
    boundaries: Sequence[datetime], *, closed_before: datetime, kept_from: datetime
) -> list[_Piece]:
    """``boundaries`` (bucket edges, naive UTC, increasing) cut into pieces, oldest first.

    Every piece lies inside one bucket and one UTC hour; whole hours inside
    ``[kept_from, closed_before)`` are the cacheable ones.
    """
    result: list[_Piece] = []
    for bucket, (low, high) in enumerate(itertools.pairwise(boundaries)):
        start = low
        while start < high:
            end = min(_floor_hour(start) + HOUR, high)
            whole = start == _floor_hour(start) and end == start + HOUR
            cacheable = whole and kept_from <= start and end <= closed_before
            result.append(_Piece(start, end, bucket, cacheable))
            start = end
    return result


class _Cache:
    """(tenant, summary key, hour) → (history version, partial, weight); LRU by weight."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.weight = 0
        self.hits = self.misses = 0  # lookups of cacheable hours (tests and the bench)
        self._entries: OrderedDict[tuple[str, Hashable, datetime], tuple[int, Any, int]] = (
            OrderedDict()
        )

    def get(self, key: tuple[str, Hashable, datetime], version: int) -> Any | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] != version:
            self._drop(key)
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry[1]

    def put(
        self, key: tuple[str, Hashable, datetime], version: int, partial: Any, weight: int
    ) -> None:
        if key in self._entries:
            self._drop(key)
        weight += 1
        if weight > self.capacity:
            return
        self._entries[key] = (version, partial, weight)
        self.weight += weight
        while self.weight > self.capacity:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, Hashable, datetime]) -> None:
        self.weight -= self._entries.pop(key)[2]

    def __len__(self) -> int:
        return len(self._entries)


# One cache per database object (per process, and per test's database).
_caches: weakref.WeakKeyDictionary[Database, _Cache] = weakref.WeakKeyDictionary()


def cache_of(database: Database) -> _Cache:
    cache = _caches.get(database)
    if cache is None:
        cache = _caches[database] = _Cache(CACHE_ITEMS)
    return cache


def _by_hour(rows: Sequence[dict[str, Any]]) -> dict[datetime, list[dict[str, Any]]]:
    """Rows by the hour their key starts with (each distinct key text parsed once)."""
    by_text: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_text.setdefault(row["_id"][:HOUR_KEY_WIDTH], []).append(row)
    return {datetime.strptime(text, "%Y-%m-%dT%H"): group for text, group in by_text.items()}


async def per_bucket(
    database: Database,
    summary: Summary[P, M],
    *,
    tenant: str,
    boundaries: Sequence[datetime],
    now: datetime,
) -> list[M]:
    """The merged state of each bucket between consecutive ``boundaries``.

    ``boundaries`` are naive UTC instants, strictly increasing; ``now`` is the
    request time (what is closed is judged from it).
    """
    now = to_naive_utc(now)
    retention = timedelta(days=database.retention_days)
    plan = pieces(
        boundaries,
        closed_before=_floor_hour(now - SETTLE),
        kept_from=_ceil_hour(now - retention + PURGE_MARGIN),
    )
    cache = cache_of(database)
    kind = summary.key()
    version = await database.history_version(tenant)
    found: dict[int, Any] = {}  # piece index → partial
    missing: list[int] = []
    for index, piece in enumerate(plan):
        if piece.cacheable:
            partial = cache.get((tenant, kind, piece.low), version)
            if partial is not None:
                found[index] = partial
                continue
        missing.append(index)

    async def compute(run: list[int]) -> None:
        low, high = plan[run[0]].low, plan[run[-1]].high
        hours = _by_hour(await database.run_pipeline(EVENTS, summary.pipeline(tenant, low, high)))
        for index in run:
            piece = plan[index]
            partial = summary.partial(hours.get(_floor_hour(piece.low), []))
            if piece.cacheable:
                cache.put((tenant, kind, piece.low), version, partial, summary.weight(partial))
            found[index] = partial

    # One pipeline per run of adjacent misses, each in an hour of its own (its
    # rows are told apart by their hour key).
    runs: list[list[int]] = []
    for index in missing:
        if runs:
            last = plan[runs[-1][-1]]
            piece = plan[index]
            if last.high == piece.low and _floor_hour(last.low) < _floor_hour(piece.low):
                runs[-1].append(index)
                continue
        runs.append([index])
    await asyncio.gather(*(compute(run) for run in runs))
    buckets = len(boundaries) - 1
    states: list[list[Any]] = [[] for _ in range(buckets)]
    for index, piece in enumerate(plan):
        states[piece.bucket].append(found[index])
    return [summary.merge(parts) for parts in states]


async def over_range(
    database: Database,
    summary: Summary[P, M],
    *,
    tenant: str,
    low: datetime,
    high: datetime,
    now: datetime,
) -> M:
    """The merged state of ``[low, high)`` (naive or aware UTC)."""
    (state,) = await per_bucket(
        database,
        summary,
        tenant=tenant,
        boundaries=[to_naive_utc(low), to_naive_utc(high)],
        now=now,
    )
    return state
