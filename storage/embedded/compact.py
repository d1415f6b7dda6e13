"""One copy of what many stored events repeat.

A document decoded from the snapshot or journal carries its own copy of every
key string (~850 B of each event's ~2.5 KB) and of values that many events
share (tenant, type, session, visitor, product, source, browser, country…).
Stored events live until purged, so each decoded event is rebuilt once over the
code's own key strings, with its string values interned: equal strings, one
object. Live events need none of it: their keys are the code's literals.
"""

from __future__ import annotations

import sys
from typing import Any

from storage.documents import EventDocument

# The key strings of the code itself (already interned by the compiler).
_KEYS: dict[str, str] = {
    key: key for key in EventDocument.__required_keys__ | EventDocument.__optional_keys__
}
# Values unique to one event: interning them would only grow the table.
_UNIQUE = frozenset({"dedupeKey"})

# Per shape (the field names in order): its canonical keys, and where its
# shareable values sit. Documents written by one server version share a few shapes.
_Shape = tuple[tuple[str, ...], tuple[int, ...]]
_shapes: dict[tuple[str, ...], _Shape] = {}
_MAX_SHAPES = 256  # hostile or corrupt files cannot grow the cache without bound


def _shape(names: tuple[str, ...]) -> _Shape:
    keys = tuple(_KEYS.get(name, name) for name in names)
    shared = tuple(i for i, name in enumerate(names) if name not in _UNIQUE)
    if len(_shapes) < _MAX_SHAPES:
        _shapes[names] = (keys, shared)
    return keys, shared


def compact(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as a new dict over canonical keys, its string values interned."""
    names = tuple(doc)
    keys, shared = _shapes.get(names) or _shape(names)
    values = list(doc.values())
    intern = sys.intern
    for i in shared:
        value = values[i]
        if value.__class__ is str:
            values[i] = intern(value)
    return dict(zip(keys, values, strict=True))
