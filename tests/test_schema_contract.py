"""The served schema contains the whole contract (shared/api.graphql), spelled and typed alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
)

from schema import build_schema as build_served

# The contract's home is ../shared beside the repository (as in CI); the copy in
# tests/contract lets a clone anywhere else run the suite, and must not drift.
SHARED_CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "api.graphql"
CONTRACT_COPY = Path(__file__).resolve().parent / "contract" / "api.graphql"


def test_the_copy_matches_the_shared_contract() -> None:
    if not SHARED_CONTRACT.exists():
        pytest.skip(f"{SHARED_CONTRACT} is not beside this clone; the copy stands in")
    assert CONTRACT_COPY.read_text() == SHARED_CONTRACT.read_text(), (
        "shared/api.graphql changed: copy it to tests/contract/api.graphql"
    )


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    path = SHARED_CONTRACT if SHARED_CONTRACT.exists() else CONTRACT_COPY
    return build_schema(path.read_text())


@pytest.fixture(scope="module")
def served() -> GraphQLSchema:
    # Round-trip through the printed SDL: that is what clients and GraphiQL see.
    return build_schema(build_served().as_str())


def user_types(schema: GraphQLSchema) -> dict[str, object]:
    return {name: t for name, t in schema.type_map.items() if not name.startswith("__")}


def admin_fields(schema: GraphQLSchema) -> set[str]:
    marked = set()
    for name, graphql_type in user_types(schema).items():
        if isinstance(graphql_type, GraphQLObjectType):
            for field_name, field in graphql_type.fields.items():
                node = field.ast_node
                if node and any(d.name.value == "admin" for d in node.directives or ()):
                    marked.add(f"{name}.{field_name}")
    return marked


def test_every_contract_type_is_served_with_the_same_kind(
    contract: GraphQLSchema, served: GraphQLSchema
) -> None:
    served_types = user_types(served)
    for name, graphql_type in user_types(contract).items():
        assert name in served_types, f"type {name} missing"
        assert type(served_types[name]) is type(graphql_type), name


def test_fields_and_arguments_match(contract: GraphQLSchema, served: GraphQLSchema) -> None:
    for name, graphql_type in user_types(contract).items():
        served_type = served.type_map[name]
        if isinstance(graphql_type, GraphQLObjectType):
            assert isinstance(served_type, GraphQLObjectType)
            for field_name, field in graphql_type.fields.items():
                assert field_name in served_type.fields, f"{name}.{field_name} missing"
                served_field = served_type.fields[field_name]
                assert str(served_field.type) == str(field.type), f"{name}.{field_name}"
                for arg_name, arg in field.args.items():
                    served_arg = served_field.args.get(arg_name)
                    assert served_arg is not None, f"{name}.{field_name}({arg_name}) missing"
                    assert str(served_arg.type) == str(arg.type), f"{name}.{field_name}({arg_name})"
                    assert (
                        served_arg.default_value == arg.default_value or arg.default_value is None
                    )
                for arg_name, arg in served_field.args.items():
                    if arg_name not in field.args:  # additions must be optional
                        assert not str(arg.type).endswith("!") or arg.default_value is not None
        elif isinstance(graphql_type, GraphQLInputObjectType):
            assert isinstance(served_type, GraphQLInputObjectType)
            for field_name, field in graphql_type.fields.items():
                assert field_name in served_type.fields, f"{name}.{field_name} missing"
                assert str(served_type.fields[field_name].type) == str(field.type)
        elif isinstance(graphql_type, GraphQLEnumType):
            assert isinstance(served_type, GraphQLEnumType)
            assert list(served_type.values) == list(graphql_type.values), name
        else:
            assert isinstance(graphql_type, GraphQLScalarType)


def test_admin_directive_is_declared_and_on_the_same_fields(
    contract: GraphQLSchema, served: GraphQLSchema
) -> None:
    directive = served.get_directive("admin")
    assert directive is not None
    assert [location.name for location in directive.locations] == ["FIELD_DEFINITION"]
    assert admin_fields(contract) == {
        "Mutation.importEvents",
        "Query.dashboardStats",
        "Query.funnel",
        "Query.rfm",
        "Query.alerts",
    }
    assert admin_fields(contract) <= admin_fields(served)


def test_every_field_and_argument_is_described(served: GraphQLSchema) -> None:
    missing = []
    for name, graphql_type in user_types(served).items():
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
    assert missing == []
