"""``PlainListExecutor`` answers every list exactly as graphql-core's own executor does.

A small schema of rows (aliases, ``__typename``, enums, nested lists, nullable and
non-null fields, a field with a resolver) runs each query twice, once with the
plain-list executor and once with Strawberry's default, and the two answers
(data and errors, paths included) must be equal. A counter on graphql-core's
per-item ``complete_value`` shows which lists took the one-pass completion.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.completion import PlainListExecutor


@strawberry.enum
class Segment(enum.Enum):
    CHAMPIONS = "champions"
    AT_RISK = "at_risk"


@strawberry.type
class Row:
    email: str
    orders: int
    spent: float | None
    segment: Segment
    tags: list[str]
    # A GraphQL name that is a Python keyword, read from another attribute.
    import_: str = strawberry.field(name="import", default="imported")

    @strawberry.field
    def shouted(self) -> str:
        return self.email.upper()


@dataclass
class RowData:
    email: Any
    orders: Any
    spent: Any
    segment: Any
    tags: Any
    import_: Any = "imported"


ROWS: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def rows(self) -> list[Row]:
        return ROWS

    @strawberry.field
    def matrix(self) -> list[list[int]]:
        return [[1, 2], [3], []]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query, execution_context_class=PlainListExecutor)
    default = strawberry.Schema(query=Query)
    return plain, default


PLAIN, DEFAULT = _schemas()


@pytest.fixture
def rows() -> Iterator[list[Any]]:
    ROWS[:] = [
        RowData("a@x.io", 3, 120.5, Segment.CHAMPIONS, ["vip", "eu"]),
        RowData("b@x.io", 1, None, Segment.AT_RISK, []),
    ]
    yield ROWS
    ROWS.clear()


@pytest.fixture
def item_completions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The parent type of every value graphql-core completed one at a time."""
    seen: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.complete_value

    def counted(self: Any, return_type: Any, *args: Any) -> Any:
        seen.append(str(return_type))
        return original(self, return_type, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "complete_value", counted)
    return seen


def _both(query: str, completed: list[str]) -> tuple[Any, list[str]]:
    """The plain executor's answer (asserted equal to the default's) and what it completed."""
    completed.clear()
    plain = PLAIN.execute_sync(query)
    by_plain = list(completed)
    default = DEFAULT.execute_sync(query)
    assert plain.data == default.data
    assert [(e.message, e.path) for e in plain.errors or []] == [
        (e.message, e.path) for e in default.errors or []
    ]
    return plain, by_plain


def test_a_list_of_plain_rows_is_completed_in_one_pass(
    rows: list[Any], item_completions: list[str]
) -> None:
    result, completed = _both(
        "{ rows { __typename mail: email orders spent segment tags } }", item_completions
    )
    assert result.data == {
        "rows": [
            {
                "__typename": "Row",
                "mail": "a@x.io",
                "orders": 3,
                "spent": 120.5,
                "segment": "CHAMPIONS",
                "tags": ["vip", "eu"],
            },
            {
                "__typename": "Row",
                "mail": "b@x.io",
                "orders": 1,
                "spent": None,
                "segment": "AT_RISK",
                "tags": [],
            },
        ]
    }
    # Only the root field's value (non-null, then the list) went through
    # graphql-core; no row did.
    assert completed == ["[Row!]!", "[Row!]"]


def test_aliases_are_only_response_keys_whatever_they_spell(
    rows: list[Any], item_completions: list[str]
) -> None:
    # The one-pass completion is Python source written per selection: aliases named
    # like its own variables, keyword-like names and __typename change nothing.
    query = (
        "{ rows { value: email absent: orders key_0: segment required: spent "
        "complete_0: __typename import __typename: tags } }"
    )
    result, completed = _both(query, item_completions)
    assert result.data == {
        "rows": [
            {
                "value": "a@x.io",
                "absent": 3,
                "key_0": "CHAMPIONS",
                "required": 120.5,
                "complete_0": "Row",
                "import": "imported",
                "__typename": ["vip", "eu"],
            },
            {
                "value": "b@x.io",
                "absent": 1,
                "key_0": "AT_RISK",
                "required": None,
                "complete_0": "Row",
                "import": "imported",
                "__typename": [],
            },
        ]
    }
    assert completed == ["[Row!]!", "[Row!]"]


def test_nested_lists_of_leaves(item_completions: list[str]) -> None:
    result, completed = _both("{ matrix }", item_completions)
    assert result.data == {"matrix": [[1, 2], [3], []]}
    assert completed == ["[[Int!]!]!", "[[Int!]!]"]


@pytest.mark.parametrize(
    "query",
    [
        "{ rows { email shouted } }",  # a resolver
        "{ rows { ... on Row { email } } }",  # a fragment
        "{ rows { email @include(if: true) orders @skip(if: true) } }",  # directives
        "{ rows { email email } }",  # one key twice
    ],
)
def test_shapes_it_does_not_take_are_completed_by_graphql_core(
    rows: list[Any], item_completions: list[str], query: str
) -> None:
    result, completed = _both(query, item_completions)
    assert result.errors is None
    assert "Row!" in completed  # each row went through graphql-core


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", None, "Cannot return null for non-nullable field Row.email."),
        ("orders", 2**31, "Int cannot represent non 32-bit signed integer value: 2147483648"),
        ("orders", "7", None),  # graphql-core coerces a numeric string: so must we
        ("tags", ("a", "b"), None),  # a tuple is a list to graphql-core
        ("tags", ["a", None], "Cannot return null for non-nullable field Row.tags."),
    ],
)
def test_values_it_does_not_take_get_graphql_cores_answer(
    rows: list[Any], item_completions: list[str], field: str, value: Any, message: str | None
) -> None:
    setattr(rows[1], field, value)
    result, _ = _both("{ rows { email orders tags } }", item_completions)
    if message is None:
        assert result.errors is None
    else:
        assert result.data is None
        assert [e.message for e in result.errors] == [message]
        assert result.errors[0].path[:2] == ["rows", 1]


def test_a_field_nodes_list_completion_is_written_once_and_leaves_with_the_node() -> None:
    import gc

    from graphql import FieldNode, OperationDefinitionNode, parse

    from schema import completion as module

    rows_type = PLAIN._schema.query_type.fields["rows"].type

    def rows_node(query: str) -> FieldNode:
        (operation,) = parse(query).definitions
        assert isinstance(operation, OperationDefinitionNode)
        (node,) = operation.selection_set.selections
        assert isinstance(node, FieldNode)
        return node

    node = rows_node("{ rows { email segment } }")
    first = module._list_completion(rows_type, node)
    assert first is not None
    assert module._list_completion(rows_type, node) is first
    assert first([RowData("a@x.io", 1, None, Segment.AT_RISK, [])]) == [
        {"email": "a@x.io", "segment": "AT_RISK"}
    ]
    # The same text parsed again is another node: its own completion.
    other = rows_node("{ rows { email segment } }")
    assert module._list_completion(rows_type, other) is not first
    key = (id(rows_type), id(node))
    assert key in module._LIST_COMPLETIONS
    del node
    gc.collect()
    assert key not in module._LIST_COMPLETIONS
    assert (id(rows_type), id(other)) in module._LIST_COMPLETIONS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orders", True),  # a bool is not an int to the check in line: Int serializes it 1
        ("orders", -(2**31)),  # the bounds, in line
        ("orders", 2**31 - 1),
        ("orders", -(2**31) - 1),
        ("orders", 7.0),  # a whole float: Int takes it
        ("email", 12),  # not a str: String serializes it
        ("segment", "champions"),  # not a member: the enum's own serializer decides
        ("segment", "CHAMPIONS"),
        ("segment", Segment.AT_RISK),
        ("spent", 3),  # Float of an int
    ],
)
def test_leaves_checked_in_line_answer_as_graphql_core(
    rows: list[Any], item_completions: list[str], field: str, value: Any
) -> None:
    # Every row goes through the line-written checks twice (two fields read the same
    # attribute under two aliases), and the memo of enum members is already warm.
    setattr(rows[0], field, value)
    _both("{ rows { segment } }", item_completions)
    result, _ = _both(
        f"{{ rows {{ first: {field} email orders again: {field} segment }} }}", item_completions
    )
    if field == "orders" and value is True:
        assert result.data["rows"][0]["first"] == result.data["rows"][0]["again"] == 1


def test_a_null_item_in_a_list_of_rows(rows: list[Any], item_completions: list[str]) -> None:
    rows.append(None)
    result, _ = _both("{ rows { email } }", item_completions)
    assert result.data is None
    assert [e.message for e in result.errors] == [
        "Cannot return null for non-nullable field Query.rows."
    ]


def test_a_value_that_claims_another_class_is_graphql_cores_to_complete(
    rows: list[Any], item_completions: list[str]
) -> None:
    # The checks written in line look at type(), as graphql-core's serializers do, not at
    # a __class__ an object may claim.
    class ClaimsInt:
        __class__ = property(lambda self: int)  # type: ignore[assignment]

        def __int__(self) -> int:
            return 5

        def __le__(self, other: object) -> bool:
            return True

        def __ge__(self, other: object) -> bool:
            return True

    rows[0].orders = ClaimsInt()
    result, _ = _both("{ rows { a: orders email orders b: orders segment } }", item_completions)
    assert result.errors is None
    assert result.data["rows"][0]["a"] == result.data["rows"][0]["orders"] == 5
