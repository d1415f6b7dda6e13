"""The embedded store's pipeline runner: mongomock's stages, with faster ``$group`` and ``$bucket``.

mongomock's ``$group`` sorts every input document with a pure-Python BSON
comparator before grouping, which costs ~30 s per million comparisons and
dominates every dashboard pass. This runner groups by hashing instead and sorts
only the distinct keys, then uses mongomock's own accumulators, so the output
(documents, their order, and the order of values inside ``$push``/``$first``)
is the same as mongomock's. Tests run pipelines through both and compare.

Both stages evaluate their expressions (keys, ``groupBy``, accumulated values)
with closures from :mod:`storage.embedded.expressions`, compiled once per stage, which
give what mongomock's per-document expression parser gives. Every other stage is
mongomock's.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime
from operator import itemgetter
from typing import Any

from bson import ObjectId
from mongomock import OperationFailure
from mongomock import aggregate as mongomock_aggregate
from mongomock import filtering as mongomock_filtering

from storage.embedded.expressions import Compiled, compile_expression, is_literal

Document = dict[str, Any]
Stage = Callable[[list[Document], Any, Any], list[Document]]
# (output field, accumulator operator, compiled value, the value if a literal)
Accumulator = tuple[str, str, Compiled, Any]
Accumulate = Callable[[list[Document]], Document]

_MISSING = object()
_ACCUMULATORS = {*mongomock_aggregate._GROUPING_OPERATOR_MAP, "$addToSet", "$push"}


def _accumulator(output_fields: dict[str, Any]) -> Accumulate:
    """``members -> mongomock's _accumulate_group(output_fields, members)``, compiled."""
    accumulators: list[Accumulator] = []
    for field, value in output_fields.items():
        if field == "_id":
            continue
        if not isinstance(value, dict) or not set(value) <= _ACCUMULATORS:
            return _mongomock_accumulator(output_fields)  # its errors, as it raises them
        for operator, key in value.items():
            constant = key if is_literal(key) else _MISSING
            accumulators.append((field, operator, compile_expression(key), constant))

    def accumulate(members: list[Document]) -> Document:
        return _accumulate(accumulators, members)

    return accumulate


def _mongomock_accumulator(output_fields: dict[str, Any]) -> Accumulate:
    def accumulate(members: list[Document]) -> Document:
        accumulate_group = mongomock_aggregate._accumulate_group
        result: Document = accumulate_group(output_fields, members)  # type: ignore[no-untyped-call]
        return result

    return accumulate


def _values(evaluate: Compiled, constant: Any, members: list[Document]) -> list[Any]:
    """The values mongomock accumulates: one per member, none for a missing field."""
    if constant is not _MISSING:
        return [constant] * len(members)
    values = []
    for doc in members:
        try:
            values.append(evaluate(doc))
        except KeyError:
            continue
    return values


def _distinct(values: Iterable[Any]) -> list[Any]:
    """``values`` without repeats, first seen first, in time linear in their number.

    Hashable values are remembered in a set (equal values hash alike: 1, 1.0
    and True are one, as ``==`` says); unhashable ones (documents, arrays) can
    only equal each other, so only they are compared one by one.
    """
    unique: list[Any] = []
    seen: set[Any] = set()
    unhashable: list[Any] = []
    for element in values:
        try:
            if element in seen:
                continue
            seen.add(element)
        except TypeError:
            if element in unhashable:
                continue
            unhashable.append(element)
        unique.append(element)
    return unique


def _accumulate(accumulators: list[Accumulator], members: list[Document]) -> Document:
    # mongomock's _accumulate_group with compiled values.
    operators = mongomock_aggregate._GROUPING_OPERATOR_MAP
    doc_dict: Document = {}
    for field, operator, evaluate, constant in accumulators:
        values = _values(evaluate, constant, members)
        if operator in operators:
            doc_dict[field] = operators[operator](values)  # type: ignore[no-untyped-call]
        elif operator == "$addToSet":
            doc_dict[field] = _distinct(value or None for value in values)  # falsy: None
        elif field not in doc_dict:  # $push
            doc_dict[field] = values
        else:
            doc_dict[field].extend(values)
    return doc_dict


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
        evaluate_key = compile_expression(key_expression, ignore_missing_keys=True)
        for document in documents:
            try:
                key = evaluate_key(document)
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
    accumulate = _accumulator(options)
    result = []
    for hashed in order:
        key, members = groups[hashed]
        accumulated = accumulate(members)
        accumulated["_id"] = key
        result.append(accumulated)
    return result


def _bucket(documents: list[Document], database: Any, options: dict[str, Any]) -> list[Document]:
    # mongomock's _handle_bucket_stage, with compiled groupBy and output, and
    # grouping by hashing: its sort is stable and groups equal bucket ids, so the
    # distinct ids in order, each with its members in input order, is the same.
    unknown_options = set(options) - {"groupBy", "boundaries", "output", "default"}
    if unknown_options:
        raise OperationFailure(f"Unrecognized option to $bucket: {unknown_options.pop()}.")
    if "groupBy" not in options or "boundaries" not in options:
        raise OperationFailure("$bucket requires 'groupBy' and 'boundaries' to be specified.")
    boundaries = options["boundaries"]
    if not isinstance(boundaries, list):
        raise OperationFailure(
            f"The $bucket 'boundaries' field must be an array, but found type: {type(boundaries)}"
        )
    if len(boundaries) < 2:
        raise OperationFailure(
            "The $bucket 'boundaries' field must have at least 2 values, but "
            f"found {len(boundaries)} value(s)."
        )
    if sorted(boundaries) != boundaries:
        raise OperationFailure(
            "The 'boundaries' option to $bucket must be sorted in ascending order"
        )
    group_by = compile_expression(options["groupBy"])
    accumulate = _accumulator(options.get("output", {"count": {"$sum": 1}}))
    default_value = options.get("default")
    try:
        is_default_last = default_value >= boundaries[-1]
    except TypeError:
        is_default_last = True

    def default_bucket() -> tuple[bool, Any]:
        try:
            return (is_default_last, options["default"])
        except KeyError as err:
            raise OperationFailure(
                "$bucket could not find a matching branch for "
                "an input, and no default was specified."
            ) from err

    last = len(boundaries)
    keyed: list[tuple[tuple[bool, Any], Document]] = []
    for document in documents:
        try:
            value = group_by(document)
        except KeyError:
            keyed.append((default_bucket(), document))
            continue
        index = bisect.bisect_right(boundaries, value)
        if index and index < last:
            keyed.append(((False, boundaries[index - 1]), document))
        else:
            keyed.append((default_bucket(), document))

    groups: dict[tuple[bool, Any], tuple[tuple[bool, Any], list[Document]]] = {}
    try:
        for bucket_key, document in keyed:
            group = groups.get(bucket_key)
            if group is None:
                groups[bucket_key] = (bucket_key, [document])
            else:
                group[1].append(document)
    except TypeError:  # an unhashable default: mongomock's own sort and groupby
        ordered = sorted(keyed, key=lambda pair: pair[0])
        buckets = [
            (bucket_key, [document for _, document in group])
            for bucket_key, group in itertools.groupby(ordered, lambda pair: pair[0])
        ]
    else:
        buckets = [groups[bucket_key] for bucket_key in sorted(groups)]

    result = []
    for (_, bucket_id), members in buckets:
        accumulated = accumulate(members)
        accumulated["_id"] = bucket_id
        result.append(accumulated)
    return result


def _facet(documents: list[Document], database: Any, options: dict[str, Any]) -> list[Document]:
    # mongomock's own $facet would run its branches with its slow $group.
    return [{title: run_pipeline(documents, branch) for title, branch in options.items()}]


class _Unsortable(Exception):
    """A value the fast ``$sort`` leaves to mongomock (documents, arrays, NaN, others)."""


# BSON's comparison order of the scalar types (mongomock's ``_get_compare_type``); bool
# before int, which it subclasses.
_SORT_RANKS: tuple[tuple[type, int], ...] = (
    (bool, 40),
    (int, 10),
    (float, 10),
    (str, 15),
    (bytes, 30),
    (ObjectId, 35),
    (datetime, 45),
)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:  # null and a missing field sort alike
        return (5, 0)
    for kind, rank in _SORT_RANKS:
        if isinstance(value, kind):
            if value != value:  # NaN: no order Python's sort could keep
                raise _Unsortable
            return (rank, value)
    raise _Unsortable


def _sort(documents: list[Document], database: Any, options: dict[str, Any]) -> list[Document]:
    """mongomock's ``$sort`` (one stable pass per key, last key first), with plain keys.

    mongomock compares every pair through ``bson_compare`` (~5 µs a comparison); this
    computes each document's key once. Dotted paths, arrays, documents and NaN go to
    mongomock, as does anything the keys cannot order.
    """
    fields = list(options.items())
    mongomock_sort: Any = mongomock_aggregate._handle_sort_stage
    if any("." in field or field.startswith("$") for field, _ in fields):
        return list(mongomock_sort(documents, database, options))
    try:
        ranked = documents
        for field, direction in reversed(fields):
            keyed = [(_sort_key(document.get(field)), document) for document in ranked]
            keyed.sort(key=itemgetter(0), reverse=direction < 0)
            ranked = [document for _, document in keyed]
    except (_Unsortable, TypeError):
        return list(mongomock_sort(documents, database, options))
    return ranked


_STAGES: dict[str, Stage | None] = {
    **mongomock_aggregate._PIPELINE_HANDLERS,
    "$group": _group,
    "$bucket": _bucket,
    "$facet": _facet,
    "$sort": _sort,
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
