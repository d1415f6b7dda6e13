"""The in-memory form of a stored event: a row (one tuple), read back as a document.

The embedded store keeps every event until it is purged, so its in-memory form
sets the store's size. A dict of an event's 15 fields costs 464 B; a row holds
only the values that are not null, in the order of its document's keys, then its
*shape*: the keys, which of them are null, and where the fields the store reads
sit, shared by every row of that shape (a server version writes a few dozen
sets of fields). A shape also holds its rows' tenant and event type, so they take no slot (a
shape per tenant, type and set of fields; past 4,096 of those, new ones are
shared by all tenants and types and the rows hold them). Values are made small:

* strings are interned (equal strings, one object: tenant, type, session,
  product, source, browser, country...), except the idempotency key;
* ``createdAt`` is kept as an int, microseconds since 1970 (32 B instead of a
  datetime's 48 B): the time index sorts and bisects on it, and ``created`` and
  ``as_doc`` rebuild the (naive UTC) datetime;
* ``_id`` and the idempotency key share one bytes object, the *ident*: the 12
  bytes of the ObjectId, then the key: the keys the server derives (``import:`` +
  64 hex digits, ``auto:`` + 32) as a tag byte and their digest's bytes, any
  other key as a tag byte and its UTF-8. An imported event's ident costs 80 B
  and one slot where its ObjectId bytes and key bytes cost 48 B and 80 B and
  two slots (``dedupeKey``'s place in the document comes from the shape). The
  store's key maps confirm a key against the ident (``storage.embedded.store``).

Rows are immutable: retiring a key makes a new row (``with_key``). ``as_doc``
rebuilds the document — same keys, same order, same values and types — for
pipelines, the journal and the snapshot. Rows of snapshot format 2 (a datetime,
the ObjectId bytes and the key each in its own slot) are read with ``from_v2``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from itertools import compress, repeat
from operator import is_not
from typing import Any

from bson import ObjectId

from storage.documents import EventDocument

Row = tuple[Any, ...]

# The key strings of the code itself (already interned by the compiler).
_KEYS: dict[str, str] = {
    key: key for key in EventDocument.__required_keys__ | EventDocument.__optional_keys__
}
# Shapes a table holds; past it each row gets a shape of its own (bigger, still right),
# so hostile or corrupt files cannot grow the table without bound.
_MAX_SHAPES = 4096
# Derived idempotency keys: (prefix, hex digits), the tag being the position.
_DERIVED_KEYS = (("import:", 64), ("auto:", 32))
_TEXT = len(_DERIVED_KEYS)  # the tag of any other key: its UTF-8 follows
_TAGS = tuple(bytes((tag,)) for tag in range(len(_DERIVED_KEYS)))
ID_BYTES = 12  # an ObjectId's, at the start of a row's ident
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def encode_key(key: str) -> bytes:
    """``key`` as an ident keeps it: a tag byte, then a derived key's digest or the UTF-8."""
    for tag, (prefix, digits) in enumerate(_DERIVED_KEYS):
        if len(key) == len(prefix) + digits and key.startswith(prefix):
            hexadecimal = key[len(prefix) :]
            try:
                digest = bytes.fromhex(hexadecimal)
            except ValueError:
                continue
            # fromhex also reads capitals and skips spaces: only what reads back the same.
            if digest.hex() == hexadecimal:
                return _TAGS[tag] + digest
    # surrogatepass: any str round-trips (BSON and ingest never make lone surrogates).
    return bytes((_TEXT,)) + key.encode("utf-8", "surrogatepass")


def decode_key(key: bytes) -> str:
    tag = key[0]
    if tag == _TEXT:
        return key[1:].decode("utf-8", "surrogatepass")
    return _DERIVED_KEYS[tag][0] + key[1:].hex()


def micros(at: datetime) -> int:
    """``at`` as a row keeps it: microseconds since 1970 (naive UTC; an aware time converted)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return (at - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class Shape:
    """A row's document keys, which are null, and where the fields the store reads sit.

    A shape may also hold its rows' tenant and event type (``tenant_value``,
    ``type_value``): then they take no slot in the row.
    """

    __slots__ = (
        "created",
        "event_type",
        "ident",
        "keys",
        "pattern",
        "present",
        "stored",
        "template",
        "tenant",
        "tenant_value",
        "type_value",
        "width",
    )

    def __init__(
        self,
        names: tuple[str, ...],
        present: tuple[int, ...],
        tenant: str | None = None,
        event_type: str | None = None,
    ) -> None:
        self.pattern = present
        self.keys = tuple(_KEYS.get(name, name) for name in names)
        self.present = tuple(self.keys[i] for i in present)  # the non-null keys
        if not {"tenantId", "eventType", "dedupeKey"} <= set(self.present):
            raise KeyError("a shape without tenantId, eventType or dedupeKey")
        self.template: dict[str, Any] = dict.fromkeys(self.keys)  # what as_doc starts from
        folded = {"dedupeKey"}  # in the ident
        for name, value in (("tenantId", tenant), ("eventType", event_type)):
            if value is not None:
                if value.__class__ is not str:
                    raise TypeError(f"a shape's {name} that is not a string")
                folded.add(name)
                self.template[name] = sys.intern(value)
        self.tenant_value = self.template["tenantId"]
        self.type_value = self.template["eventType"]
        # What a row's slots hold: the non-null values but those the shape holds.
        self.stored = tuple(name for name in self.present if name not in folded)
        self.width = len(self.stored) + 1  # and the shape
        where = {name: index for index, name in enumerate(self.stored)}
        self.created = where["createdAt"]
        self.ident = where["_id"]
        self.tenant = where.get("tenantId", -1)  # -1: the shape holds it
        self.event_type = where.get("eventType", -1)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled by name: a snapshot's rows come back with the table's own shapes.
        return _shape, (self.keys, self.pattern, self.tenant_value, self.type_value)


ShapeName = tuple[tuple[str, ...], tuple[int, ...], str | None, str | None]
_shapes: dict[ShapeName, Shape] = {}  # without a tenant and type
_folded: dict[ShapeName, Shape] = {}  # with them
_MAX_FOLDED = _MAX_SHAPES


def _shape(
    names: tuple[str, ...],
    present: tuple[int, ...],
    tenant: str | None = None,
    event_type: str | None = None,
) -> Shape:
    """The table's shape of that name (a new one, not kept, once its table is full)."""
    table = _shapes if tenant is None and event_type is None else _folded
    shape = table.get((names, present, tenant, event_type))
    if shape is None:
        shape = Shape(names, present, tenant, event_type)
        if len(table) < (_MAX_SHAPES if table is _shapes else _MAX_FOLDED):
            table[(names, present, tenant, event_type)] = shape
    return shape


def _shape_for(
    names: tuple[str, ...], present: tuple[int, ...], tenant: str | None, event_type: str | None
) -> Shape:
    """A shape holding ``tenant`` and ``event_type``, or one without them once those are
    too many to keep (many tenants times many types: rows then hold them)."""
    if tenant is None or event_type is None:
        return _shape(names, present)
    if len(_folded) < _MAX_FOLDED or (names, present, tenant, event_type) in _folded:
        return _shape(names, present, tenant, event_type)
    return _shape(names, present)


# (keys, which values are set, tenant, type) -> (shape, which values take a slot):
# what to_row looks up for every event.
_MAX_PATTERNS = 4 * _MAX_SHAPES
_by_pattern: dict[
    tuple[tuple[str, ...], tuple[bool, ...], str | None, str | None],
    tuple[Shape, tuple[bool, ...]],
] = {}


def to_row(doc: dict[str, Any], key: bytes | None = None) -> Row:
    """``doc`` as a row. It must have an ObjectId ``_id``, string ``tenantId``,
    ``eventType`` and ``dedupeKey`` and a datetime ``createdAt``
    (``storage.embedded.recovery.event_problem``). ``key``: ``encode_key(doc["dedupeKey"])``
    when the caller has it already (the store looked the key up with it)."""
    values = list(doc.values())
    pattern = tuple(map(is_not, values, repeat(None)))
    names = tuple(doc)
    tenant, event_type = doc["tenantId"], doc["eventType"]
    if tenant.__class__ is not str or event_type.__class__ is not str:
        tenant = event_type = None  # a str subclass (an enum): the row keeps the very object
    found = _by_pattern.get((names, pattern, tenant, event_type))
    if found is None:
        present = tuple(i for i, kept in enumerate(pattern) if kept)
        shape = _shape_for(names, present, tenant, event_type)
        slotted = set(shape.stored)
        slots = tuple(kept and name in slotted for name, kept in zip(names, pattern, strict=True))
        found = (shape, slots)
        if len(_by_pattern) < _MAX_PATTERNS:
            _by_pattern[(names, pattern, tenant, event_type)] = found
    shape, slots = found
    intern = sys.intern
    row = [intern(value) if value.__class__ is str else value for value in compress(values, slots)]
    # Unique to the event (interning them would only grow the table): one bytes object.
    if key is None:
        key = encode_key(doc["dedupeKey"])
    row[shape.ident] = doc["_id"].binary + key
    row[shape.created] = micros(doc["createdAt"])
    row.append(shape)
    return tuple(row)


def as_doc(row: Row) -> dict[str, Any]:
    """The document ``row`` holds (a new dict each time: callers may keep or change it)."""
    shape: Shape = row[-1]
    doc = shape.template.copy()  # every key, in order, null until set (but those it holds)
    doc.update(zip(shape.stored, row, strict=False))  # zip stops before the shape
    ident: bytes = row[shape.ident]
    doc["_id"] = ObjectId(ident[:ID_BYTES])
    doc["dedupeKey"] = decode_key(ident[ID_BYTES:])
    doc["createdAt"] = _EPOCH + timedelta(microseconds=row[shape.created])
    return doc


def from_v2(row: Row) -> Row:
    """A row of snapshot format 2 (its values in ``present`` order: a datetime
    ``createdAt``, the ObjectId's bytes, the key as encoded then or as given) as a row."""
    shape: Shape = row[-1]
    doc: dict[str, Any] = dict.fromkeys(shape.keys)
    doc.update(zip(shape.present, row, strict=False))
    doc["_id"] = ObjectId(doc["_id"])
    key = doc["dedupeKey"]
    if isinstance(key, bytes):
        doc["dedupeKey"] = _DERIVED_KEYS[key[0]][0] + key[1:].hex()
    return to_row(doc)


def created_us(row: Row) -> int:
    """``createdAt`` as the row keeps it, microseconds since 1970: what the time index sorts by."""
    value: int = row[row[-1].created]
    return value


def created(row: Row) -> datetime:
    return from_micros(created_us(row))


def ident(row: Row) -> bytes:
    """The row's ``_id`` bytes, then its idempotency key as ``encode_key`` makes it."""
    value: bytes = row[row[-1].ident]
    return value


def event_id(row: Row) -> ObjectId:
    return ObjectId(id_bytes(row))


def id_bytes(row: Row) -> bytes:
    """The 12 bytes of the row's ``_id`` (what start-up tells events apart by)."""
    return ident(row)[:ID_BYTES]


def tenant(row: Row) -> str:
    shape: Shape = row[-1]
    value: str = shape.tenant_value
    return value if value is not None else row[shape.tenant]


def event_type(row: Row) -> str:
    shape: Shape = row[-1]
    value: str = shape.type_value
    return value if value is not None else row[shape.event_type]


def stored_key(row: Row) -> bytes:
    """The idempotency key as ``encode_key`` makes it (what the store's key maps compare)."""
    return ident(row)[ID_BYTES:]


def dedupe_key(row: Row) -> str:
    return decode_key(stored_key(row))


def with_key(row: Row, key: str) -> Row:
    """``row`` with its idempotency key replaced (a retired live key)."""
    values = list(row)
    at = row[-1].ident
    values[at] = row[at][:ID_BYTES] + encode_key(key)
    return tuple(values)
