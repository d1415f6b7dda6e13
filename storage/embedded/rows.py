"""The in-memory form of a stored event: a row (one tuple), read back as a document.

The embedded store keeps every event until it is purged, so its in-memory form
sets the store's size. A dict of an event's 15 fields costs 464 B; a row holds
only the values that are not null, in the order of its document's keys, then its
*shape*: the keys, which of them are null, and where the fields the store reads
sit, shared by every row of that shape (a server version writes a few dozen).
Values are made small:

* strings are interned (equal strings, one object: tenant, type, session,
  product, source, browser, country...), except the idempotency key;
* the idempotency keys the server derives (``import:`` + 64 hex digits, ``auto:``
  + 32) are kept as their bytes (66 B instead of 120 B); a client's own key as given;
* ``_id`` is kept as its 12 bytes (45 B instead of an ObjectId's 85 B).

Rows are immutable: retiring a key makes a new row (``with_key``). ``as_doc``
rebuilds the document — same keys, same order, same values — for pipelines, the
journal and the snapshot.
"""

from __future__ import annotations

import sys
from datetime import datetime
from itertools import compress, repeat
from operator import is_not
from typing import Any

from bson import ObjectId

from storage.documents import EventDocument

Row = tuple[Any, ...]
Key = str | bytes  # an idempotency key as a row keeps it

# The key strings of the code itself (already interned by the compiler).
_KEYS: dict[str, str] = {
    key: key for key in EventDocument.__required_keys__ | EventDocument.__optional_keys__
}
# Shapes a table holds; past it each row gets a shape of its own (bigger, still right),
# so hostile or corrupt files cannot grow the table without bound.
_MAX_SHAPES = 4096
# Derived idempotency keys: (prefix, hex digits), the tag being the position.
_DERIVED_KEYS = (("import:", 64), ("auto:", 32))
_HEX = frozenset("0123456789abcdef")


def encode_key(key: str) -> Key:
    """``key`` as a row keeps it: a derived key as a tag byte and its digest's bytes."""
    for tag, (prefix, digits) in enumerate(_DERIVED_KEYS):
        if len(key) == len(prefix) + digits and key.startswith(prefix):
            hexadecimal = key[len(prefix) :]
            if _HEX.issuperset(hexadecimal):
                return bytes((tag,)) + bytes.fromhex(hexadecimal)
    return key


def decode_key(key: Key) -> str:
    if isinstance(key, str):
        return key
    return _DERIVED_KEYS[key[0]][0] + key[1:].hex()


class Shape:
    """A row's document keys, which are null, and where the fields the store reads sit."""

    __slots__ = (
        "created",
        "dedupe",
        "event_id",
        "event_type",
        "keys",
        "pattern",
        "present",
        "tenant",
    )

    def __init__(self, names: tuple[str, ...], present: tuple[int, ...]) -> None:
        self.pattern = present
        self.keys = tuple(_KEYS.get(name, name) for name in names)
        self.present = tuple(self.keys[i] for i in present)
        where = {name: index for index, name in enumerate(self.present)}
        self.created = where["createdAt"]
        self.event_id = where["_id"]
        self.tenant = where["tenantId"]
        self.event_type = where["eventType"]
        self.dedupe = where["dedupeKey"]

    def __reduce__(self) -> tuple[Any, tuple[tuple[str, ...], tuple[int, ...]]]:
        # Pickled by name: a snapshot's rows come back with the table's own shapes.
        return _shape, (self.keys, self.pattern)


_shapes: dict[tuple[tuple[str, ...], tuple[int, ...]], Shape] = {}


def _shape(names: tuple[str, ...], present: tuple[int, ...]) -> Shape:
    shape = _shapes.get((names, present))
    if shape is None:
        shape = Shape(names, present)
        if len(_shapes) < _MAX_SHAPES:
            _shapes[(names, present)] = shape
    return shape


# (keys, which values are set) -> shape: what to_row looks up for every event.
_by_pattern: dict[tuple[tuple[str, ...], tuple[bool, ...]], Shape] = {}


def to_row(doc: dict[str, Any]) -> Row:
    """``doc`` as a row. It must have an ObjectId ``_id``, string ``tenantId``,
    ``eventType`` and ``dedupeKey`` and a datetime ``createdAt``
    (``storage.embedded.recovery.event_problem``)."""
    values = list(doc.values())
    pattern = tuple(map(is_not, values, repeat(None)))
    names = tuple(doc)
    shape = _by_pattern.get((names, pattern))
    if shape is None:
        shape = _shape(names, tuple(i for i, kept in enumerate(pattern) if kept))
        if len(_by_pattern) < _MAX_SHAPES:
            _by_pattern[(names, pattern)] = shape
    intern = sys.intern
    row = [
        intern(value) if value.__class__ is str else value for value in compress(values, pattern)
    ]
    # Unique to the event (interning them would only grow the table): as bytes.
    row[shape.event_id] = doc["_id"].binary
    row[shape.dedupe] = encode_key(doc["dedupeKey"])
    row.append(shape)
    return tuple(row)


def as_doc(row: Row) -> dict[str, Any]:
    """The document ``row`` holds (a new dict each time: callers may keep or change it)."""
    shape: Shape = row[-1]
    doc: dict[str, Any] = dict.fromkeys(shape.keys)  # every key, in order, null until set
    doc.update(zip(shape.present, row, strict=False))  # zip stops before the shape
    doc["_id"] = ObjectId(row[shape.event_id])
    doc["dedupeKey"] = decode_key(row[shape.dedupe])
    return doc


def created(row: Row) -> datetime:
    value: datetime = row[row[-1].created]
    return value


def event_id(row: Row) -> ObjectId:
    return ObjectId(id_bytes(row))


def id_bytes(row: Row) -> bytes:
    """The 12 bytes of the row's ``_id`` (what start-up tells events apart by)."""
    value: bytes = row[row[-1].event_id]
    return value


def tenant(row: Row) -> str:
    value: str = row[row[-1].tenant]
    return value


def event_type(row: Row) -> str:
    value: str = row[row[-1].event_type]
    return value


def stored_key(row: Row) -> Key:
    """The idempotency key as the row keeps it (what the store's key maps are keyed by)."""
    value: Key = row[row[-1].dedupe]
    return value


def dedupe_key(row: Row) -> str:
    return decode_key(stored_key(row))


def with_key(row: Row, key: str) -> Row:
    """``row`` with its idempotency key replaced (a retired live key)."""
    values = list(row)
    values[row[-1].dedupe] = encode_key(key)
    return tuple(values)
