"""Start-up of the embedded store: replay what is readable, keep the rest aside, say so.

The snapshot and the journal (``storage.embedded.journal``) are scanned; damaged bytes
are skipped and the valid records after them kept. A well-formed record that
the store cannot use (an insert of a document without ``_id``, ``tenantId``,
``eventType``, ``dedupeKey`` or a datetime ``createdAt``; a ``retire`` or
``purge`` without its fields; an unknown ``op``) is skipped on its own and the
rest replayed. A file that had either is never truncated or deleted: it is
kept as ``<name>.corrupt-<UTC time>`` beside the new files, and the report
names what was recovered, the offsets skipped and where the file went.

Order matters for a crash during recovery: the damaged snapshot is hard-linked
aside before the new snapshot replaces it, and the damaged journal is renamed
only once the new snapshot (holding its replayed records) is safely on disk.

A snapshot that is damaged and yields no usable event at all stops start-up
(ConfigError naming the file): starting empty would look like success.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bson import ObjectId

from core.errors import ConfigError
from storage.embedded import rows
from storage.embedded.journal import (
    JOURNAL_MAGIC,
    JOURNAL_VERSION,
    SNAPSHOT_MAGIC,
    SNAPSHOT_VERSION,
    Journal,
    Scan,
    scan,
    set_aside,
    write_rows,
)
from storage.embedded.rows import Row, to_row

# What loading needs of a stored event: the fields of the indexes and the unique key.
REQUIRED_FIELDS: dict[str, type] = {
    "_id": ObjectId,
    "tenantId": str,
    "eventType": str,
    "dedupeKey": str,
    "createdAt": datetime,
}
LISTED = 10  # offsets named in a report line before "and N more"
COMPACT_SHARE = 4  # compact once the journal is above 1/4 of the snapshot's size
COMPACT_PURGES = 24  # or holds more than a day of hourly purges


@dataclass
class Restored:
    rows: list[Row]  # each event once, in no particular order (the time index sorts)
    journal: Journal  # open, empty unless nothing needed compacting
    report: list[str]  # one line per damaged file: what was done (a warning)
    notes: list[str]  # repairs that lost nothing acknowledged (info)


def event_problem(doc: object) -> str | None:
    """Why ``doc`` cannot be loaded as a stored event; None if it can."""
    if not isinstance(doc, dict):
        return "a document that is not an object"
    for name, kind in REQUIRED_FIELDS.items():
        if name not in doc:
            return f"a document without {name}"
        if not isinstance(doc[name], kind):
            return f"a document whose {name} is not a {kind.__name__}"
    return None


def loadable(doc: object) -> object:
    """A decoded document as a row when it can be loaded, else as it was (to be reported)."""
    return to_row(doc) if event_problem(doc) is None else doc  # type: ignore[arg-type]


def replay(record: dict[str, Any], events: dict[bytes, Row]) -> str | None:
    """Apply one journal record to ``events``; why (part of) it was skipped, or None.

    Inserted documents arrive as rows already (``_rows_of_inserts``), those that
    could not be loaded as they were decoded.
    """
    op = record.get("op")
    if op == "insert":
        batch = record.get("docs")
        if not isinstance(batch, list):
            return "an insert without a list of docs"
        problems: list[str] = []
        for item in batch:
            if isinstance(item, tuple):
                events[rows.id_bytes(item)] = item
            else:
                problems.append(event_problem(item) or "a document that is not an object")
        if problems:
            return f"insert: {len(problems)} of {len(batch)} documents skipped, {problems[0]}"
    elif op == "retire":
        event_id, key = record.get("id"), record.get("key")
        if not isinstance(event_id, ObjectId) or not isinstance(key, str):
            return "a retire without an ObjectId id and a string key"
        row = events.get(event_id.binary)
        if row is not None:
            events[event_id.binary] = rows.with_key(row, key)
    elif op == "purge":
        before = record.get("before")
        if not isinstance(before, datetime):
            return "a purge without a datetime before"
        cutoff = rows.micros(before)
        for event_id in [i for i, row in events.items() if rows.created_us(row) < cutoff]:
            del events[event_id]
    else:
        return f"an unknown op {str(op)[:40]!r}"
    return None


def worth_compacting(snapshot: Scan, journal: Scan) -> bool:
    """Whether to fold a sound journal into a new snapshot at start-up.

    Rewriting the snapshot costs about what reading it does (6 s at 1M events),
    so a restart after a little tracking keeps appending to the journal; once the
    journal is a quarter of the snapshot's size, or holds more purges than a day
    brings (each replayed over every event), start-up compacts it.
    """
    purges = sum(1 for _, record in journal.records if record.get("op") == "purge")
    return journal.size > snapshot.size // COMPACT_SHARE or purges > COMPACT_PURGES


def _rows_of_inserts(record: dict[str, Any]) -> dict[str, Any]:
    """A journal record, with the documents it inserts as rows where they can be loaded."""
    batch = record.get("docs")
    if record.get("op") == "insert" and isinstance(batch, list):
        record["docs"] = [loadable(doc) for doc in batch]
    return record


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:LISTED])
    return shown if len(items) <= LISTED else f"{shown} and {len(items) - LISTED} more"


def damage_report(found: Scan, skipped: Sequence[tuple[int, str]], aside: Path) -> str:
    """One line: what was recovered from damaged ``found``, what was lost, where it went."""
    recovered = _count(len(found.records) - len(skipped), "record")
    parts = [f"{found.path} was damaged: {recovered} recovered"]
    if found.damaged:
        at = [f"offset {offset} ({_count(length, 'byte')})" for offset, length in found.damaged]
        parts.append(f"{_count(found.skipped_bytes, 'byte')} skipped at {_listing(at)}")
    if skipped:
        at = [f"offset {offset} ({problem})" for offset, problem in skipped]
        parts.append(f"{_count(len(skipped), 'malformed record')} skipped at {_listing(at)}")
    parts.append(f"the damaged file is kept as {aside}")
    return "; ".join(parts)


def _notes(found: Scan) -> list[str]:
    """The repairs that lose nothing acknowledged, for the info log."""
    notes = []
    if found.torn:
        notes.append(
            f"{found.path}: dropped an incomplete last record of {found.torn} bytes "
            "(a write cut off by a crash, never acknowledged)"
        )
    if found.legacy:
        notes.append(
            f"{found.path}: read {len(found.records)} records written without checksums; "
            "rewritten in the current format"
        )
    return notes


def rotated(journal_path: Path) -> Path:
    """Where a journal goes while a snapshot is written from the events it holds."""
    return journal_path.with_name(journal_path.name + ".1")


def restore(snapshot_path: Path, journal_path: Path) -> Restored:
    """Load the files, keep damaged ones aside, compact, and open the journal.

    Between the snapshot and the journal there may be a rotated journal: a
    snapshot was being written from its records (``EmbeddedDatabase.compact``)
    when the server stopped. Its records are replayed before the journal's and
    the whole is folded into a new snapshot; replay is idempotent, so whether
    that snapshot was finished or not, nothing is lost or doubled.
    """
    snapshot = scan(snapshot_path, SNAPSHOT_MAGIC, tail_may_tear=False, transform=loadable)
    stored: list[Row] = []
    snapshot_skipped: list[tuple[int, str]] = []
    for offset, item in snapshot.records:
        if snapshot.chunked:  # a chunk of rows (snapshot version 2)
            stored.extend(item)
        elif isinstance(item, tuple):
            stored.append(item)
        else:
            snapshot_skipped.append((offset, event_problem(item) or "not an object"))
    if (snapshot.damaged or snapshot_skipped) and not stored:
        raise ConfigError(
            f"{snapshot_path} is damaged and holds no readable event ({snapshot.size} "
            "bytes); move it out of DATA_DIR to start with an empty store"
        )
    earlier_path = rotated(journal_path)
    earlier = scan(earlier_path, JOURNAL_MAGIC, tail_may_tear=True, transform=_rows_of_inserts)
    journal = scan(journal_path, JOURNAL_MAGIC, tail_may_tear=True, transform=_rows_of_inserts)
    earlier_skipped: list[tuple[int, str]] = []
    journal_skipped: list[tuple[int, str]] = []
    loaded = stored  # a snapshot holds each event once
    if earlier.records or journal.records:
        # By _id: the journal retires keys by it, and after a crash between writing
        # a snapshot and emptying the journal, re-inserts what the snapshot holds.
        events: dict[bytes, Row] = {rows.id_bytes(row): row for row in stored}
        for found, skipped in ((earlier, earlier_skipped), (journal, journal_skipped)):
            for offset, record in found.records:
                problem = replay(record, events)
                if problem is not None:
                    skipped.append((offset, problem))
        loaded = list(events.values())
    folding = earlier_path.exists()

    report: list[str] = []
    if snapshot.damaged or snapshot_skipped:
        aside = set_aside(snapshot_path, keep=True)
        report.append(damage_report(snapshot, snapshot_skipped, aside))
    journal_sound = journal.clean and not journal_skipped
    outdated = snapshot.version < SNAPSHOT_VERSION and bool(stored)
    # A journal of an older format is never appended to: its records go into the
    # snapshot, and it starts again in the current format.
    old_journal = journal.size > 0 and journal.version < JOURNAL_VERSION
    if (
        not snapshot.clean
        or snapshot_skipped
        or not journal_sound
        or outdated
        or folding
        or (old_journal and bool(journal.records))
    ):
        compacted = True
    else:
        compacted = bool(journal.records) and worth_compacting(snapshot, journal)
    if compacted:
        write_rows(snapshot_path, loaded)
    if folding:  # only now that the snapshot holds its records
        if earlier.damaged or earlier_skipped:
            report.append(damage_report(earlier, earlier_skipped, set_aside(earlier_path)))
        else:
            earlier_path.unlink()
    reset = (compacted and bool(journal.records)) or not journal.clean or old_journal
    if journal.damaged or journal_skipped:
        aside = set_aside(journal_path)  # Journal() below starts a new file
        report.append(damage_report(journal, journal_skipped, aside))
        reset = False
    opened = Journal(journal_path)
    if reset:
        opened.reset()
    notes = _notes(snapshot) + _notes(earlier) + _notes(journal)
    return Restored(loaded, opened, report, notes)
