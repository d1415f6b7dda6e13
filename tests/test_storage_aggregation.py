"""The embedded runner's ``$group`` gives exactly what mongomock's gives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from mongomock import aggregate as mongomock_aggregate

from storage.aggregation import run_pipeline

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
