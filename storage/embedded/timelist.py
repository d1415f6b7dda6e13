"""Rows sorted by ``createdAt``, ties in arrival order: the embedded store's time index.

Rows are kept in *chunks*: plain lists of rows, each sorted by the row's own time
(``rows.created_us``), every row of a chunk at or after every row of the chunk
before. Beside each chunk, an ``array('q')`` holds its rows' times, and ``_firsts``
each chunk's first time, so a time is found by two bisects in C: ``_firsts``, then
the chunk's times.

The times cost 8 B a row (a Python int would cost 36): a bisect by
``key=rows.created_us`` instead would call Python a dozen times and touch a dozen
rows scattered over the heap, which made an out-of-order insert (an imported past
event) ~8 µs at 3.65M stored events, a third of an import's time. Chunks are split
in halves once they reach ``2 * CHUNK`` rows, the halves built by slicing (no spare
capacity): appending in time order fills only the last chunk, and an out-of-order
insert moves at most one chunk's pointers and times, not every later row.

Ties: a row is inserted after every row of the same time (``bisect_right``), so
rows of one instant stay in the order they were added; ``extend`` adds a batch
as ``add`` would add each in turn (a batch in time order after the last row, in
one go); ``add_all`` adds rows after those already held, in the order given, by
one stable sort.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import datetime
from itertools import chain

from storage.embedded.rows import Row, created_us, micros

CHUNK = 1024  # rows per chunk after a split; a chunk splits at twice that

# (low, low inclusive, high, high inclusive); None = unbounded on that side.
Bounds = tuple[datetime | None, bool, datetime | None, bool]
# A place in the list: (chunk, index in that chunk).
_Place = tuple[int, int]


def _ascending(times: list[int]) -> bool:
    """Whether ``times`` never goes down (in C; ``sorted`` would copy)."""
    return all(map(int.__le__, times, times[1:]))


class TimeList:
    """Rows sorted by ``createdAt`` (ties in arrival order); see the module docstring."""

    __slots__ = ("_chunks", "_firsts", "_len", "_times")

    def __init__(self) -> None:
        self._chunks: list[list[Row]] = []
        self._times: list[array[int]] = []  # each chunk's rows' times, in its order
        self._firsts: list[int] = []  # each chunk's first time
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Row]:
        return chain.from_iterable(self._chunks)

    def add(self, row: Row) -> None:
        at = created_us(row)
        chunks = self._chunks
        if not chunks:
            chunks.append([row])
            self._times.append(array("q", (at,)))
            self._firsts.append(at)
        else:
            # The last chunk starting at or before ``at`` (the first chunk if none does).
            which = max(bisect_right(self._firsts, at) - 1, 0)
            chunk, times = chunks[which], self._times[which]
            if times[-1] <= at:
                chunk.append(row)  # in time order: the common case
                times.append(at)
            else:
                index = bisect_right(times, at)
                chunk.insert(index, row)
                times.insert(index, at)
                if index == 0:  # only the first chunk starts after a time it takes
                    self._firsts[0] = at
            if len(chunk) >= 2 * CHUNK:
                self._split(which)
        self._len += 1

    def extend(self, many: list[Row]) -> None:
        """Add ``many`` in the order given: the same list as ``add`` of each in turn.

        A batch in time order starting at or after the last row held (live events,
        an import in time order) is appended to the last chunk in one go, which is
        then split into chunks of ``CHUNK`` if it reached ``2 * CHUNK``; any other
        batch is added row by row.
        """
        if not many:
            return
        times = list(map(created_us, many))
        chunks = self._chunks
        if not _ascending(times) or (chunks and times[0] < self._times[-1][-1]):
            for row in many:
                self.add(row)
            return
        if not chunks:
            chunks.append([])
            self._times.append(array("q"))
            self._firsts.append(times[0])
        last = chunks[-1]
        last += many
        self._times[-1].extend(times)
        self._len += len(many)
        if len(last) >= 2 * CHUNK:
            self._split(len(chunks) - 1)

    def _split(self, which: int) -> None:
        chunk, times = self._chunks[which], self._times[which]
        starts = range(0, len(chunk), CHUNK)
        self._chunks[which : which + 1] = [chunk[i : i + CHUNK] for i in starts]
        self._times[which : which + 1] = [times[i : i + CHUNK] for i in starts]
        self._firsts[which : which + 1] = [times[i] for i in starts]

    def add_all(self, many: list[Row]) -> None:
        """Add many at once: one stable sort (after the rows held), then slicing into chunks.

        Start-up's rows mostly come in time order already (a snapshot is written in
        order): then the times read to check that are the ones kept, and nothing sorts.
        """
        ordered = [*self, *many]
        keys = list(map(created_us, ordered))  # the rows' own ints: read, not made
        if not _ascending(keys):
            ordered.sort(key=created_us)
            keys = list(map(created_us, ordered))
        times = array("q", keys)
        del keys
        starts = range(0, len(ordered), CHUNK)
        self._chunks = [ordered[i : i + CHUNK] for i in starts]
        self._times = [times[i : i + CHUNK] for i in starts]
        self._firsts = [times[i] for i in starts]
        self._len = len(ordered)

    def _left(self, at: int) -> _Place:
        """Where the first row at or after ``at`` is (or would go)."""
        which = max(bisect_left(self._firsts, at) - 1, 0)
        if not self._chunks:
            return 0, 0
        return which, bisect_left(self._times[which], at)

    def _right(self, at: int) -> _Place:
        """Where the first row after ``at`` is (or would go)."""
        which = max(bisect_right(self._firsts, at) - 1, 0)
        if not self._chunks:
            return 0, 0
        return which, bisect_right(self._times[which], at)

    def replace(self, old: Row, new: Row) -> None:
        """Put ``new`` where ``old`` was (the same time: a retired key). ``old`` must be held."""
        at = created_us(old)
        which, index = self._left(at)
        chunks = self._chunks
        while which < len(chunks):  # along the rows of that time, to ``old`` itself
            chunk = chunks[which]
            if index == len(chunk):
                which, index = which + 1, 0
            elif chunk[index] is old:
                chunk[index] = new
                return
            elif self._times[which][index] != at:
                break
            else:
                index += 1
        raise ValueError("replace: the row is not in the list")

    def _span(self, bounds: Bounds) -> tuple[_Place, _Place]:
        low, low_inclusive, high, high_inclusive = bounds
        start: _Place = (0, 0)
        if low is not None:
            start = self._left(micros(low)) if low_inclusive else self._right(micros(low))
        end: _Place = (len(self._chunks), 0)
        if high is not None:
            end = self._right(micros(high)) if high_inclusive else self._left(micros(high))
        return start, max(start, end)

    def count(self, bounds: Bounds) -> int:
        """How many rows are within ``bounds``: bisects, and a length per chunk spanned."""
        (first, start), (last, end) = self._span(bounds)
        if first == last:
            return end - start
        chunks = self._chunks
        return sum(map(len, chunks[first:last])) - start + end

    def between(self, bounds: Bounds) -> list[Row]:
        """The rows within ``bounds``, in order (a new list)."""
        (first, start), (last, end) = self._span(bounds)
        chunks = self._chunks
        if first == last:
            return chunks[first][start:end] if chunks else []
        found = chunks[first][start:]
        for chunk in chunks[first + 1 : last]:
            found += chunk
        if end:
            found += chunks[last][:end]
        return found

    def iterate(self, bounds: Bounds) -> Iterator[Row]:
        """The rows within ``bounds``, in order, one at a time (the list must not change
        while it is read)."""
        (first, start), (last, end) = self._span(bounds)
        chunks = self._chunks
        if not chunks:
            return
        if first == last:
            yield from chunks[first][start:end]
            return
        yield from chunks[first][start:]
        for chunk in chunks[first + 1 : last]:
            yield from chunk
        if end:
            yield from chunks[last][:end]

    def drop_before(self, cutoff: datetime) -> list[Row]:
        """Remove the rows before ``cutoff``; the removed, in order."""
        which, index = self._left(micros(cutoff))
        chunks, times = self._chunks, self._times
        dropped = [row for chunk in chunks[:which] for row in chunk]
        if index:
            dropped += chunks[which][:index]
            del chunks[which][:index]
            del times[which][:index]
        del chunks[:which]
        del times[:which]
        del self._firsts[:which]
        if chunks and not chunks[0]:
            del chunks[0]
            del times[0]
            del self._firsts[0]
        elif chunks and index:
            self._firsts[0] = times[0][0]
        self._len -= len(dropped)
        return dropped
