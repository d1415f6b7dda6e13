"""metrics.feeds: one producer per key while anyone watches, bounded queues."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from metrics.feeds import FeedFailed, Feeds, Publish, SlowConsumer


class Counter:
    """A producer publishing 1, 2, 3, ... each time it is let go."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.published = 0
        self.running = 0

    async def __call__(self, publish: Publish[int]) -> None:
        self.running += 1
        try:
            while True:
                await self.go.wait()
                self.go.clear()
                self.published += 1
                publish(self.published)
        finally:
            self.running -= 1


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_one_producer_per_key_shared_and_stopped_with_the_last() -> None:
    feeds = Feeds()
    producer = Counter()
    first = feeds.watch("k", producer)
    second = feeds.watch("k", producer)
    taking = asyncio.ensure_future(anext(first))
    await settle()
    producer.go.set()
    assert await taking == 1
    # The second subscriber joins a running feed: the latest value at once, one producer.
    assert await anext(second) == 1
    assert (feeds.started, feeds.running, producer.running) == (1, 1, 1)
    producer.go.set()
    assert (await anext(first), await anext(second)) == (2, 2)
    await first.aclose()
    await settle()
    assert (feeds.running, producer.running) == (1, 1)
    await second.aclose()
    await settle()
    assert (feeds.running, producer.running) == (0, 0)
    # A new subscriber starts a new producer.
    third = feeds.watch("k", producer)
    taking = asyncio.ensure_future(anext(third))
    await settle()
    assert (feeds.started, producer.running) == (2, 1)
    # A reader cancelled while it waits (a closed socket) leaves too.
    taking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await taking
    await settle()
    assert (feeds.running, producer.running) == (0, 0)


async def test_a_subscriber_that_does_not_read_is_dropped_alone() -> None:
    feeds = Feeds(pending=2)
    published: list[Publish[int]] = []

    async def produce(publish: Publish[int]) -> None:
        published.append(publish)
        await asyncio.Event().wait()

    reader, sleeper = feeds.watch("k", produce), feeds.watch("k", produce)
    taking = asyncio.ensure_future(anext(reader))
    first_of_sleeper = asyncio.ensure_future(anext(sleeper))
    await settle()
    (publish,) = published
    publish(1)
    assert (await taking, await first_of_sleeper) == (1, 1)
    for value in (2, 3, 4):  # the sleeper holds two, the third one drops it
        publish(value)
        assert await anext(reader) == value
    with pytest.raises(SlowConsumer):
        await anext(sleeper)
    publish(5)
    assert await anext(reader) == 5
    await reader.aclose()
    await sleeper.aclose()


async def test_a_failed_producer_ends_its_subscriptions(caplog: pytest.LogCaptureFixture) -> None:
    feeds = Feeds()

    async def produce(publish: Publish[int]) -> None:
        publish(1)
        raise RuntimeError("boom")

    stream: AsyncIterator[int] = feeds.watch("k", produce)
    assert await anext(stream) == 1
    with pytest.raises(FeedFailed):
        await anext(stream)
    assert feeds.running == 0
    assert "producer failed" in caplog.text
