"""The served schema contains the whole contract (docs/api.graphql), spelled and typed alike."""

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
    print_schema,
)

from schema import build_schema as build_served

# The project's own copy (docs/); tests/test_docs.py keeps it equal to ../shared.
CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "api.graphql"


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    return build_schema(CONTRACT.read_text())


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
            # Values may be added (docs/api-next.graphql adds TrackStatus.BOT), never
            # renamed, dropped or reordered.
            kept = [value for value in served_type.values if value in graphql_type.values]
            assert kept == list(graphql_type.values), name
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


def test_every_admin_field_says_so_first(served: GraphQLSchema) -> None:
    admin = admin_fields(served)
    for type_name in ("Query", "Mutation"):
        graphql_type = served.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        for name, field in graphql_type.fields.items():
            says = (field.description or "").startswith("Admin only.")
            assert says == (f"{type_name}.{name}" in admin), f"{type_name}.{name}"


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


def test_the_served_parts_of_api_next(served: GraphQLSchema) -> None:
    """docs/api-next.graphql names, for the parts served so far (context and tenants)."""
    scalars = "scalar Date\nscalar DateTime\n"  # declared in api.graphql, not repeated there
    upcoming = build_schema(scalars + (CONTRACT.parent / "api-next.graphql").read_text())
    for name in ("Tenant", "TenantInput", "LandingStats", "VisitorsDay", "TodayStats"):
        expected, got = upcoming.type_map[name], served.type_map[name]
        assert isinstance(expected, GraphQLObjectType | GraphQLInputObjectType)
        assert isinstance(got, GraphQLObjectType | GraphQLInputObjectType)
        assert {f: str(v.type) for f, v in expected.fields.items()} == {
            f: str(v.type) for f, v in got.fields.items()
        }, name
    fields = {
        name: {f: str(v.type) for f, v in getattr(served.type_map[name], "fields", {}).items()}
        for name in ("Query", "Mutation", "DashboardStats", "TrackEventInput", "ImportEventInput")
    }
    assert fields["Query"]["tenants"] == "[Tenant!]!"
    assert fields["Query"]["landingStats"] == "LandingStats!"
    assert fields["Query"]["todayStats"] == "TodayStats!"
    query = served.type_map["Query"]
    assert isinstance(query, GraphQLObjectType)
    for view in ("landingStats", "todayStats"):
        assert {a: str(v.type) for a, v in query.fields[view].args.items()} == {
            "tenantId": "ID",
            "timezone": "String",
        }
    assert fields["Mutation"]["upsertTenant"] == "Tenant!"
    upsert = served.type_map["Mutation"]
    assert isinstance(upsert, GraphQLObjectType)
    assert {a: str(v.type) for a, v in upsert.fields["upsertTenant"].args.items()} == {
        "id": "ID!",
        "input": "TenantInput!",
    }
    assert fields["DashboardStats"]["currency"] == "String!"
    # issue 9 (analytics), served so far: metrics.
    for name in (
        "EventFilter",
        "DataPoint",
        "MetricSeries",
        "KpiValue",
        "Overview",
        "ProductRow",
        "ProductsReport",
        "Cohort",
        "CustomersReport",
        "ChannelRow",
        "WhatsappAttribution",
        "MarketingReport",
        "BreakdownRow",
        "Breakdown",
    ):
        expected, got = upcoming.type_map[name], served.type_map[name]
        assert isinstance(expected, GraphQLObjectType | GraphQLInputObjectType)
        assert isinstance(got, GraphQLObjectType | GraphQLInputObjectType)
        assert {f: str(v.type) for f, v in expected.fields.items()} == {
            f: str(v.type) for f, v in got.fields.items()
        }, name
    for name in ("Metric", "Granularity", "Comparison", "Dimension"):
        expected_enum, got_enum = upcoming.type_map[name], served.type_map[name]
        assert isinstance(expected_enum, GraphQLEnumType) and isinstance(got_enum, GraphQLEnumType)
        assert list(got_enum.values) == list(expected_enum.values), name
    assert fields["Query"]["metrics"] == "MetricSeries!"
    assert fields["Query"]["overview"] == "Overview!"
    assert fields["Query"]["products"] == "ProductsReport!"
    assert fields["Query"]["customers"] == "CustomersReport!"
    funnel_args = {a: str(v.type) for a, v in query.fields["funnel"].args.items()}
    assert {a: funnel_args[a] for a in ("steps", "ordered", "windowMinutes", "period")} == {
        "steps": "[String!]",
        "ordered": "Boolean!",
        "windowMinutes": "Int",
        "period": "String",
    }
    step = served.type_map["FunnelStep"]
    assert isinstance(step, GraphQLObjectType)
    assert {
        f: str(step.fields[f].type)
        for f in ("conversionFromPrevious", "conversionFromStart", "dropoff")
    } == {
        "conversionFromPrevious": "Float!",
        "conversionFromStart": "Float!",
        "dropoff": "Int!",
    }
    assert fields["Query"]["marketing"] == "MarketingReport!"
    assert fields["Query"]["breakdown"] == "Breakdown!"
    assert fields["Query"]["events"] == "EventConnection!"
    events_args = {a: str(v.type) for a, v in query.fields["events"].args.items()}
    assert {
        a: events_args[a] for a in ("first", "after", "period", "start", "end", "eventType")
    } == {
        "first": "Int!",
        "after": "String",
        "period": "String",
        "start": "Date",
        "end": "Date",
        "eventType": "String",
    }
    assert "first: Int! = 100" in print_schema(served)
    assert {a: str(v.type) for a, v in query.fields["breakdown"].args.items()} == {
        "metric": "Metric!",
        "by": "Dimension!",
        "period": "String",
        "start": "Date",
        "end": "Date",
        "eventType": "String",
        "filter": "EventFilter",
        "limit": "Int!",
        "offset": "Int!",
        "tenantId": "ID",
        "timezone": "String",
    }
    for view in ("overview", "customers", "marketing"):
        assert {a: str(v.type) for a, v in query.fields[view].args.items()} == {
            "period": "String",
            "start": "Date",
            "end": "Date",
            "tenantId": "ID",
            "timezone": "String",
        }
    assert {a: str(v.type) for a, v in query.fields["products"].args.items()} == {
        "period": "String",
        "start": "Date",
        "end": "Date",
        "limit": "Int!",
        "offset": "Int!",
        "tenantId": "ID",
        "timezone": "String",
    }
    assert {a: str(v.type) for a, v in query.fields["overview"].args.items()} == {
        "period": "String",
        "start": "Date",
        "end": "Date",
        "tenantId": "ID",
        "timezone": "String",
    }
    assert {a: str(v.type) for a, v in query.fields["metrics"].args.items()} == {
        "metric": "Metric!",
        "period": "String",
        "start": "Date",
        "end": "Date",
        "granularity": "Granularity!",
        "eventType": "String",
        "filter": "EventFilter",
        "compare": "Comparison",
        "tenantId": "ID",
        "timezone": "String",
    }
    assert {fields["TrackEventInput"][f] for f in ("url", "referrer")} == {"String"}
    imported = ("url", "referrer", "visitorId", "country", "userAgent", "utmSource", "utmMedium")
    assert {fields["ImportEventInput"][f] for f in (*imported, "utmCampaign")} == {"String"}
    status = served.type_map["TrackStatus"]
    assert isinstance(status, GraphQLEnumType) and "BOT" in status.values
    assert {
        "Query.tenants",
        "Query.landingStats",
        "Query.todayStats",
        "Mutation.upsertTenant",
    } <= admin_fields(served)
