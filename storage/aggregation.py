"""The embedded store's pipeline runner: mongomock's stages, with a faster ``$group``.

mongomock's ``$group`` sorts every input document with a pure-Python BSON
comparator before grouping, which costs ~30 s per million comparisons and
dominates every dashboard pass. This runner groups by hashing instead and sorts
only the distinct keys, then uses mongomock's own accumulators, so the output
(documents, their order, and the order of values inside ``$push``/``$first``)
is the same as mongomock's. Tests run pipelines through both and compare.
Every other stage is mongomock's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mongomock import aggregate as mongomock_aggregate
from mongomock import filtering as mongomock_filtering

Document = dict[str, Any]
Stage = Callable[[list[Document], Any, Any], list[Document]]

_MISSING = object()


def _hashable(value: Any) -> Any:
    """A hashable stand-in for a group key, equal exactly when mongomock groups together."""
    if isinstance(value, bool):
        return ("bool", value)  # True == 1 in Python, but BSON keeps them apart
    if isinstance(value, dict):
        return ("dict", tuple((key, _hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_hashable(item) for item in value))
    return value


def _sorted_keys(keys: list[Any]) -> list[Any]:
    """Group keys in mongomock's (BSON) order; plain strings and null sort natively."""
    if all(key is None or type(key) is str for key in keys):
        # BSON: null before strings; strings by code point, which Python's < follows.
        return sorted(keys, key=lambda key: (key is not None, key or ""))
    return sorted(keys, key=mongomock_filtering.BsonComparable)


def _group(documents: list[Document], database: Any, options: dict[str, Any]) -> list[Document]:
    key_expression = options["_id"]
    if not key_expression:  # mongomock: a falsy _id makes one group of everything
        groups: dict[Any, tuple[Any, list[Document]]] = {None: (None, documents)}
        order: list[Any] = [None]
    else:
        groups = {}
        for document in documents:
            try:
                key = mongomock_aggregate._parse_expression(  # type: ignore[no-untyped-call]
                    key_expression, document, ignore_missing_keys=True
                )
            except KeyError:
                key = None
            hashed = _hashable(key)
            group = groups.get(hashed)
            if group is None:
                groups[hashed] = (key, [document])
            else:
                group[1].append(document)
        firsts = {id(key): hashed for hashed, (key, _) in groups.items()}
        order = [firsts[id(key)] for key in _sorted_keys([key for key, _ in groups.values()])]
    result = []
    for hashed in order:
        key, members = groups[hashed]
        accumulate = mongomock_aggregate._accumulate_group
        accumulated: Document = accumulate(options, members)  # type: ignore[no-untyped-call]
        accumulated["_id"] = key
        result.append(accumulated)
    return result


def _facet(documents: list[Document], database: Any, options: dict[str, Any]) -> list[Document]:
    # mongomock's own $facet would run its branches with its slow $group.
    return [{title: run_pipeline(documents, branch) for title, branch in options.items()}]


_STAGES: dict[str, Stage | None] = {
    **mongomock_aggregate._PIPELINE_HANDLERS,
    "$group": _group,
    "$facet": _facet,
}


def run_pipeline(documents: Iterable[Document], pipeline: list[dict[str, Any]]) -> list[Document]:
    """Run ``pipeline`` over ``documents`` (which it does not modify)."""
    current = list(documents)
    for stage in pipeline:
        for operator, options in stage.items():
            handler = _STAGES.get(operator, _MISSING)
            if handler is _MISSING or handler is None:
                raise NotImplementedError(f"{operator} is not supported by the embedded store")
            assert callable(handler)
            current = handler(current, None, options)
    return current
