"""Durability for the embedded store: a snapshot plus an append-only journal of BSON records.

Every write is appended to ``events.journal`` with one ``write(2)`` before the
write is acknowledged, so a killed process (even ``kill -9``) loses nothing the
kernel has accepted; ``fsync`` runs on a timer (``EMBEDDED_FSYNC_SECONDS``, 0 =
on every write) to bound what a power loss could take. At start-up the snapshot
and journal are replayed, then compacted into a new snapshot written to a
temporary file, fsynced and renamed over the old one.

Records are idempotent (inserts carry their ``_id``), so a crash between writing
the snapshot and truncating the journal replays harmlessly. A torn record at the
journal's tail (a crash mid-write) is cut off; it was never acknowledged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions

log = logging.getLogger(__name__)

# Naive UTC datetimes, as the rest of the storage layer uses.
CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=False)
_LENGTH_BYTES = 4


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the complete BSON records in ``path``; truncate a torn tail in place."""
    if not path.exists():
        return
    with path.open("rb+") as handle:
        data = handle.read()
        offset = 0
        while offset + _LENGTH_BYTES <= len(data):
            length = int.from_bytes(data[offset : offset + _LENGTH_BYTES], "little")
            end = offset + length
            if length < 5 or end > len(data):
                break
            try:
                record = bson.decode(data[offset:end], CODEC)
            except bson.errors.InvalidBSON:
                break
            yield record
            offset = end
        if offset != len(data):
            log.warning("%s: dropping %d bytes of a torn record", path, len(data) - offset)
            handle.truncate(offset)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_snapshot(path: Path, records: Iterator[dict[str, Any]]) -> None:
    """Atomically replace ``path`` with ``records``: temp file, fsync, rename, fsync dir."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("wb") as handle:
        for record in records:
            handle.write(bson.encode(record))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


class Journal:
    """Append-only file of BSON records."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._dirty = False

    def append(self, record: dict[str, Any], *, fsync: bool) -> None:
        data = bson.encode(record)
        written = os.write(self._fd, data)
        while written < len(data):  # regular files rarely short-write; be exact anyway
            written += os.write(self._fd, data[written:])
        if fsync:
            os.fsync(self._fd)
        else:
            self._dirty = True

    def sync(self) -> None:
        if self._dirty:
            self._dirty = False
            os.fsync(self._fd)

    def reset(self) -> None:
        """Empty the journal (after its records went into a snapshot)."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._dirty = False

    def close(self) -> None:
        self.sync()
        os.close(self._fd)
