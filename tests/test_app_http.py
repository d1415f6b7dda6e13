"""Through the real ASGI app: transport, limits, access, error codes, ingestion."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from graphql import get_introspection_query

from auth.tokens import issue_token
from storage.embedded import EmbeddedDatabase
from tests.conftest import FREE, SECRET, cost, token

TRACK = "mutation($input: TrackEventInput!) { trackEvent(input: $input) { status sessionId } }"
DASHBOARD = "query($t: ID) { dashboardStats(tenantId: $t) { mode } }"
IMPORT = """mutation($events: [ImportEventInput!]!, $t: ID) {
  importEvents(events: $events, tenantId: $t) { inserted duplicates } }"""


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    bearer: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_track_event_links_a_valid_token_and_ignores_a_bad_one(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    shopper = issue_token(SECRET, email="ana@shop.co")
    ok = await gql(
        client, TRACK, {"input": {"eventType": "page_view", "sessionId": "s1"}}, bearer=shopper
    )
    assert ok == {"data": {"trackEvent": {"status": "OK", "sessionId": "s1"}}, "extensions": FREE}
    bad = await gql(
        client, TRACK, {"input": {"eventType": "page_view", "sessionId": "s2"}}, bearer="garbage"
    )
    assert bad["data"]["trackEvent"]["status"] == "OK"
    generated = await gql(client, TRACK, {"input": {"eventType": "page_view"}})
    assert len(generated["data"]["trackEvent"]["sessionId"]) == 36
    users = {doc["sessionId"]: doc["userId"] for doc in database.documents()}
    assert users["s1"] == "ana@shop.co" and users["s2"] is None


async def test_track_event_rejects_bad_input_naming_the_field(client: httpx.AsyncClient) -> None:
    body = await gql(client, TRACK, {"input": {"eventType": "Bad Type"}})
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.eventType"}
    body = await gql(client, TRACK, {"input": {"eventType": "x", "tenantId": "no spaces"}})
    assert body["errors"][0]["extensions"]["field"] == "input.tenantId"
    body = await gql(client, TRACK, {"input": {"eventType": "x", "price": "ten"}})
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_racing_identical_http_calls_store_one(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    variables = {"input": {"eventType": "purchase", "sessionId": "s", "idempotencyKey": "order-9"}}
    bodies = await asyncio.gather(*(gql(client, TRACK, variables) for _ in range(25)))
    statuses = sorted(body["data"]["trackEvent"]["status"] for body in bodies)
    assert statuses == ["DUPLICATE_IGNORED"] * 24 + ["OK"]
    assert await database.count_events() == 1


async def test_get_queries_graphiql_and_its_assets(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}, "extensions": FREE}
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    script = await client.get("/graphiql/static/vendor/graphiql/graphiql.min.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    mutation = await client.get("/graphql", params={"query": "mutation { __typename }"})
    assert mutation.status_code == 405 and mutation.headers["allow"] == "POST"


async def test_healthz(client: httpx.AsyncClient, database: EmbeddedDatabase) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    await database.close()
    response = await client.get("/healthz")
    assert response.status_code == 503


async def test_bodies_over_one_mebibyte_are_refused(client: httpx.AsyncClient) -> None:
    big = b'{"query": "{ __typename }", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post(
        "/graphql", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536  # 1.25 MiB with no Content-Length

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert (await client.get("/healthz")).status_code == 200


async def test_query_cost_limits(client: httpx.AsyncClient) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(300))
    body = await gql(client, "{ " + aliases + " }")
    assert body.get("data") is None and codes(body) == ["BAD_USER_INPUT"]
    # Introspection types are recursive: 17 levels through __Type.fields.type are refused,
    # while GraphiQL's own introspection query passes.
    deep = "{ __schema { types { " + "fields { type { " * 7 + "name" + " } }" * 7 + " } } }"
    body = await gql(client, deep)
    assert body.get("data") is None
    assert "query depth 17 exceeds the limit of 15" in [e["message"] for e in body["errors"]]
    assert set(codes(body)) == {"BAD_USER_INPUT"}
    introspection = await gql(client, get_introspection_query(input_value_deprecation=True))
    assert "errors" not in introspection
    tokens = "{ " + " ".join("__typename" for _ in range(3000)) + " }"
    body = await gql(client, tokens)
    assert body.get("data") is None and codes(body) == ["BAD_USER_INPUT"]


def expired() -> str:
    return issue_token(
        SECRET, email="a@x.co", admin=True, now=datetime.now(UTC) - timedelta(days=31)
    )


@pytest.mark.parametrize(
    "bearer",
    [
        None,
        "not.a.jwt",
        issue_token("wrong-secret-wrong-secret-wrong-secret!", email="a@x.co", admin=True),
        jwt.encode({"is_admin": True, "exp": 4102444800}, None, algorithm="none"),
        jwt.encode({"email": "a@x.co", "is_admin": True}, SECRET, algorithm="HS256"),
    ],
    ids=["none", "malformed", "wrong-signature", "alg-none", "no-exp"],
)
async def test_admin_fields_need_a_valid_token(
    client: httpx.AsyncClient, bearer: str | None
) -> None:
    body = await gql(client, DASHBOARD, bearer=bearer)
    assert body["data"] is None and codes(body) == ["UNAUTHENTICATED"]


async def test_expired_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    body = await gql(client, DASHBOARD, bearer=expired())
    assert body["data"] is None and codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("claims", "tenant", "allowed"),
    [
        ({"admin": False}, None, False),
        ({"admin": True}, None, True),
        ({"admin": True}, "shop2", False),
        ({"admin": True, "tenant": "shop2"}, "shop2", True),
        ({"admin": True, "tenant": "shop2"}, None, False),
        ({"admin": True, "tenant": "*"}, "any-shop", True),
    ],
)
async def test_tenant_scope(
    client: httpx.AsyncClient, claims: dict[str, Any], tenant: str | None, allowed: bool
) -> None:
    bearer = token(admin=claims["admin"], tenant=claims.get("tenant"))
    body = await gql(client, DASHBOARD, {"t": tenant}, bearer=bearer)
    if allowed:
        assert body == {"data": {"dashboardStats": {"mode": "TOTAL"}}, "extensions": cost(3, 997)}
    else:
        assert body["data"] is None and codes(body) == ["FORBIDDEN"]


async def test_denied_admin_field_returns_no_data_beside_public_ones(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, "{ __typename dashboardStats { mode } }")
    assert body["data"] is None and codes(body) == ["UNAUTHENTICATED"]


async def test_every_client_error_has_a_code(client: httpx.AsyncClient) -> None:
    for query, variables in [
        ("{ nope }", None),
        ("{ dashboardStats { ", None),
        ("query($m: CountMode!) { dashboardStats(mode: $m) { mode } }", {"m": "SOMETIMES"}),
        ('{ dashboardStats(timezone: "Mars/Olympus") { startDate } }', None),
        ('{ dashboardStats(tenantId: "bad tenant") { mode } }', None),
        # A variable with a default may stand for a non-null argument; sent as null,
        # graphql-core refuses the argument as the field runs.
        ("query($g: Granularity = DAY) { metrics(metric: REVENUE, granularity: $g) { total } }",
         {"g": None}),
        ("query($m: CountMode = TOTAL) { dashboardStats(mode: $m) { mode } }", {"m": None}),
    ]:  # fmt: skip
        body = await gql(client, query, variables, bearer=token(tenant="*"))
        assert codes(body) == ["BAD_USER_INPUT"], (query, body)
    body = await gql(
        client,
        "query($m: CountMode = TOTAL) { dashboardStats(mode: $m) { mode } }",
        {"m": None},
        bearer=token(tenant="*"),
    )
    assert body["data"] is None and body["errors"][0]["path"] == ["dashboardStats"]
    assert body["errors"][0]["message"].startswith("Argument 'mode' has invalid value")


async def test_a_null_for_a_non_null_field_is_the_servers_error(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resolvers import admin_views

    async def none(*args: object, **kwargs: object) -> None:
        return None

    monkeypatch.setattr(admin_views, "rfm", none)
    body = await gql(client, "{ rfm { startDate } }", bearer=token(tenant="*"))
    assert codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert body["errors"][0]["message"] == "Internal server error."


async def test_unexpected_errors_are_masked_and_the_server_goes_on(
    client: httpx.AsyncClient, database: EmbeddedDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> list[bool]:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(database, "insert_events", broken)
    body = await gql(client, TRACK, {"input": {"eventType": "page_view"}})
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Internal server error."
    assert codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert "secret" not in str(body)
    monkeypatch.undo()
    ok = await gql(client, TRACK, {"input": {"eventType": "page_view"}})
    assert ok["data"]["trackEvent"]["status"] == "OK"


def history(count: int, **overrides: Any) -> list[dict[str, Any]]:
    base = datetime.now(UTC) - timedelta(days=3)
    return [
        {
            "eventType": "purchase",
            "sessionId": f"s{i}",
            "price": 10.0,
            "createdAt": (base + timedelta(minutes=i)).isoformat(),
            **overrides,
        }
        for i in range(count)
    ]


async def test_import_is_all_or_nothing_and_repeatable(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    admin = token(tenant="*")
    events = history(3)
    events[2]["price"] = -1
    body = await gql(client, IMPORT, {"events": events}, bearer=admin)
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "events[2].price"}
    assert await database.count_events() == 0

    events[2]["price"] = 1.0
    first = await gql(client, IMPORT, {"events": events, "t": "shop2"}, bearer=admin)
    assert first == {"data": {"importEvents": {"inserted": 3, "duplicates": 0}}, "extensions": FREE}
    again = await gql(client, IMPORT, {"events": events, "t": "shop2"}, bearer=admin)
    assert again == {"data": {"importEvents": {"inserted": 0, "duplicates": 3}}, "extensions": FREE}
    assert await database.count_events("shop2") == 3


async def test_import_limits_and_access(client: httpx.AsyncClient) -> None:
    body = await gql(client, IMPORT, {"events": history(1001)}, bearer=token(tenant="*"))
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "events"}
    future = history(1, createdAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    body = await gql(client, IMPORT, {"events": future}, bearer=token(tenant="*"))
    assert body["errors"][0]["extensions"]["field"] == "events[0].createdAt"
    body = await gql(client, IMPORT, {"events": history(1)}, bearer=token(admin=False))
    assert codes(body) == ["FORBIDDEN"]
    body = await gql(client, IMPORT, {"events": history(1)})
    assert codes(body) == ["UNAUTHENTICATED"]
    body = await gql(client, IMPORT, {"events": history(1000)}, bearer=token(tenant="*"))
    assert body == {
        "data": {"importEvents": {"inserted": 1000, "duplicates": 0}},
        "extensions": FREE,
    }


TRACK_MANY = """mutation($events: [TrackEventInput!]!) {
  trackEvents(events: $events) { index status sessionId error { code field } } }"""


async def test_track_events_reports_each_item_in_order(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    events = [
        {"eventType": "page_view", "sessionId": "a", "idempotencyKey": "k"},
        {"eventType": "BAD", "sessionId": "b"},
        {"eventType": "page_view", "sessionId": "a", "idempotencyKey": "k"},
        {"eventType": "add_to_cart", "sessionId": "c", "price": 2.5},
    ]
    body = await gql(client, TRACK_MANY, {"events": events})
    assert body == {
        "data": {
            "trackEvents": [
                {"index": 0, "status": "OK", "sessionId": "a", "error": None},
                {
                    "index": 1,
                    "status": None,
                    "sessionId": None,
                    "error": {"code": "BAD_USER_INPUT", "field": "events[1].eventType"},
                },
                {"index": 2, "status": "DUPLICATE_IGNORED", "sessionId": "a", "error": None},
                {"index": 3, "status": "OK", "sessionId": "c", "error": None},
            ]
        },
        "extensions": FREE,
    }
    assert await database.count_events() == 2
    too_many = await gql(client, TRACK_MANY, {"events": [{"eventType": "x"}] * 101})
    assert too_many["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "events"}
