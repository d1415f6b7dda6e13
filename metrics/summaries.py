"""Hour summaries: closed hours are read once, then answered from memory.

Events are immutable and live tracking only writes into the current hour, so
what a view counts over a *closed* hour cannot change until an import writes
into the past. A view's range is cut into pieces, each inside one of its
buckets (days of the zone, or the whole range):

* a whole UTC hour that ended at least ``SETTLE`` ago (and is not about to be
  purged) is *cacheable*: its summary — a small, mergeable partial state — is
  computed once and kept, per process, under the tenant's history version
  (``Database.history_version``, moved on by imports);
* any other hour (the open one, one a bucket edge cuts, as in Kolkata or
  Kathmandu, or the first of a rolling window) is cut at 5-minute marks: a whole
  ``SLICE`` that ended at least ``SETTLE`` ago is cacheable in the same way;
* what remains (the last minutes, a rolling window's first minutes) is read raw,
  every time: at most ``SLICE`` + ``SETTLE`` of events at each end of a range.

Adjacent misses are computed by one pipeline whose group keys start with the
hour, so a cold range costs one pass, as before; a warm one costs only the
merge of its pieces and the raw read of the open hour (and, in a zone whose
days do not start on a UTC hour, of the hours its days cut). Each bucket's answer is
the merge of its pieces, oldest first: the same numbers the raw events give
(tests compare the two on generated stores, in several zones, around imports).

A bucket's run of consecutive cacheable hours (a *span*) is also kept, combined
into one state (``Summary.combine``) under its first and last hour: asked again
within the hour, a view merges one span and its raw edges instead of every hour
of its range, so its cost does not grow with the traffic those hours held. A
rolling window's span moves on each hour and is combined again then, from the
cached hours.

Both stores run this same code: the embedded store keeps its versions in
memory, MongoDB in ``history_versions`` (one ``$inc`` per import). The cache is
bounded (``CACHE_ITEMS`` items of partial state in all, least recently used
dropped first).
"""

from __future__ import annotations

import asyncio
import itertools
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from core.clock import to_naive_utc
from metrics.filters import PEOPLE
from storage.database import Database, PerDatabase, Pipeline
from storage.documents import EVENTS

P = TypeVar("P")  # the state of one piece
M = TypeVar("M")  # the state of consecutive pieces

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
# Hours a view cannot keep whole are kept in slices of this length (a divisor of
# an hour, and of the 30- and 45-minute offsets of zones).
SLICE = timedelta(minutes=5)
# An hour is closed once it ended this long ago: a live event is stored with its
# receive time, and a request in flight has at most REQUEST_TIMEOUT_SECONDS
# plus its own handling to land (servers' clocks are assumed within a minute).
SETTLE = timedelta(minutes=5)
# Hours this close to the retention cutoff are being purged: read raw.
PURGE_MARGIN = timedelta(days=1)
# Group keys of summary pipelines start with the UTC hour, "YYYY-MM-DDTHH|", or
# (a run of pieces within one hour) the UTC minute, "YYYY-MM-DDTHH:MM|".
HOUR_KEY: dict[str, Any] = {"$dateToString": {"format": "%Y-%m-%dT%H", "date": "$createdAt"}}
MINUTE_KEY: dict[str, Any] = {"$dateToString": {"format": "%Y-%m-%dT%H:%M", "date": "$createdAt"}}
CACHE_ITEMS = 4_000_000


def time_keyed(time_key: dict[str, Any], *parts: Any) -> dict[str, Any]:
    """A group key: the event's hour or minute (``time_key``), ``|``, then ``parts``."""
    return {"$concat": [time_key, "|", *parts]}


def after_time(key: str) -> str:
    """What follows the hour or minute in a group key."""
    return key[key.index("|") + 1 :]


class Summary(ABC, Generic[P, M]):
    """One kind of hour summary: its pipeline, its partial state and how states merge.

    ``where`` narrows the events it reads (equality on event fields, as a view's
    filter gives them); each ``where`` is a summary of its own in the cache.
    """

    name: str  # tells this kind of summary apart in the cache

    def __init__(self, where: Mapping[str, Any] | None = None) -> None:
        self.where = dict(where or {})

    def key(self) -> Hashable:
        """What, besides tenant and hour, tells this summary's entries apart."""
        return (self.name, tuple(sorted((field, repr(v)) for field, v in self.where.items())))

    @abstractmethod
    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        """The stages after the ``$match``; group keys are ``time_keyed(time_key, ...)``."""

    def conditions(self) -> dict[str, Any]:
        """This kind's own conditions of the first ``$match`` (besides tenant, range, bots)."""
        return {}

    def match(self) -> dict[str, Any]:
        own = self.conditions()
        if own.keys() & self.where.keys():
            return {**own, "$and": [{field: v} for field, v in self.where.items()]}
        return {**own, **self.where}

    @abstractmethod
    def partial(self, rows: Sequence[dict[str, Any]]) -> P:
        """The state of one piece (or minute) from its rows (none: an empty piece)."""

    @abstractmethod
    def merge(self, partials: Sequence[P]) -> M:
        """The state of consecutive pieces, given oldest first (read-only: pieces are shared)."""

    @abstractmethod
    def combine(self, partials: Sequence[P]) -> P:
        """Consecutive pieces' states, oldest first, as the state of one piece.

        Merging it with the pieces before and after must answer as merging all
        of them (read-only, as in ``merge``: the result is cached and shared).
        """

    @abstractmethod
    def weight(self, partial: P) -> int:
        """How many items ``partial`` holds (the cache's measure)."""

    def pipeline(
        self, tenant: str, low: datetime, high: datetime, *, by_minute: bool = False
    ) -> Pipeline:
        """The rows of ``[low, high)``, keyed by the hour (or the minute)."""
        match = {"tenantId": tenant, "createdAt": {"$gte": low, "$lt": high}}
        stages = self.stages(MINUTE_KEY if by_minute else HOUR_KEY)
        return [{"$match": {**match, **self.match(), **PEOPLE}}, *stages]


@dataclass(frozen=True, slots=True)
class _Piece:
    low: datetime  # naive UTC
    high: datetime
    bucket: int
    cacheable: bool
    hourly: bool = False  # whole cacheable hours, one or a run (else a slice, or raw)

    @property
    def key(self) -> datetime | tuple[datetime, datetime]:
        """What tells its cached state apart from other pieces' (with tenant and kind):
        an hour's own start; a run of hours (a span) or a slice, both ends."""
        return self.low if self.hourly and self.high - self.low == HOUR else (self.low, self.high)

    def hours(self) -> list[_Piece]:
        """A run of whole hours, hour by hour."""
        starts = [self.low + HOUR * index for index in range((self.high - self.low) // HOUR + 1)]
        return [
            _Piece(low, high, self.bucket, cacheable=True, hourly=True)
            for low, high in itertools.pairwise(starts)
        ]


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def _floor_slice(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


def pieces(
    boundaries: Sequence[datetime], *, closed_before: datetime, kept_from: datetime
) -> list[_Piece]:
    """``boundaries`` (bucket edges, naive UTC, increasing) cut into pieces, oldest first.

    Every piece lies inside one bucket. The whole hours inside ``[kept_from,
    closed_before)`` of a bucket are consecutive: they make one cacheable piece
    (a run of one or more hours, ``hourly``). The rest lies inside one UTC hour
    each: whole slices inside ``[kept_from, closed_before)`` are cacheable, the
    rest of an hour is raw, adjacent raw parts joined.
    """
    result: list[_Piece] = []
    first_kept, closed_hour = _ceil_hour(kept_from), _floor_hour(closed_before)
    for bucket, (low, high) in enumerate(itertools.pairwise(boundaries)):
        # No whole hour before ``kept`` is kept (it starts before the bucket or
        # kept_from), nor any after ``kept_end`` (it ends after the bucket, or
        # is not closed).
        kept = max(_ceil_hour(low), first_kept)
        kept_end = min(_floor_hour(high), closed_hour)
        if kept >= kept_end:
            kept = kept_end = high
        _cut(result, low, kept, bucket, closed_before, kept_from)
        if kept < kept_end:
            result.append(_Piece(kept, kept_end, bucket, cacheable=True, hourly=True))
        _cut(result, kept_end, high, bucket, closed_before, kept_from)
    return result


def _cut(
    result: list[_Piece],
    low: datetime,
    high: datetime,
    bucket: int,
    closed_before: datetime,
    kept_from: datetime,
) -> None:
    """``[low, high)``, none of whose whole hours is kept, hour by hour onto ``result``."""
    start, hour = low, _floor_hour(low)
    while start < high:
        following = hour + HOUR
        end = following if following < high else high
        result.extend(_sliced(start, end, bucket, closed_before, kept_from))
        start = hour = following


def _sliced(
    start: datetime, end: datetime, bucket: int, closed_before: datetime, kept_from: datetime
) -> list[_Piece]:
    """``[start, end)``, within one hour: whole slices kept, what lies between them raw."""
    found: list[_Piece] = []
    raw_from: datetime | None = None
    low = start
    while low < end:
        floor = _floor_slice(low)
        high = min(floor + SLICE, end)
        if low == floor and high == floor + SLICE and kept_from <= low and high <= closed_before:
            if raw_from is not None:
                found.append(_Piece(raw_from, low, bucket, cacheable=False))
                raw_from = None
            found.append(_Piece(low, high, bucket, cacheable=True))
        elif raw_from is None:
            raw_from = low
        low = high
    if raw_from is not None:
        found.append(_Piece(raw_from, end, bucket, cacheable=False))
    return found


CacheKey = tuple[str, Hashable, datetime | tuple[datetime, datetime]]


class _Cache:
    """(tenant, summary key, hour or span) → (history version, state, weight); LRU by weight."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.weight = 0
        self.hits = self.misses = 0  # lookups of hours and spans (tests and the bench)
        self._entries: OrderedDict[CacheKey, tuple[int, Any, int]] = OrderedDict()

    def get(self, key: CacheKey, version: int) -> Any | None:
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

    def put(self, key: CacheKey, version: int, partial: Any, weight: int) -> None:
        if key in self._entries:
            self._drop(key)
        weight += 1
        if weight > self.capacity:
            return
        self._entries[key] = (version, partial, weight)
        self.weight += weight
        while self.weight > self.capacity:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: CacheKey) -> None:
        self.weight -= self._entries.pop(key)[2]

    def __len__(self) -> int:
        return len(self._entries)


cache_of: PerDatabase[_Cache] = PerDatabase(lambda _: _Cache(CACHE_ITEMS))

R = TypeVar("R")


class SharedReads:
    """Reads that are running, by what they read: a caller asking for one while it runs
    waits for its answer instead of running it again (the panels of a page opened
    on cold hours ask for the same runs at once, and the forked readers are few).

    A read runs in a task of its own, shielded from its callers: a caller that is
    cancelled stops waiting, and once every caller of a read has gone it is
    cancelled too (its forked child killed), as a lone caller's read would be.
    Callers must not change the answer: they share it.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, _Read[Any]] = {}

    def __len__(self) -> int:
        return len(self._running)

    async def read(self, key: Hashable, start: Callable[[], Awaitable[R]]) -> R:
        read = self._running.get(key)
        if read is None:
            read = self._running[key] = _Read(asyncio.ensure_future(start()))
            read.task.add_done_callback(lambda _: self._forget(key, read))
        read.callers += 1
        try:
            return await asyncio.shield(read.task)
        finally:
            read.callers -= 1
            if not read.callers and not read.task.done():
                self._forget(key, read)
                read.task.cancel()

    def _forget(self, key: Hashable, read: _Read[Any]) -> None:
        if self._running.get(key) is read:
            del self._running[key]


@dataclass(eq=False, slots=True)
class _Read(Generic[R]):
    task: asyncio.Future[R]
    callers: int = 0


reads_of: PerDatabase[SharedReads] = PerDatabase(lambda _: SharedReads())


def _by_time(rows: Sequence[dict[str, Any]]) -> dict[datetime, list[dict[str, Any]]]:
    """Rows by the hour or minute their key starts with (each distinct text parsed once)."""
    by_text: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        key = row["_id"]
        if type(key) is dict:  # a keyed summary's {"k": time-keyed text, "d": dimension}
            key = key["k"]
        by_text.setdefault(key[: key.index("|")], []).append(row)
    return {datetime.fromisoformat(text): group for text, group in by_text.items()}


def _runs(plan: Sequence[_Piece], missing: Sequence[int]) -> list[list[list[int]]]:
    """Missing pieces as runs, each read by one pipeline: its hours' pieces (indexes).

    Adjacent missing pieces each alone in its hour share a run keyed by the
    hour; the adjacent pieces of one hour (slices, and the raw minutes around
    them, meeting on whole minutes) make a run of their own, keyed by the
    minute. (Keying some hours of one pipeline by the minute would cost every
    event of it a condition.)
    """
    hours: list[list[int]] = []  # adjacent missing pieces of one hour
    for index in missing:
        piece = plan[index]
        if hours:
            last = plan[hours[-1][-1]]
            whole_minute = piece.low.second == 0 and piece.low.microsecond == 0
            if last.high == piece.low and whole_minute and last.low >= _floor_hour(piece.low):
                hours[-1].append(index)
                continue
        hours.append([index])
    runs: list[list[list[int]]] = []
    for hour in hours:
        if runs and len(hour) == 1 and len(runs[-1][-1]) == 1:
            last, first = plan[runs[-1][-1][0]], plan[hour[0]]
            if last.high == first.low and _floor_hour(last.low) < _floor_hour(first.low):
                runs[-1].append(hour)
                continue
        runs.append([hour])
    return runs


NONE_KEY = "(none)"  # a dimension's key for events without the field


class ByKey(Summary[dict[str, Any], dict[str, Any]]):
    """``inner`` per value of an event field: each value's state kept apart.

    The group key becomes ``{"k": inner's key, "d": the field}``, so a value may hold
    any character (a ``|`` too). Events without the field count under ``NONE_KEY``.
    """

    def __init__(self, inner: Summary[Any, Any], field: str) -> None:
        super().__init__()
        self.inner = inner
        self.field = field
        self.name = f"{inner.name} by {field}"

    def key(self) -> Hashable:
        return ("by", self.field, self.inner.key())

    def conditions(self) -> dict[str, Any]:
        return self.inner.match()

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        (stage,) = self.inner.stages(time_key)
        group = dict(stage["$group"])
        group["_id"] = {"k": group["_id"], "d": {"$ifNull": [f"${self.field}", NONE_KEY]}}
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        by_value: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_value.setdefault(str(row["_id"]["d"]), []).append({**row, "_id": row["_id"]["k"]})
        return {value: self.inner.partial(group) for value, group in by_value.items()}

    def merge(self, partials: Sequence[dict[str, Any]]) -> dict[str, Any]:
        values = dict.fromkeys(value for partial in partials for value in partial)
        return {
            value: self.inner.merge([p[value] for p in partials if value in p]) for value in values
        }

    def combine(self, partials: Sequence[dict[str, Any]]) -> dict[str, Any]:
        values = dict.fromkeys(value for partial in partials for value in partial)
        return {
            value: self.inner.combine([p[value] for p in partials if value in p])
            for value in values
        }

    def weight(self, partial: dict[str, Any]) -> int:
        return sum(1 + self.inner.weight(state) for state in partial.values())


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
    cache = cache_of(database)
    kind = summary.key()
    version = await database.history_version(tenant)
    # The pieces, with each run of hours whose span is not kept laid out hour by
    # hour (its hours are looked up, and the span combined from them below).
    plan: list[_Piece] = []
    found: dict[int, Any] = {}  # piece index → partial
    combined: dict[int, Any] = {}  # a kept span's piece, or a run's first hour → its state
    to_combine: list[range] = []
    for piece in pieces(
        boundaries,
        closed_before=now - SETTLE,
        kept_from=_ceil_hour(now - retention + PURGE_MARGIN),
    ):
        if piece.hourly and piece.high - piece.low > HOUR:
            state = cache.get((tenant, kind, piece.key), version)
            if state is None:
                first = len(plan)
                plan.extend(piece.hours())
                to_combine.append(range(first, len(plan)))
                continue
            combined[len(plan)] = state
        plan.append(piece)
    covered: set[int] = set(combined)
    missing: list[int] = []
    for index, piece in enumerate(plan):
        if index in covered:
            continue
        if piece.cacheable:
            partial = cache.get((tenant, kind, piece.key), version)
            if partial is not None:
                found[index] = partial
                continue
        missing.append(index)

    reads = reads_of(database)

    async def compute(run: list[list[int]]) -> None:
        low, high = plan[run[0][0]].low, plan[run[-1][-1]].high
        by_minute = len(run[0]) > 1
        pipeline = summary.pipeline(tenant, low, high, by_minute=by_minute)
        rows = _by_time(
            await reads.read(
                (tenant, kind, version, low, high, by_minute),
                lambda: database.run_pipeline(EVENTS, pipeline),
            )
        )
        for hour in run:
            for index in hour:
                piece = plan[index]
                if len(hour) > 1:
                    minutes = sorted(t for t in rows if piece.low < t + MINUTE and t < piece.high)
                    partial = summary.combine([summary.partial(rows[t]) for t in minutes])
                else:
                    partial = summary.partial(rows.get(_floor_hour(piece.low), []))
                if piece.cacheable:
                    cache.put((tenant, kind, piece.key), version, partial, summary.weight(partial))
                found[index] = partial

    await asyncio.gather(*(compute(run) for run in _runs(plan, missing)))
    for run in to_combine:
        state = combined[run[0]] = summary.combine([found[index] for index in run])
        key = (tenant, kind, (plan[run[0]].low, plan[run[-1]].high))
        cache.put(key, version, state, summary.weight(state))
        covered.update(run)
    buckets = len(boundaries) - 1
    states: list[list[Any]] = [[] for _ in range(buckets)]
    for index, piece in enumerate(plan):
        if index in combined:
            states[piece.bucket].append(combined[index])
        elif index not in covered:
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
