"""Document limits (schema.limits): depth and aliases through fragments, each fragment
walked once; the field-merging check and the error count bounded; the operation to run."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import SelectionSetNode, parse

from schema import limits
from schema.limits import VALIDATION_RULES, Nesting, validate
from tests.conftest import SCHEMA, Run


def fan_out(levels: int) -> str:
    """The issue's shape: F0 spreads F1 twice, F1 spreads F2 twice, ... (2^levels paths)."""
    fragments = "".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }} " for i in range(levels)
    )
    return "{ ...F0 } " + fragments + f"fragment F{levels} on Query {{ __typename }}"


def messages(query: str) -> list[str]:
    return [error.message for error in validate(SCHEMA._schema, parse(query), VALIDATION_RULES)]


def test_each_fragment_is_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[SelectionSetNode] = []
    real = limits.nesting

    def counting(selection_set: SelectionSetNode) -> Nesting:
        walked.append(selection_set)
        return real(selection_set)

    monkeypatch.setattr(limits, "nesting", counting)
    assert messages(fan_out(40)) == []
    # 41 fragments and the operation, though the operation reaches F40 by 2^40 paths.
    assert len(walked) == 42


def type_chain(levels: int) -> str:
    """__type, then ``levels`` ofType (each level twice, once in an inline fragment), then name."""
    fragments = "".join(
        f"fragment F{i} on __Type {{ ofType {{ ...F{i + 1} }} "
        f"... on __Type {{ ofType {{ ...F{i + 1} }} }} }} "
        for i in range(levels)
    )
    last = f"fragment F{levels} on __Type {{ name }}"
    return '{ __type(name: "Query") { ...F0 } } ' + fragments + last


async def test_depth_counts_fields_through_fragments(run: Run) -> None:
    # __type + 13 ofType + name = 15: the limit, allowed.
    assert (await run(type_chain(13))).data == {"__type": {"ofType": None}}
    result = await run(type_chain(14))
    assert result.data is None
    assert [error.message for error in result.errors] == ["query depth 16 exceeds the limit of 15"]
    assert [error.extensions["code"] for error in result.errors] == ["BAD_USER_INPUT"]


def aliased_fan_out(levels: int) -> str:
    """Each fragment has one alias and spreads the next twice: 2^(levels+1) - 1 aliases."""
    fragments = "".join(
        f"fragment F{i} on Query {{ a{i}: __typename ...F{i + 1} ...F{i + 1} }} "
        for i in range(levels)
    )
    return "{ ...F0 } " + fragments + f"fragment F{levels} on Query {{ a{levels}: __typename }}"


def test_aliases_count_at_every_spread() -> None:
    assert messages(aliased_fan_out(3)) == []  # 15 aliases
    assert messages(aliased_fan_out(4)) == [
        "31 aliases (each fragment's counted at every spread) exceed the limit of 30"
    ]
    # 40 levels: 2^41 - 1 aliases, counted without walking them.
    assert messages(aliased_fan_out(40)) == [
        f"{2**41 - 1} aliases (each fragment's counted at every spread) exceed the limit of 30"
    ]


def test_fragment_cycles_are_left_to_graphql_core_and_add_nothing() -> None:
    # One error per spread closing the cycle (graphql-core's NoFragmentCyclesRule).
    through = "fragment A on Query { a: __typename ...B ...B } fragment B on Query { ...A ...A }"
    assert (
        messages("{ ...A } " + through) == ["Cannot spread fragment 'A' within itself via 'B'."] * 2
    )
    itself = "fragment A on Query { a: __typename ...A ...A }"
    assert messages("{ ...A } " + itself) == ["Cannot spread fragment 'A' within itself."] * 2


def test_field_merging_stops_past_its_budget() -> None:
    # 285 same-named fields: graphql-core would compare 40,470 pairs and their children.
    hostile = messages("{ " + " ".join("__schema { types { name } }" for _ in range(285)) + " }")
    assert hostile == [
        "Validation aborted: checking that same-named fields can be merged would cost more "
        "than 5000 comparisons. Repeat fewer fields and fragment spreads."
    ]
    # Repetition a person might write passes.
    assert messages("{ " + " ".join("__schema { types { name } }" for _ in range(20)) + " }") == []


def test_validation_stops_after_ten_errors() -> None:
    errors = messages("{ " + " ".join(f"unknown{i}" for i in range(50)) + " }")
    assert errors == [
        *(f"Cannot query field 'unknown{i}' on type 'Query'." for i in range(10)),
        "Too many validation errors, error limit reached. Validation aborted.",
    ]


TWO = "query A { __typename } query B { __typename }"


@pytest.mark.parametrize(
    ("query", "operation", "message"),
    [
        (TWO, None, "The document has several operations: operationName must name one of them."),
        (TWO, "C", "The document has no operation named 'C'."),
        ("{ __typename }", "A", "The document has no operation named 'A'."),
        ("fragment F on Query { __typename }", None, "The document has no operation to run."),
    ],
)
async def test_the_operation_to_run_must_be_clear(
    query: str, operation: str | None, message: str
) -> None:
    result = await SCHEMA.execute(query, operation_name=operation)
    assert result.data is None
    assert [(e.message, e.extensions["code"]) for e in result.errors] == [
        (message, "BAD_USER_INPUT")
    ]


@pytest.mark.parametrize(
    ("query", "operation"), [(TWO, "B"), ("{ __typename }", None), ("query A { __typename }", "A")]
)
async def test_a_named_or_lone_operation_runs(query: str, operation: str | None) -> None:
    result: Any = await SCHEMA.execute(query, operation_name=operation)
    assert (result.data, result.errors) == ({"__typename": "Query"}, None)
