"""The embedded runner's stages and compiled expressions give exactly what mongomock's give."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from typing import Any

import pytest
from mongomock import aggregate as mongomock_aggregate

from core.vocabulary import EventType
from metrics.dashboard_pipelines import TIME_KEY, keyed_text
from storage.embedded.aggregation import run_pipeline
from storage.embedded.expressions import compile_expression

DOCS: list[dict[str, Any]] = [
    {"t": "b", "s": "x", "n": 1, "flag": True, "d": {"a": 1}, "at": datetime(2026, 1, 2)},
    {"t": None, "s": "y", "n": 1.0, "flag": 1, "d": {"a": 2}, "at": datetime(2026, 1, 1)},
    {"t": "a", "s": "x", "n": 2, "flag": False, "d": {"a": 1}, "at": datetime(2026, 1, 3)},
    {"s": "z", "n": 0, "flag": 0, "d": {"a": 1, "b": 0}, "at": datetime(2026, 1, 1)},
    {"t": "b", "s": "ñ", "n": 3, "flag": True, "d": {"a": 2}, "at": datetime(2026, 1, 4)},
    {"t": "B", "s": "y", "n": 1, "flag": None, "d": {}, "at": datetime(2026, 1, 2)},
]

GROUP_KEYS = [
    "$t",
    "$s",
    "$n",
    "$flag",
    "$d",
    "$at",
    {"t": "$t", "s": "$s"},
    None,
    0,
    {"$concat": [{"$ifNull": ["$t", "-"]}, "|", "$s"]},
]


@pytest.mark.parametrize("key", GROUP_KEYS, ids=[str(k) for k in GROUP_KEYS])
def test_group_matches_mongomock(key: Any) -> None:
    pipeline = [
        {
            "$group": {
                "_id": key,
                "count": {"$sum": 1},
                "total": {"$sum": "$n"},
                "sessions": {"$addToSet": "$s"},
                "order": {"$push": "$s"},
                "first": {"$first": "$at"},
                "last": {"$last": "$s"},
                "latest": {"$max": "$at"},
            }
        }
    ]
    expected = list(mongomock_aggregate.process_pipeline(DOCS, None, pipeline, None))
    assert run_pipeline(DOCS, pipeline) == expected


def test_stages_chain_and_inputs_are_left_alone() -> None:
    before = [dict(doc) for doc in DOCS]
    pipeline = [
        {"$addFields": {"k": {"$ifNull": ["$t", "none"]}}},
        {"$group": {"_id": "$k", "n": {"$sum": "$n"}}},
        {"$sort": {"n": -1, "_id": 1}},
        {"$limit": 2},
    ]
    assert run_pipeline(DOCS, pipeline) == [{"_id": "b", "n": 4}, {"_id": "a", "n": 2}]
    assert before == DOCS


def test_unsupported_stage() -> None:
    with pytest.raises(NotImplementedError, match=r"\$sortByCount"):
        run_pipeline(DOCS, [{"$sortByCount": "$t"}])


def test_facet_runs_each_branch() -> None:
    pipeline = [
        {
            "$facet": {
                "by_type": [{"$group": {"_id": "$t", "n": {"$sum": 1}}}],
                "total": [{"$group": {"_id": None, "n": {"$sum": "$n"}}}],
            }
        }
    ]
    expected = list(mongomock_aggregate.process_pipeline(DOCS, None, pipeline, None))
    assert run_pipeline(DOCS, pipeline) == expected


# --- compiled expressions against mongomock's parser, document by document.

EXPRESSION_DOCS: list[dict[str, Any]] = [
    {},
    {"a": None, "b": None, "s": None, "at": None, "arr": None, "d": None},
    {"a": 1, "b": 2, "s": "x", "at": datetime(2026, 1, 2, 3, 4, 5, 678_000), "arr": [1, 2]},
    {"a": 2.5, "b": 0, "s": "", "at": datetime(2026, 1, 2), "arr": [], "d": {"e": 3}},
    {"a": True, "b": False, "s": "ñandú|y", "at": datetime(1999, 12, 31, 23, 59, 59, 1)},
    {"a": 0, "b": 0.0, "s": "0", "arr": ["x", None], "d": {"e": None, "f": [{"e": 1}]}},
    {"a": "3", "b": "3", "s": 7, "at": "2026-01-01", "arr": "ab", "d": [{"e": 1}, {"g": 2}]},
    {"a": [1, 2], "b": {"c": 1}, "s": False, "at": 5, "arr": [[1], {"e": 2}], "d": {"e": {}}},
    {"a": -4, "b": 10**20, "s": "a" * 40, "at": datetime(1000, 1, 1), "eventType": "purchase"},
    {"a": datetime(2026, 1, 1), "b": datetime(2025, 12, 31, 12), "eventType": EventType.PURCHASE},
]

OPERAND_PAIRS: list[list[Any]] = [
    ["$a", "$b"],
    ["$a", 1],
    ["$s", "x"],
    ["$a", None],
    [None, "$missing"],
    ["$at", datetime(2026, 1, 2)],
    ["$d.e", 3],
    ["$a", True],
]

EXPRESSIONS: list[Any] = [
    # field paths and literals
    "$a",
    "$missing",
    "$d.e",
    "$d.f.e",
    "$arr.0",
    "$arr.5",
    "$d.e.x",
    "$$ROOT",
    1,
    2.5,
    None,
    True,
    "plain",
    EventType.PURCHASE,
    datetime(2026, 1, 1),
    ["$a", 1],
    {"x": "$a", "y": "$missing", "z": {"w": "$b"}},
    {},
    {"$literal": "$a"},
    # comparisons
    *({op: pair} for op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte") for pair in OPERAND_PAIRS),
    {"$eq": ["$eventType", EventType.PURCHASE]},
    {"$eq": ["$a"]},
    # $in, $and, $or, $not
    {"$in": ["$a", [1, 2, "3", None]]},
    {"$in": ["x", "$arr"]},
    {"$in": [1, "$arr"]},
    {"$in": ["$missing", [None]]},
    {"$in": ["$a", ["$a"]]},
    {"$and": [{"$gt": ["$a", 0]}, {"$eq": ["$b", 0]}]},
    {"$and": ["$a", "$b", "$missing"]},
    {"$and": []},
    {"$or": ["$missing", "$a", {"$gt": ["$s", 0]}]},
    {"$or": []},
    {"$not": "$a"},
    {"$not": ["$a"]},
    # $cond, $ifNull
    {"$cond": ["$a", "yes", "no"]},
    {"$cond": [{"$eq": ["$a", 0]}, "$b", "$missing"]},
    {"$cond": {"if": "$b", "then": "$a", "else": {"$concat": ["$s", "!"]}}},
    {"$cond": {"if": "$b", "then": "$a"}},
    {"$cond": ["$a", 1]},
    keyed_text("s"),
    {"$ifNull": ["$a", "$b"]},
    {"$ifNull": ["$missing", "$s"]},
    {"$ifNull": ["$missing", "$missing"]},
    {"$ifNull": [None, 0]},
    {"$ifNull": ["$a", "$b", 0]},
    # strings
    {"$concat": ["$s", "|", "$s"]},
    {"$concat": ["$s", "$missing"]},
    {"$concat": ["$a", "-", "$b"]},
    {"$concat": []},
    {"$concat": "$s"},
    {"$concat": [{"$ifNull": ["$s", "-"]}, "|", {"$toString": "$a"}]},
    {"$toString": "$a"},
    {"$toString": "$b"},
    {"$toString": "$at"},
    {"$toString": "$missing"},
    {"$toString": "$d"},
    TIME_KEY,
    {"$substr": ["$s", 1, 3]},
    {"$substr": ["$s", 2, 1_000_000]},
    {"$substr": ["$s", 0, -1]},
    {"$substr": ["$s", -1, 2]},
    {"$substr": ["$missing", 0, 2]},
    {"$substr": ["$s", "$b", 2]},
    {"$substr": ["$s", 1]},
    {"$dateToString": {"format": "%Y-%m-%d|%H:%M:%S", "date": "$at"}},
    {"$dateToString": {"format": "|%Y-%m-%dT%H:%M:%S", "date": "$missing"}},
    {"$dateToString": {"format": "%L", "date": "$at"}},
    {"$dateToString": {"format": "%Y", "date": "$at", "timezone": "UTC"}},
    {"$concat": ["$eventType", {"$dateToString": {"format": "|%Y-%m-%dT%H", "date": "$at"}}]},
    # arithmetic
    {"$subtract": ["$a", "$b"]},
    {"$subtract": ["$at", datetime(1000, 1, 1)]},
    {"$subtract": ["$at", 1000]},
    {"$subtract": ["$a", "$missing"]},
    {"$subtract": ["$missing", "$a"]},
    {"$subtract": ["$a"]},
    {"$multiply": ["$a", "$b"]},
    {"$multiply": [{"$ifNull": ["$a", 0]}, "$b", 2]},
    {"$multiply": ["$a", "$missing"]},
    {"$multiply": ["$s", None]},
    {"$multiply": []},
    {"$min": ["$a", 2]},
    {"$min": [{"$ifNull": ["$missing", 1]}, 10**6]},
    {"$min": ["$a", "$missing"]},
    {"$min": ["$s", 3]},
    {"$min": [2.5, "$b", 7]},
    {"$add": ["$a", "$b", 1]},
    {"$add": ["$a", "$missing"]},
    {"$add": ["$at", 1]},
    # arrays
    {"$size": "$arr"},
    {"$size": ["$arr"]},
    {"$size": "$missing"},
    {"$size": ["$arr", "$arr"]},
    # left to mongomock
    {"$toUpper": "$s"},
    {"$a": 1, "$b": 2},
    {"$nope": 1},
]


def _typed(value: Any) -> Any:
    """``value`` with every type spelled out, so that 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return ("dict", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_typed(item) for item in value])
    return (type(value).__name__, repr(value))


def _outcome(evaluate: Any) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Any = ("value", _typed(evaluate()))
        except Exception as error:
            result = ("error", type(error).__name__, str(error))
    return result, [str(warning.message) for warning in caught]


@pytest.mark.parametrize("ignore", [False, True], ids=["strict", "ignore_missing"])
@pytest.mark.parametrize("expression", EXPRESSIONS, ids=[repr(e) for e in EXPRESSIONS])
def test_compiled_expression_matches_mongomock(expression: Any, ignore: bool) -> None:
    compiled = compile_expression(expression, ignore_missing_keys=ignore)
    for doc in EXPRESSION_DOCS:
        expected = _outcome(
            lambda doc=doc: mongomock_aggregate._parse_expression(
                expression, doc, ignore_missing_keys=ignore
            )
        )
        assert _outcome(lambda doc=doc: compiled(doc)) == expected, doc


COMPILED_FORMS: list[Any] = [
    "$a",
    "$d.e",
    1,
    {"x": "$a"},
    {"$literal": 1},
    {"$eq": ["$a", 1]},
    {"$lte": ["$a", 1]},
    {"$in": ["$a", [1]]},
    {"$and": ["$a"]},
    {"$or": ["$a"]},
    {"$not": "$a"},
    {"$cond": ["$a", 1, 0]},
    {"$cond": {"if": "$a", "then": 1, "else": 0}},
    {"$ifNull": ["$a", 0]},
    {"$concat": ["$s"]},
    {"$toString": "$a"},
    {"$subtract": ["$a", 1]},
    {"$multiply": ["$a", 1]},
    {"$min": ["$a", 1]},
    {"$add": ["$a", 1]},
    {"$size": "$arr"},
    {"$substr": ["$s", 0, 1]},
    {"$dateToString": {"format": "%Y", "date": "$at"}},
]


@pytest.mark.parametrize("expression", COMPILED_FORMS, ids=[repr(e) for e in COMPILED_FORMS])
def test_supported_forms_do_not_fall_back(expression: Any) -> None:
    assert "_fallback" not in compile_expression(expression).__qualname__


def test_key_error_is_raised_for_a_missing_field() -> None:
    with pytest.raises(KeyError):
        compile_expression({"$eq": ["$missing", 1]}, ignore_missing_keys=True)({})
    assert compile_expression({"$concat": ["$missing"]}, ignore_missing_keys=True)({}) is None
    with pytest.raises(KeyError):
        compile_expression({"$concat": ["$missing"]})({})


# --- stages that use compiled expressions, against mongomock's pipeline.

STAGE_DOCS: list[dict[str, Any]] = [
    *DOCS,
    {"s": "w", "n": None, "at": datetime(2026, 1, 5, 12), "price": 2.5, "q": 2},
    {"s": "x", "n": "7", "at": datetime(2025, 12, 31), "price": None, "q": 1},
    {"t": "a", "s": None, "n": 4, "at": datetime(2026, 1, 3, 23, 59), "q": 3},
    {"t": "c", "s": "y", "n": 2, "price": 1, "q": 1},
]

ACCUMULATED: dict[str, Any] = {
    "count": {"$sum": 1},
    "total": {"$sum": "$n"},
    "revenue": {"$sum": {"$multiply": [{"$ifNull": ["$price", 0]}, "$q"]}},
    "flagged": {"$max": {"$cond": [{"$eq": ["$flag", True]}, 1, 0]}},
    "big": {"$sum": {"$cond": [{"$gt": ["$n", 1]}, 1, 0]}},
    "sessions": {"$addToSet": {"$ifNull": ["$t", "$s"]}},
    "texts": {"$push": {"$concat": ["$s", "|", {"$toString": "$n"}]}},
    "firstAt": {"$first": "$at"},
    "lastT": {"$last": "$t"},
    "minKey": {"$min": {"$cond": ["$s", {"$concat": [{"$toString": "$n"}, "|", "$s"]}, None]}},
    "avg": {"$avg": "$n"},
    "merged": {"$mergeObjects": "$d"},
}


@pytest.mark.parametrize("key", GROUP_KEYS, ids=[str(k) for k in GROUP_KEYS])
def test_group_with_compiled_accumulators_matches_mongomock(key: Any) -> None:
    pipeline = [{"$group": {"_id": key, **ACCUMULATED}}]
    expected = list(mongomock_aggregate.process_pipeline(STAGE_DOCS, None, pipeline, None))
    assert _typed(run_pipeline(STAGE_DOCS, pipeline)) == _typed(expected)


DAYS = [datetime(2026, 1, day) for day in (1, 2, 3, 4)]
BUCKETS: list[dict[str, Any]] = [
    {"groupBy": "$at", "boundaries": DAYS},
    {"groupBy": "$at", "boundaries": DAYS, "default": "other"},
    {"groupBy": "$at", "boundaries": DAYS, "default": None, "output": ACCUMULATED},
    {"groupBy": "$at", "boundaries": DAYS, "default": datetime(2030, 1, 1)},
    {"groupBy": "$at", "boundaries": DAYS, "default": datetime(2000, 1, 1)},
    {"groupBy": "$at", "boundaries": DAYS, "default": DAYS[1], "output": {"n": {"$push": "$s"}}},
    {"groupBy": "$n", "boundaries": [0, 2, 3.5, 10], "default": -1, "output": ACCUMULATED},
    {"groupBy": "$n", "boundaries": [0, 2, 2, 10], "default": [1]},
    {
        "groupBy": {"$concat": ["$s", {"$dateToString": {"format": "|%Y-%m-%d", "date": "$at"}}]},
        "boundaries": ["a", "x|2026-01-02", "y", "zz"],
        "default": "rest",
        "output": {"count": {"$sum": 1}, "at": {"$max": "$at"}, "_id": {"$sum": 1}},
    },
]


@pytest.mark.parametrize("bucket", BUCKETS, ids=[str(i) for i in range(len(BUCKETS))])
def test_bucket_matches_mongomock(bucket: dict[str, Any]) -> None:
    pipeline = [{"$bucket": bucket}]
    expected = _outcome(
        lambda: list(mongomock_aggregate.process_pipeline(STAGE_DOCS, None, pipeline, None))
    )
    assert _outcome(lambda: run_pipeline(STAGE_DOCS, pipeline)) == expected


BAD_BUCKETS: list[dict[str, Any]] = [
    {"groupBy": "$at", "boundaries": DAYS[:1]},
    {"groupBy": "$at", "boundaries": DAYS[::-1]},
    {"groupBy": "$at", "boundaries": "x"},
    {"boundaries": DAYS},
    {"groupBy": "$at", "boundaries": DAYS, "other": 1},
    {"groupBy": "$at", "boundaries": DAYS, "default": "x", "output": {"n": {"$stdDevPop": 1}}},
    {"groupBy": "$at", "boundaries": DAYS, "default": "x", "output": {"n": 1}},
]


@pytest.mark.parametrize("bucket", BAD_BUCKETS, ids=[str(i) for i in range(len(BAD_BUCKETS))])
def test_bucket_errors_match_mongomock(bucket: dict[str, Any]) -> None:
    pipeline = [{"$bucket": bucket}]
    expected = _outcome(
        lambda: list(mongomock_aggregate.process_pipeline(STAGE_DOCS, None, pipeline, None))
    )
    assert expected[0][0] == "error"
    assert _outcome(lambda: run_pipeline(STAGE_DOCS, pipeline)) == expected


def test_add_to_set_keeps_first_seen_order_and_equal_values_once() -> None:
    values = ["b", "a", "b", 1, 1.0, {"k": 1}, {"k": 1}, [1, 2], [1, 2], 0, "", None, "a"]
    docs = [{"g": 1, "v": value} for value in values]
    pipeline = [{"$group": {"_id": "$g", "vs": {"$addToSet": "$v"}}}]
    # mongomock keeps falsy values as None; 1 and 1.0 are one value, as on MongoDB.
    expected = ["b", "a", 1, {"k": 1}, [1, 2], None]
    assert run_pipeline(docs, pipeline) == [{"_id": 1, "vs": expected}]
    assert list(mongomock_aggregate.process_pipeline(docs, None, pipeline, None)) == [
        {"_id": 1, "vs": expected}
    ]


def test_add_to_set_over_many_distinct_values_keeps_them_all() -> None:
    # A best-selling product's hour: every view from a session of its own.
    docs = [{"g": "tee", "v": f"session-{n}"} for n in range(50_000)]
    docs += docs[:10]  # and a few sessions twice
    pipeline = [{"$group": {"_id": "$g", "sessions": {"$addToSet": "$v"}}}]
    (row,) = run_pipeline(docs, pipeline)
    assert row["sessions"] == [f"session-{n}" for n in range(50_000)]


SORT_DOCS: list[dict[str, Any]] = [
    {"n": 3, "s": "b", "at": datetime(2026, 6, 2), "i": 1},
    {"n": 1.5, "s": "a", "at": datetime(2026, 6, 1), "i": 2},
    {"s": "a", "at": None, "i": 3},  # n missing: sorts as null
    {"n": None, "s": "ñ", "at": datetime(2026, 6, 3), "i": 4},
    {"n": True, "s": "b", "at": datetime(2026, 6, 2), "i": 5},
    {"n": "3", "s": "b", "at": datetime(2026, 6, 2), "i": 6},
    {"n": 3, "s": "b", "at": datetime(2026, 6, 2), "i": 7},  # ties with i=1
    {"n": b"x", "s": "c", "at": datetime(2026, 6, 1), "i": 8},
    {"n": -2, "s": "", "at": datetime(2026, 6, 1), "i": 9},
]


@pytest.mark.parametrize(
    "spec",
    [
        {"n": 1},
        {"n": -1},
        {"s": 1, "n": -1},
        {"at": -1, "i": 1},
        {"s": -1, "at": 1, "n": 1},
        {"missing": 1},
        {"d.x": 1},  # a dotted path: mongomock's own
        {"l": 1},  # arrays: mongomock's own
    ],
    ids=str,
)
def test_sort_matches_mongomock(spec: dict[str, int]) -> None:
    docs = [{**doc, "d": {"x": doc["i"] % 3}, "l": [doc["i"] % 4, 0]} for doc in SORT_DOCS]
    pipeline = [{"$sort": spec}]
    expected = list(mongomock_aggregate.process_pipeline(docs, None, pipeline, None))
    assert [d["i"] for d in run_pipeline(docs, pipeline)] == [d["i"] for d in expected]


@pytest.mark.parametrize(
    "date_format",
    ["%Y-%m-%dT%H", "%Y-%m-%dT%H:%M", "|%Y-%m-%d", "%Y", "%Y-%m", "%H:%M", "%Y %%H %m", "%M/%Y"],
)
def test_date_to_string_written_once_per_hour_answers_as_mongomock(date_format: str) -> None:
    # One compiled expression over many dates: the texts it remembers (per hour,
    # minute, day...) must be those of the very date, never of a neighbour.
    import random

    rng = random.Random(date_format)
    start = datetime(2025, 12, 31, 22, 0)
    moments = [start + timedelta(seconds=rng.randrange(3 * 86400)) for _ in range(400)]
    moments += [datetime(2026, 1, 1, 0, 0), datetime(2027, 1, 1, 0, 0), datetime(1999, 1, 1, 0, 59)]
    expression = {"$dateToString": {"format": date_format, "date": "$at"}}
    compiled = compile_expression(expression)
    for moment in moments:
        doc = {"at": moment}
        assert compiled(doc) == mongomock_aggregate._parse_expression(expression, doc)
