"""The in-memory form of a stored event: a row (one tuple), read back as a document.

The embedded store keeps every event until it is purged, so its in-memory form
sets the store's size. A dict of an event's 15 fields costs 464 B; the same values
in a tuple cost 184 B. A row holds the values in the order of its document's keys,
then its *shape*: the keys themselves and where the fields the store reads sit,
shared by every row of that shape (a server version writes a handful). Its string
values are interned (equal strings, one object: tenant, type, session, product,
source, browser, country...), except the idempotency key, unique to its event.

Rows are immutable: retiring a key makes a new row (``with_key``). ``as_doc``
rebuilds the document — same keys, same order, same values — for pipelines, the
journal and the snapshot.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from bson import ObjectId

from storage.documents import EventDocument

Row = tuple[Any, ...]

# The key strings of the code itself (already interned by the compiler).
_KEYS: dict[str, str] = {
    key: key for key in EventDocument.__required_keys__ | EventDocument.__optional_keys__
}
# Values unique to one event: interning them would only grow the table.
_UNIQUE = frozenset({"dedupeKey"})
_MAX_SHAPES = 256  # hostile or corrupt files cannot grow the table without bound


class Shape:
    """The keys of a row's document, and the positions of the fields the store reads."""

    __slots__ = ("created", "dedupe", "event_id", "event_type", "keys", "shared", "tenant")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.keys = tuple(_KEYS.get(name, name) for name in names)
        where = {name: index for index, name in enumerate(names)}
        self.created = where["createdAt"]
        self.event_id = where["_id"]
        self.tenant = where["tenantId"]
        self.event_type = where["eventType"]
        self.dedupe = where["dedupeKey"]
        self.shared = tuple(i for i, name in enumerate(names) if name not in _UNIQUE)


_shapes: dict[tuple[str, ...], Shape] = {}


def _shape(names: tuple[str, ...]) -> Shape:
    shape = _shapes.get(names)
    if shape is None:
        shape = Shape(names)
        if len(_shapes) < _MAX_SHAPES:
            _shapes[names] = shape
    return shape


def to_row(doc: dict[str, Any]) -> Row:
    """``doc`` as a row. It must have ``_id``, ``tenantId``, ``eventType``,
    ``dedupeKey`` and ``createdAt`` (``storage.embedded.recovery.event_problem``)."""
    shape = _shape(tuple(doc))
    values = list(doc.values())
    intern = sys.intern
    for i in shape.shared:
        value = values[i]
        if value.__class__ is str:
            values[i] = intern(value)
    values.append(shape)
    return tuple(values)


def as_doc(row: Row) -> dict[str, Any]:
    """The document ``row`` holds (a new dict each time: callers may keep or change it)."""
    # The keys are one fewer than the row: zip stops before the shape.
    return dict(zip(row[-1].keys, row, strict=False))


def created(row: Row) -> datetime:
    value: datetime = row[row[-1].created]
    return value


def event_id(row: Row) -> ObjectId:
    value: ObjectId = row[row[-1].event_id]
    return value


def tenant(row: Row) -> str:
    value: str = row[row[-1].tenant]
    return value


def event_type(row: Row) -> str:
    value: str = row[row[-1].event_type]
    return value


def dedupe_key(row: Row) -> str:
    value: str = row[row[-1].dedupe]
    return value


def with_key(row: Row, key: str) -> Row:
    """``row`` with its idempotency key replaced (a retired live key)."""
    values = list(row)
    values[row[-1].dedupe] = key
    return tuple(values)
