"""storage.embedded.timelist: rows by time, ties in arrival order, checked against a plain
stably sorted list through random adds, bulk adds, replaces, range reads and purges."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from storage.embedded import rows, timelist
from storage.embedded.rows import Row
from storage.embedded.timelist import Bounds, TimeList
from tests.conftest import event

START = datetime(2026, 5, 1)


def row_at(hours: int, n: int) -> Row:
    return rows.to_row(dict(event("page_view", at=START + timedelta(hours=hours), session=f"s{n}")))


def expected(held: list[Row], bounds: Bounds) -> list[Row]:
    low, low_inclusive, high, high_inclusive = bounds
    found = []
    for row in sorted(held, key=rows.created_us):  # stable: the order they were added
        at = rows.created(row)
        if low is not None and (at < low or (at == low and not low_inclusive)):
            continue
        if high is not None and (at > high or (at == high and not high_inclusive)):
            continue
        found.append(row)
    return found


def assert_keyed(listed: TimeList) -> None:
    """The times beside the chunks are their rows' own, and each chunk's first is its first."""
    assert [list(times) for times in listed._times] == [
        [rows.created_us(row) for row in chunk] for chunk in listed._chunks
    ]
    assert listed._firsts == [rows.created_us(chunk[0]) for chunk in listed._chunks]
    assert all(listed._chunks)


def random_bounds(rng: random.Random) -> Bounds:
    def instant() -> datetime | None:
        return None if rng.random() < 0.2 else START + timedelta(hours=rng.randrange(-2, 60))

    return (instant(), rng.random() < 0.5, instant(), rng.random() < 0.5)


@pytest.mark.parametrize("seed", range(6))
def test_the_list_reads_as_a_stable_sort_of_what_was_added(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timelist, "CHUNK", 4)  # many chunks, many splits
    rng = random.Random(seed)
    listed, held = TimeList(), []
    n = 0
    for _ in range(300):
        step = rng.random()
        if step < 0.55:  # one row, mostly in time order, some far in the past, many ties
            hours = n // 8 if rng.random() < 0.6 else rng.randrange(0, 50)
            row = row_at(hours, n)
            listed.add(row)
            held.append(row)
            n += 1
        elif step < 0.6:  # a bulk add (start-up indexes in bulk)
            many = [row_at(rng.randrange(0, 50), n + i) for i in range(rng.randrange(0, 30))]
            listed.add_all(many)
            held.extend(many)
            n += len(many)
        elif step < 0.65:  # a batch (a request's events): sorted runs, ties, or any order
            start = n // 8 if rng.random() < 0.7 else rng.randrange(0, 50)
            count = rng.randrange(0, 3 * 4)  # up to three chunks of 4
            hours = sorted(start + rng.randrange(0, 3) for _ in range(count))
            if rng.random() < 0.25:
                rng.shuffle(hours)
            batch = [row_at(hour, n + i) for i, hour in enumerate(hours)]
            listed.extend(batch)
            held.extend(batch)
            n += len(batch)
        elif step < 0.7 and held:  # a retired key: the same row, renamed, in its place
            old = rng.choice(held)
            new = rows.with_key(old, f"retired-{n}")
            listed.replace(old, new)
            held[held.index(old)] = new
        elif step < 0.73:  # a purge
            cutoff = START + timedelta(hours=rng.randrange(0, 20))
            gone = [row for row in held if rows.created(row) < cutoff]
            assert listed.drop_before(cutoff) == expected(gone, (None, True, None, True))
            held = [row for row in held if rows.created(row) >= cutoff]
        bounds = random_bounds(rng)
        want = expected(held, bounds)
        assert listed.between(bounds) == want
        assert listed.count(bounds) == len(want)
        assert len(listed) == len(held)
        assert list(listed) == expected(held, (None, True, None, True))
        assert_keyed(listed)


def test_an_empty_list_reads_empty() -> None:
    listed = TimeList()
    everything: Bounds = (None, True, None, True)
    assert (listed.between(everything), listed.count(everything), len(listed)) == ([], 0, 0)
    assert listed.drop_before(START) == []
    listed.add_all([])
    assert list(listed) == []


def test_out_of_order_inserts_move_one_chunk_not_every_later_row() -> None:
    listed = TimeList()
    listed.add_all([row_at(h, h) for h in range(20 * timelist.CHUNK)])
    chunks = len(listed._chunks)
    for n in range(3 * timelist.CHUNK):  # imported history, into the earliest chunk
        listed.add(row_at(-1 - n % 7, n))
    sizes = [len(chunk) for chunk in listed._chunks]
    assert max(sizes) < 2 * timelist.CHUNK
    assert len(sizes) > chunks  # the early chunk split; the later ones never moved
    assert sum(sizes) == len(listed)
    assert_keyed(listed)


def test_replacing_a_row_not_held_is_an_error() -> None:
    listed = TimeList()
    listed.add_all([row_at(1, 1), row_at(1, 2)])
    with pytest.raises(ValueError, match="not in the list"):
        listed.replace(row_at(1, 3), row_at(1, 4))


def added_one_by_one(before: list[Row], batch: list[Row]) -> TimeList:
    listed = TimeList()
    for row in [*before, *batch]:
        listed.add(row)
    return listed


@pytest.mark.parametrize(
    "hours",
    [
        [5, 5, 6, 9, 9, 9],  # in order after the last row, ties with it and within
        [4, 5, 6],  # starts before the last row: row by row
        [6, 8, 7],  # out of order within the batch
        [],
        [5] * 40,  # one instant, long enough to split the last chunk
    ],
    ids=["in order", "starts early", "out of order", "empty", "split"],
)
def test_extend_is_add_of_each_in_turn(hours: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timelist, "CHUNK", 4)
    before = [row_at(h, n) for n, h in enumerate([1, 2, 5, 5])]
    batch = [row_at(h, 100 + n) for n, h in enumerate(hours)]
    listed = TimeList()
    for row in before:
        listed.add(row)
    listed.extend(batch)
    want = added_one_by_one(before, batch)
    assert list(listed) == list(want) == expected([*before, *batch], (None, True, None, True))
    assert len(listed) == len(before) + len(batch)
    assert all(0 < len(chunk) < 2 * timelist.CHUNK for chunk in listed._chunks)
    assert_keyed(listed)
    everything: Bounds = (None, True, None, True)
    assert listed.count(everything) == len(listed)


def test_extend_of_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timelist, "CHUNK", 4)
    batch = [row_at(h, n) for n, h in enumerate([3, 3, 4, 7, 7, 7, 8, 9, 9, 10])]
    listed = TimeList()
    listed.extend(batch)
    assert list(listed) == batch
    assert_keyed(listed)
    assert listed.between((START + timedelta(hours=7), True, None, True)) == batch[3:]
