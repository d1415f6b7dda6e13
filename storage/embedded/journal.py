"""Durability for the embedded store: a snapshot plus an append-only journal of BSON records.

Every write is appended to ``events.journal`` with one ``write(2)`` per
acknowledged batch, so a killed process (even ``kill -9``) loses nothing the
kernel has accepted; ``fsync`` runs on a timer (``EMBEDDED_FSYNC_SECONDS``, 0 =
on every write) to bound what a power loss could take. At start-up the snapshot
and journal are replayed, then compacted into a new snapshot written to a
temporary file (mode 0600), fsynced and renamed over the old one.

The format of both files::

    file   = magic (4 bytes: b"\\x89SAS" snapshot, b"\\x89SAJ" journal)
             version (uint32 LE) frame*
    frame  = FRAME_MARK (4 bytes) length (uint32 LE) crc (uint32 LE) payload
    crc    = CRC-32 (zlib) of the length bytes and the payload
    payload = version 1 (journals and snapshots of older servers): one BSON document
            | version 2 (journals): either one BSON document (a ``retire`` or
              ``purge`` record), or ``ROWS_TAG`` (4 zero bytes, which no BSON
              document starts with: its length is at least 5) then one inserted
              batch as rows (``storage.embedded.rows``), pickled like a snapshot's
              chunk, read back as the record ``{"op": "insert", "docs": rows}``
            | version 3 (snapshots): up to ``CHUNK_ROWS`` events as rows
              (``storage.embedded.rows``), pickled; read back by an unpickler that
              builds nothing but rows, their shapes, datetimes and BSON's Int64
            | version 2 (snapshots of older servers): the same, rows of the format
              before (``rows.from_v2``), converted as they are read

The journal writes version 2: a batch of inserted events is the rows the store
keeps anyway, pickled, where version 1 built and encoded a BSON document of the
batch (most of an insert's cost in the store). Version 1 journals are still
read; start-up folds one holding records into the snapshot and starts a version 2
file (never appending new frames to an old file). Each file's version is its own:
a journal's 2 and a snapshot's 2 are different formats.

The mark lets a reader find the next frame after damage with a byte search
(resync) instead of trusting a damaged length; the checksum tells damage from
data. Reading tells three endings apart: a clean end; a *torn tail* (the last
frame starts but is cut short, or the tail is zeros: a write cut off by a
crash, never acknowledged, dropped); and *damage* (bytes that are not a valid
frame, with valid frames after them, or a tail that is not the start of a
frame). The reader never changes a file: what to do about damage is the
store's call (``storage.embedded``). Files without the magic, from before
checksums (plain concatenated BSON), are still read.

Records are idempotent (inserts carry their ``_id``), so a crash between writing
the snapshot and resetting the journal replays harmlessly.
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.int64 import Int64

from core.errors import ConfigError
from storage.embedded import rows
from storage.embedded.rows import Row

# Naive UTC datetimes, as the rest of the storage layer uses.
CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=False)
BSON_VERSION = 1  # a BSON document per frame: journals and snapshots of older servers
JOURNAL_VERSION = 2  # the journal's format: BSON records and batches of rows (1 is still read)
SNAPSHOT_VERSION = 3  # the snapshot's: rows in chunks (versions 1 and 2 are still read)
# Starts a journal frame holding an inserted batch as rows (a BSON document's length is >= 5).
ROWS_TAG = bytes(4)
CHUNK_ROWS = 4096
SNAPSHOT_MAGIC = b"\x89SAS"
JOURNAL_MAGIC = b"\x89SAJ"
# 0xFF and 0xFE never occur in UTF-8, so no string in a record can spell the mark.
FRAME_MARK = b"\xffSF\xfe"
HEADER_BYTES = 8
FRAME_HEADER_BYTES = 12
_MIN_BSON = 5  # an empty document
_BSON_ERRORS = (bson.errors.InvalidBSON, ValueError, OverflowError)


def _newest(magic: bytes) -> int:
    return SNAPSHOT_VERSION if magic == SNAPSHOT_MAGIC else JOURNAL_VERSION


def header(magic: bytes, version: int | None = None) -> bytes:
    """A file's header; by default a journal's current one, a snapshot's of version 1
    (``write_snapshot``)."""
    if version is None:
        version = JOURNAL_VERSION if magic == JOURNAL_MAGIC else BSON_VERSION
    return magic + version.to_bytes(4, "little")


def frame(record: dict[str, Any]) -> bytes:
    return _framed(bson.encode(record))


def rows_frame(batch: Sequence[Row]) -> bytes:
    """The journal frame (version 2) of an inserted batch: ``ROWS_TAG``, the rows pickled."""
    return _framed(ROWS_TAG + pickle.dumps(list(batch), protocol=pickle.HIGHEST_PROTOCOL))


def _framed(payload: bytes) -> bytes:
    length = len(payload).to_bytes(4, "little")
    crc = zlib.crc32(payload, zlib.crc32(length)).to_bytes(4, "little")
    return FRAME_MARK + length + crc + payload


@dataclass
class Scan:
    """What reading one file found. Offsets are byte offsets into the file."""

    path: Path
    size: int = 0
    records: list[tuple[int, Any]] = field(default_factory=list)  # as the transform made them
    legacy: bool = False  # the format without checksums
    version: int = BSON_VERSION  # of the file's header (files without one: 1)
    chunked: bool = False  # records are (offset, list of rows): a version 2 or 3 snapshot
    damaged: list[tuple[int, int]] = field(default_factory=list)  # (offset, bytes skipped)
    torn: int = 0  # bytes of an incomplete last frame, dropped

    @property
    def clean(self) -> bool:
        """Nothing to repair: current format, no damage, no torn tail."""
        return not (self.legacy or self.damaged or self.torn)

    @property
    def skipped_bytes(self) -> int:
        return sum(length for _, length in self.damaged)


class _RowUnpickler(pickle.Unpickler):
    """Builds rows and nothing else: a pickle naming any other callable is refused."""

    _ALLOWED: dict[tuple[str, str], Any] = {  # noqa: RUF012 (read-only)
        ("storage.embedded.rows", "_shape"): rows._shape,
        ("datetime", "datetime"): datetime,
        ("bson.int64", "Int64"): Int64,
    }

    def find_class(self, module: str, name: str) -> Any:
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a row")
        return found


def _bson_record(payload: bytes) -> Any:
    return bson.decode(payload, CODEC)


def _row_chunk_v2(payload: bytes) -> Any:
    chunk = _RowUnpickler(io.BytesIO(payload)).load()
    if not isinstance(chunk, list) or not all(
        isinstance(row, tuple) and row and isinstance(row[-1], rows.Shape) for row in chunk
    ):
        raise ValueError("a snapshot chunk that is not a list of rows")
    return [rows.from_v2(row) for row in chunk]


def _row_chunk(payload: bytes | memoryview) -> Any:
    chunk = _RowUnpickler(io.BytesIO(payload)).load()
    if not isinstance(chunk, list) or not all(
        isinstance(row, tuple)
        and row
        and isinstance(row[-1], rows.Shape)
        and len(row) == row[-1].width
        for row in chunk
    ):
        raise ValueError("a snapshot chunk that is not a list of rows")
    return chunk


def _journal_record(payload: bytes) -> Any:
    """A version 2 journal frame's record: a batch of rows as an insert, or BSON."""
    if payload[:4] == ROWS_TAG:
        return {"op": "insert", "docs": _row_chunk(memoryview(payload)[4:])}
    return _bson_record(payload)


Decode = Callable[[bytes], Any]
_DECODE_ERRORS = (
    *_BSON_ERRORS,
    bson.errors.BSONError,
    pickle.UnpicklingError,
    EOFError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
)


def _frame_at(data: bytes, offset: int, decode: Decode = _bson_record) -> tuple[Any, int] | None:
    """The record of a valid frame at ``offset`` and where it ends; None if there is none."""
    if data[offset : offset + 4] != FRAME_MARK or offset + FRAME_HEADER_BYTES > len(data):
        return None
    length_bytes = data[offset + 4 : offset + 8]
    length = int.from_bytes(length_bytes, "little")
    start = offset + FRAME_HEADER_BYTES
    end = start + length
    if length < _MIN_BSON or end > len(data):
        return None
    payload = data[start:end]
    crc = int.from_bytes(data[offset + 8 : offset + 12], "little")
    if zlib.crc32(payload, zlib.crc32(length_bytes)) != crc:
        return None
    try:
        return decode(payload), end
    except _DECODE_ERRORS:  # checksum right, content unreadable: a writer bug; damage all the same
        return None


def _resync(data: bytes, start: int, decode: Decode) -> int | None:
    """The offset of the next valid frame at or after ``start``."""
    at = data.find(FRAME_MARK, start)
    while at != -1:
        if _frame_at(data, at, decode) is not None:
            return at
        at = data.find(FRAME_MARK, at + 1)
    return None


def _is_torn(rest: bytes) -> bool:
    """Whether ``rest`` (the bytes after the last valid frame) is a frame cut short."""
    if not rest.strip(b"\0"):
        return True  # space the file system allocated for a write that never landed
    if not (rest.startswith(FRAME_MARK) or FRAME_MARK.startswith(rest)):
        return False
    if len(rest) < FRAME_HEADER_BYTES:
        return True
    return FRAME_HEADER_BYTES + int.from_bytes(rest[4:8], "little") > len(rest)


def _looks_legacy(data: bytes) -> bool:
    length = int.from_bytes(data[:4], "little")
    if not _MIN_BSON <= length <= len(data):
        return False
    try:
        bson.decode(data[:length], CODEC)
    except _BSON_ERRORS:
        return False
    return True


Record = dict[str, Any]
# What a scan keeps of each decoded record (the store keeps loadable events as rows).
Transform = Callable[[Record], Any]


def _as_read(record: Record) -> Any:
    return record


def _scan_legacy(data: bytes, scan: Scan, transform: Transform) -> Scan:
    """Concatenated BSON without checksums: read up to the first unreadable record."""
    scan.legacy = True
    offset = 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "little")
        end = offset + length
        if end > len(data) or len(data) - offset < 4:
            scan.torn = len(data) - offset
            break
        try:
            record = bson.decode(data[offset:end], CODEC) if length >= _MIN_BSON else None
        except _BSON_ERRORS:
            record = None
        if record is None:  # no checksums, no marks: nothing after this can be trusted
            scan.damaged.append((offset, len(data) - offset))
            break
        scan.records.append((offset, transform(record)))
        offset = end
    return scan


def scan(path: Path, magic: bytes, *, tail_may_tear: bool, transform: Transform = _as_read) -> Scan:
    """Read every valid record in ``path`` (missing = empty), noting damage and a torn tail.

    ``tail_may_tear`` is False for a file only ever replaced whole (the
    snapshot): there an incomplete tail is damage too. A file stamped with
    another format version is refused (ConfigError): it was written by a newer
    server, and guessing could lose its data. Each record is kept as
    ``transform`` returns it, as soon as it is decoded: what the decoder made
    is not held for the whole file.
    """
    found = _scan(path, magic, transform)
    if found.torn and not tail_may_tear:
        found.damaged.append((found.size - found.torn, found.torn))
        found.torn = 0
    return found


def _scan(path: Path, magic: bytes, transform: Transform) -> Scan:
    found = Scan(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return found
    found.size = len(data)
    newest = _newest(magic)
    decode: Decode = _bson_record
    if data.startswith(magic) and len(data) >= HEADER_BYTES:
        version = int.from_bytes(data[4:HEADER_BYTES], "little")
        if not BSON_VERSION <= version <= newest:
            raise ConfigError(
                f"{path} is in format version {version}; "
                f"this server reads version {newest} and older"
            )
        found.version = version
        if magic == SNAPSHOT_MAGIC and version > BSON_VERSION:
            decode = _row_chunk if version == SNAPSHOT_VERSION else _row_chunk_v2
            found.chunked = True
        elif magic == JOURNAL_MAGIC and version == JOURNAL_VERSION:
            decode = _journal_record
        offset = HEADER_BYTES
    elif len(data) < HEADER_BYTES and header(magic, newest).startswith(data):
        found.torn = len(data)  # a header cut short: the file was new
        return found
    elif _looks_legacy(data):
        return _scan_legacy(data, found, transform)
    else:
        offset = 0  # a damaged header counts as damage at offset 0
    keep = _as_read if found.chunked else transform  # chunks are rows already
    while offset < len(data):
        valid = _frame_at(data, offset, decode)
        if valid is not None:
            found.records.append((offset, keep(valid[0])))
            offset = valid[1]
            continue
        following = _resync(data, offset + 1, decode)
        if following is None:
            if _is_torn(data[offset:]):
                found.torn = len(data) - offset
            else:
                found.damaged.append((offset, len(data) - offset))
            break
        found.damaged.append((offset, following - offset))
        offset = following
    return found


def _reads_current_header(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(HEADER_BYTES) == header(JOURNAL_MAGIC)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_snapshot(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """A version 1 snapshot (a BSON document per frame), as servers before rows wrote."""
    _replace(path, header(SNAPSHOT_MAGIC), (frame(record) for record in records))


def write_rows(path: Path, events: Sequence[Row]) -> None:
    """The snapshot of ``events``: chunks of ``CHUNK_ROWS`` rows, pickled (version 3).

    A shape, and a string shared by a chunk's rows, is written once per chunk
    (pickle's memo), so a chunk is read back with its sharing in place.
    """
    chunks = (
        _framed(pickle.dumps(list(events[i : i + CHUNK_ROWS]), protocol=pickle.HIGHEST_PROTOCOL))
        for i in range(0, len(events), CHUNK_ROWS)
    )
    _replace(path, header(SNAPSHOT_MAGIC, SNAPSHOT_VERSION), chunks)


def _replace(path: Path, head: bytes, frames: Iterable[bytes]) -> None:
    """Atomically replace ``path``: temp file (0600), fsync, rename, fsync dir."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask, and a stale temp file's mode
    with os.fdopen(fd, "wb") as handle:
        handle.write(head)
        for framed in frames:
            handle.write(framed)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def set_aside(path: Path, *, now: datetime | None = None, keep: bool = False) -> Path:
    """Preserve damaged ``path`` as ``<name>.corrupt-<UTC time>`` (never over an older one).

    ``keep=False`` renames it; ``keep=True`` leaves ``path`` in place and adds a
    hard link (a copy where links fail), for a file about to be replaced by an
    atomic rename, so that a crash in between loses nothing.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = f"{path.name}.corrupt-{stamp}"
    target = path.with_name(base)
    suffix = 1
    while target.exists():  # the DATA_DIR lock keeps other servers out of this race
        suffix += 1
        target = path.with_name(f"{base}-{suffix}")
    if not keep:
        os.rename(path, target)
    else:
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
            os.chmod(target, 0o600)
    _fsync_dir(path.parent)
    return target


class Journal:
    """Append-only file of checksummed frames, version 2 (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._dirty = False
        self.size = os.fstat(self._fd).st_size  # bytes in the file
        # Frames are only ever appended to a file of the current version: an older
        # one (recovery resets it once its records are in the snapshot) must be reset.
        self._current = self.size == 0 or _reads_current_header(self.path)
        if self.size == 0:
            self._write(header(JOURNAL_MAGIC))
            os.fsync(self._fd)

    def _write(self, data: bytes) -> None:
        written = os.write(self._fd, data)
        while written < len(data):  # regular files rarely short-write; be exact anyway
            written += os.write(self._fd, data[written:])
        self.size += len(data)

    def rotate(self, aside: Path) -> None:
        """Move the file to ``aside`` (synced) and go on in a new, empty one."""
        os.fsync(self._fd)
        os.close(self._fd)
        os.rename(self.path, aside)
        self._open()
        _fsync_dir(self.path.parent)

    def append(
        self, records: Sequence[dict[str, Any]], *, fsync: bool, rows: Sequence[Row] = ()
    ) -> None:
        """Append ``records`` (BSON frames), then ``rows`` (an inserted batch, one frame of
        rows) if any, in one ``write(2)``: one acknowledged batch, one write."""
        if not self._current:
            raise RuntimeError(f"{self.path} is in an older format: reset it before appending")
        frames = [frame(record) for record in records]
        if rows:
            frames.append(rows_frame(rows))
        self._write(b"".join(frames))
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
        self.size = 0
        self._write(header(JOURNAL_MAGIC))
        self._current = True
        os.fsync(self._fd)
        self._dirty = False

    def close(self) -> None:
        self.sync()
        os.close(self._fd)
