"""The file format of the embedded store: frames, checksums, resync, torn tails, old files.

Records here are ``{"n": i}``: 12 bytes of BSON (4 length, 1 type, "n\\0", an
int32, 1 terminator), so a frame is 24 bytes (12 of mark, length, CRC) and,
after the 8-byte header, frames start at 8, 32, 56, 80, 104.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import pytest

from core.errors import ConfigError
from storage.embedded.journal import (
    FRAME_MARK,
    JOURNAL_MAGIC,
    SNAPSHOT_MAGIC,
    Journal,
    frame,
    header,
    scan,
    set_aside,
    write_snapshot,
)
from tests.conftest import record_writes

OFFSETS = [8, 32, 56, 80, 104]
SIZE = 128


def records(*numbers: int) -> list[dict[str, Any]]:
    return [{"n": n} for n in numbers]


def found(path: Path, *, tail_may_tear: bool = True) -> tuple[list[tuple[int, int]], Any]:
    """(offset, n) of every record read, and the scan."""
    result = scan(path, JOURNAL_MAGIC, tail_may_tear=tail_may_tear)
    return [(offset, record["n"]) for offset, record in result.records], result


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A journal of five records, n = 0..4, appended one batch each."""
    path = tmp_path / "events.journal"
    writer = Journal(path)
    for record in records(0, 1, 2, 3, 4):
        writer.append([record], fsync=False)
    writer.close()
    assert path.stat().st_size == SIZE
    return path


def edit(path: Path, at: int, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[at : at + len(value)] = value
    path.write_bytes(bytes(data))


def test_a_frame_is_mark_length_crc_payload() -> None:
    data = frame({"n": 7})
    assert len(data) == 24
    assert data[:4] == FRAME_MARK
    assert data[4:8] == (12).to_bytes(4, "little")
    assert data[12:] == bson.encode({"n": 7})
    assert header(JOURNAL_MAGIC) == b"\x89SAJ\x02\x00\x00\x00"  # version 2 (rows frames)


def test_records_come_back_with_their_offsets(journal: Path) -> None:
    read, result = found(journal)
    assert read == list(zip(OFFSETS, range(5), strict=True))
    assert result.clean and result.size == SIZE


def test_one_write_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = Journal(tmp_path / "events.journal")
    writes = record_writes(monkeypatch)
    writer.append(records(0, 1, 2), fsync=True)
    writer.close()
    assert [len(data) for data in writes] == [72]


@pytest.mark.parametrize(
    "at", [56, 56 + 5, 56 + 9, 56 + 12 + 7], ids=["mark", "length", "crc", "payload"]
)
def test_a_flipped_byte_in_the_middle_loses_that_record_only(journal: Path, at: int) -> None:
    data = journal.read_bytes()
    edit(journal, at, bytes([data[at] ^ 0x40]))
    read, result = found(journal)
    assert read == [(8, 0), (32, 1), (80, 3), (104, 4)]
    assert result.damaged == [(56, 24)]
    assert result.torn == 0


def test_a_huge_length_in_the_middle_is_damage_not_a_torn_tail(journal: Path) -> None:
    edit(journal, 56 + 4, (0xFFFFFF00).to_bytes(4, "little"))
    read, result = found(journal)
    assert read == [(8, 0), (32, 1), (80, 3), (104, 4)]
    assert (result.damaged, result.torn) == ([(56, 24)], 0)


@pytest.mark.parametrize("cut", [1, 4, 11, 12, 23])
def test_a_torn_tail_is_dropped_not_reported_as_damage(journal: Path, cut: int) -> None:
    journal.write_bytes(journal.read_bytes() + frame({"n": 5})[:cut])
    read, result = found(journal)
    assert [n for _, n in read] == [0, 1, 2, 3, 4]
    assert (result.damaged, result.torn) == ([], cut)


def test_a_zero_filled_tail_is_torn(journal: Path) -> None:
    journal.write_bytes(journal.read_bytes() + bytes(100))
    _, result = found(journal)
    assert (result.damaged, result.torn) == ([], 100)


def test_garbage_appended_is_damage(journal: Path) -> None:
    journal.write_bytes(journal.read_bytes() + b"not a frame at all")
    read, result = found(journal)
    assert len(read) == 5
    assert (result.damaged, result.torn) == ([(SIZE, 18)], 0)


def test_a_complete_last_frame_with_a_bad_checksum_is_damage(journal: Path) -> None:
    edit(journal, 104 + 12 + 7, b"\x09")
    read, result = found(journal)
    assert [n for _, n in read] == [0, 1, 2, 3]
    assert (result.damaged, result.torn) == ([(104, 24)], 0)


def test_a_damaged_header_is_damage_at_offset_zero(journal: Path) -> None:
    edit(journal, 1, b"X")
    read, result = found(journal)
    assert len(read) == 5
    assert result.damaged == [(0, 8)]


def test_empty_missing_and_half_written_files(tmp_path: Path) -> None:
    missing = scan(tmp_path / "missing", JOURNAL_MAGIC, tail_may_tear=True)
    (tmp_path / "empty").write_bytes(b"")
    empty = scan(tmp_path / "empty", JOURNAL_MAGIC, tail_may_tear=True)
    (tmp_path / "half").write_bytes(b"\x89SA")
    half = scan(tmp_path / "half", JOURNAL_MAGIC, tail_may_tear=True)
    assert (missing.records, missing.clean, missing.size) == ([], True, 0)
    assert (empty.records, empty.clean, empty.size) == ([], True, 0)
    assert (half.records, half.torn, half.damaged) == ([], 3, [])


def test_a_file_that_may_not_tear_reports_a_cut_tail_as_damage(journal: Path) -> None:
    journal.write_bytes(journal.read_bytes() + frame({"n": 5})[:10])
    _, result = found(journal, tail_may_tear=False)
    assert (result.damaged, result.torn) == ([(SIZE, 10)], 0)


def test_a_newer_format_version_is_refused(journal: Path) -> None:
    edit(journal, 4, (3).to_bytes(4, "little"))
    with pytest.raises(ConfigError, match=r"events\.journal is in format version 3; .* version 2"):
        scan(journal, JOURNAL_MAGIC, tail_may_tear=True)


def test_old_files_without_checksums_are_read(tmp_path: Path) -> None:
    path = tmp_path / "old"
    old = b"".join(bson.encode(r) for r in records(0, 1, 2))
    path.write_bytes(old + bson.encode({"n": 3})[:5])
    read, result = found(path)
    assert read == [(0, 0), (12, 1), (24, 2)]
    assert (result.legacy, result.torn, result.damaged) == (True, 5, [])
    path.write_bytes(old[:12] + b"\x0c\x00\x00\x00\xee" + old[17:])  # type byte 0xee: not BSON
    read, result = found(path)
    assert read == [(0, 0)]
    assert result.damaged == [(12, 24)]  # without checksums nothing after it can be trusted


def test_snapshot_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "events.snapshot"
    stale = tmp_path / "events.snapshot.tmp"
    stale.write_bytes(b"left by a crash")
    stale.chmod(0o644)
    previous = os.umask(0)
    try:
        write_snapshot(path, records(0, 1))
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not stale.exists()
    result = scan(path, SNAPSHOT_MAGIC, tail_may_tear=False)
    assert [r["n"] for _, r in result.records] == [0, 1] and result.clean


def test_set_aside_never_overwrites(journal: Path) -> None:
    original = journal.read_bytes()
    at = datetime(2026, 6, 15, 12, 0, 1, tzinfo=UTC)
    first = set_aside(journal, now=at, keep=True)
    second = set_aside(journal, now=at)
    assert first.name == "events.journal.corrupt-20260615T120001Z"
    assert second.name == "events.journal.corrupt-20260615T120001Z-2"
    assert not journal.exists()
    assert first.read_bytes() == second.read_bytes() == original


def test_reset_leaves_only_the_header(journal: Path) -> None:
    writer = Journal(journal)
    writer.reset()
    writer.append(records(9), fsync=True)
    writer.close()
    assert found(journal)[0] == [(8, 9)]
