"""Shared producers for live subscriptions: one per key, as long as someone listens.

A *feed* is one producer task for one key (a tenant and the subscription's
arguments) and the subscribers reading it. The first subscriber of a key starts
the producer, the last one to leave cancels it: a tenant nobody watches costs
nothing. Every value published goes to each subscriber's own bounded queue; a
subscriber whose queue is full has stopped reading (its client does not read its
socket), and is dropped: its reader raises ``SlowConsumer`` instead of holding the
others back or buffering without end. A subscriber joining a running feed gets
the feed's latest value at once. A producer that fails ends every subscription of
its feed with ``FeedFailed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
Publish = Callable[[T], None]
# Values waiting for one subscriber at most; one more and it is dropped.
MAX_PENDING = 8


class SlowConsumer(Exception):
    """The subscriber did not take its values: it was dropped."""


class FeedFailed(Exception):
    """The feed's producer failed (logged); its subscriptions end."""


_DROPPED: Any = object()
_FAILED: Any = object()
_NOTHING: Any = object()


class _Subscriber(Generic[T]):
    __slots__ = ("_queue", "dropped")

    def __init__(self, pending: int) -> None:
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize=pending + 1)
        self.dropped = False

    def offer(self, value: T) -> None:
        if self.dropped:
            return
        if self._queue.qsize() >= self._queue.maxsize - 1:
            self._end(_DROPPED)
        else:
            self._queue.put_nowait(value)

    def _end(self, marker: Any) -> None:
        # The one slot kept free takes the marker: the reader meets it after what it has.
        self.dropped = True
        if marker is _DROPPED:
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(marker)

    def fail(self) -> None:
        if not self.dropped:
            self._end(_FAILED)

    async def next(self) -> T:
        value = await self._queue.get()
        if value is _DROPPED:
            raise SlowConsumer("the client did not read its messages")
        if value is _FAILED:
            raise FeedFailed("the live feed failed")
        return value


class _Feed(Generic[T]):
    def __init__(self) -> None:
        self.subscribers: set[_Subscriber[T]] = set()
        self.latest: T = _NOTHING
        self.task: asyncio.Task[None] | None = None

    def publish(self, value: T) -> None:
        self.latest = value
        for subscriber in list(self.subscribers):
            subscriber.offer(value)


class Feeds:
    """The feeds of one process (``resolvers.live`` keeps one per database).

    ``started`` counts producers ever started and ``running`` the live ones, for
    tests and logs.
    """

    def __init__(self, *, pending: int = MAX_PENDING) -> None:
        self.pending = pending
        self.started = 0
        self._feeds: dict[Hashable, _Feed[Any]] = {}

    @property
    def running(self) -> int:
        return len(self._feeds)

    async def watch(
        self, key: Hashable, produce: Callable[[Publish[T]], Awaitable[None]]
    ) -> AsyncIterator[T]:
        """The values of ``key``'s feed, from now on (the latest one first, if any);
        ``produce(publish)`` runs as the feed's producer while anyone watches."""
        found: _Feed[T] | None = self._feeds.get(key)
        if found is None:
            found = self._feeds[key] = _Feed()
            found.task = asyncio.create_task(self._run(found, produce), name=f"feed {key!r}")
            self.started += 1
        feed = found
        subscriber: _Subscriber[T] = _Subscriber(self.pending)
        if feed.latest is not _NOTHING:
            subscriber.offer(feed.latest)
        feed.subscribers.add(subscriber)
        try:
            while True:
                yield await subscriber.next()
        finally:
            feed.subscribers.discard(subscriber)
            if not feed.subscribers and self._feeds.get(key) is feed:
                del self._feeds[key]
                assert feed.task is not None
                feed.task.cancel()

    async def _run(self, feed: _Feed[T], produce: Callable[[Publish[T]], Awaitable[None]]) -> None:
        try:
            await produce(feed.publish)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a live feed's producer failed")
        # Failed, or (a bug) returned: nothing more will come.
        for key, running in list(self._feeds.items()):
            if running is feed:
                del self._feeds[key]
        for subscriber in list(feed.subscribers):
            subscriber.fail()
