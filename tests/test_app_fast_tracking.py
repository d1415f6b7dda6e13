"""The tracking fast path (``app.graphql_fast``) answers exactly as Strawberry's execution.

Two apps, one with the fast path and one without, each on its own store, get the
same requests in the same order (each one three times: the first teaches the
fast path its document) and must give the same status, headers and body, and
store the same events. The request time is frozen so that idempotency windows,
rate-limit minutes and stored times are the same on both.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

import app.http
from app.graphql_fast import MAX_PLANS, FastDocuments
from app.graphql_http import GraphQLEndpoint
from auth.tokens import issue_token
from core.settings import load_settings
from schema import build_schema
from storage.embedded import EmbeddedDatabase
from tests.conftest import FREE, SECRET, cost
from tests.live_server import Server

GQL = "application/graphql-response+json"
JSON = "application/json"
# Half past the minute: a test never runs long enough to reach its end.
FROZEN = datetime.now(UTC).replace(second=30, microsecond=0)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status sessionId } }"
TRACK_NAMED = "mutation Track($e: TrackEventInput!) { trackEvent(input: $e) { status } }"
MANY = """mutation($events: [TrackEventInput!]!) { trackEvents(events: $events) {
  index status sessionId error { code message field retryAfter } } }"""
EVENT = {"eventType": "page_view", "sessionId": "s1", "url": "https://shop.example/?utm_source=x"}
FULL = {
    "eventType": "purchase",
    "sessionId": "s2",
    "tenantId": "shop2",
    "productSlug": "tee",
    "productName": "Tee",
    "price": 19.5,
    "metadata": {"quantity": 2, "order_id": 7, "nested": {"a": [1, 2, {"b": None}]}},
    "source": "instagram",
    "errorMessage": None,
    "idempotencyKey": "k-full",
    "url": "https://shop.example/p/tee?utm_campaign=c",
    "referrer": "https://www.google.com/",
}


IMPORT = "mutation($e: [ImportEventInput!]!) { importEvents(events: $e) { inserted duplicates } }"
IMPORT_TENANT = """mutation($e: [ImportEventInput!]!, $t: ID) {
  importEvents(tenantId: $t, events: $e) { inserted duplicates } }"""
# Three days before the frozen request time, written east of UTC.
PAST = {
    "eventType": "page_view",
    "sessionId": "i",
    "createdAt": (FROZEN - timedelta(days=3, microseconds=322))
    .astimezone(timezone(timedelta(hours=2)))
    .isoformat(),
}
PAST_FULL = {
    **PAST,
    "eventType": "purchase",
    "userId": "ana@shop.co",
    "productSlug": "tee",
    "productName": "Tee",
    "price": 19,
    "metadata": {"quantity": 2, "order_id": "o-9"},
    "source": "email",
    "url": "https://shop.example/p/tee?utm_campaign=c",
    "referrer": "https://www.google.com/",
    "visitorId": "v-1",
    "country": "CL",
    "userAgent": "Mozilla/5.0",
    "utmSource": "news",
    "utmMedium": "email",
    "utmCampaign": "june",
}


def body(query: str, variables: Any = None, **more: Any) -> dict[str, Any]:
    return {"query": query, "variables": variables, **more}


def deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"x": value}
    return value


def shopper() -> str:
    return f"Bearer {issue_token(SECRET, email='ana@shop.co')}"


def ingest() -> str:
    claims = {"email": "s@x.co", "ingest": True, "exp": int(time.time()) + 600}
    return f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"


def admin() -> str:
    return f"Bearer {issue_token(SECRET, email='ops@shop.co', admin=True, tenant='*')}"


def scoped_admin(tenant: str) -> str:
    return f"Bearer {issue_token(SECRET, email='ops@shop.co', admin=True, tenant=tenant)}"


@dataclass
class Case:
    """One request: a JSON body (or raw bytes), headers, method."""

    name: str
    payload: Any
    headers: dict[str, str] | None = None
    method: str = "POST"
    fast: bool = False  # expected to be answered by the fast path from its second send

    def request(self) -> tuple[str, bytes | None, dict[str, str]]:
        headers = {"content-type": JSON, **(self.headers or {})}
        if self.method == "GET":
            return "GET", None, headers
        raw = self.payload if isinstance(self.payload, bytes) else json.dumps(self.payload).encode()
        return "POST", raw, headers


CASES = [
    Case("valid", body(TRACK, {"e": EVENT}), fast=True),
    Case("every field", body(TRACK, {"e": FULL}), fast=True),
    Case(
        "fields in another order",
        body(TRACK.replace("status sessionId", "sessionId status"), {"e": EVENT}),
        fast=True,
    ),
    Case(
        "typename", body(TRACK.replace("{ status", "{ __typename status"), {"e": EVENT}), fast=True
    ),
    Case(
        "aliases",
        body(
            "mutation($e: TrackEventInput!) { t: trackEvent(input: $e) "
            "{ s: status id: sessionId kind: __typename } }",
            {"e": EVENT},
        ),
        fast=True,
    ),
    Case(
        "same field twice",
        body(TRACK.replace("status sessionId", "status status sessionId"), {"e": EVENT}),
    ),
    Case(
        "same key twice by alias",
        body(TRACK.replace("sessionId }", "sessionId status: status }"), {"e": EVENT}),
    ),
    Case(
        "alias clash",
        body(TRACK.replace("status sessionId", "status: sessionId status"), {"e": EVENT}),
    ),
    Case(
        "include",
        body(
            "mutation($e: TrackEventInput!, $y: Boolean!) { trackEvent(input: $e) "
            "{ status sessionId @include(if: $y) } }",
            {"e": EVENT, "y": False},
        ),
    ),
    Case(
        "skip",
        body(
            "mutation($e: TrackEventInput!) { trackEvent(input: $e) @skip(if: true) { status } }",
            {"e": EVENT},
        ),
    ),
    Case(
        "fragment",
        body(
            "mutation($e: TrackEventInput!) { trackEvent(input: $e) { ...R } } "
            "fragment R on TrackEventResult { status sessionId }",
            {"e": EVENT},
        ),
    ),
    Case(
        "inline fragment",
        body(
            "mutation($e: TrackEventInput!) { trackEvent(input: $e) "
            "{ ... on TrackEventResult { status } } }",
            {"e": EVENT},
        ),
    ),
    Case(
        "unused fragment", body(TRACK + " fragment R on TrackEventResult { status }", {"e": EVENT})
    ),
    Case(
        "named, with operationName",
        body(TRACK_NAMED, {"e": EVENT}, operationName="Track"),
        fast=True,
    ),
    Case("named, no operationName", body(TRACK_NAMED, {"e": EVENT}), fast=True),
    Case("named, wrong operationName", body(TRACK_NAMED, {"e": EVENT}, operationName="Nope")),
    Case(
        "two operations, one chosen",
        body(
            TRACK_NAMED + " mutation Other($e: TrackEventInput!) { trackEvent(input: $e) "
            "{ sessionId } }",
            {"e": EVENT},
            operationName="Other",
        ),
        fast=True,
    ),
    Case(
        "two operations, none chosen",
        body(
            TRACK_NAMED + " mutation Other($e: TrackEventInput!) { trackEvent(input: $e) "
            "{ sessionId } }",
            {"e": EVENT},
        ),
    ),
    Case(
        "two root fields",
        body(
            "mutation($e: TrackEventInput!) { a: trackEvent(input: $e) "
            "{ status } b: trackEvent(input: $e) { status } }",
            {"e": EVENT},
        ),
    ),
    Case(
        "root typename too",
        body(
            "mutation($e: TrackEventInput!) { __typename trackEvent(input: $e) { status } }",
            {"e": EVENT},
        ),
    ),
    Case(
        "literal input",
        body(
            'mutation { trackEvent(input: {eventType: "page_view", '
            'sessionId: "lit"}) { status sessionId } }'
        ),
        fast=True,
    ),
    Case(
        "literal bad input",
        body('mutation { trackEvent(input: {eventType: "Bad Type"}) { status } }'),
        fast=True,
    ),
    Case(
        "variable default",
        body(
            'mutation($e: TrackEventInput = {eventType: "page_view"}) '
            "{ trackEvent(input: $e) { status } }"
        ),
        fast=True,
    ),
    Case(
        "variable default, null given",
        body(
            "mutation($e: TrackEventInput = {eventType: "
            '"page_view"}) { trackEvent(input: $e) '
            "{ status } }",
            {"e": None},
        ),
    ),
    Case("missing variables", body(TRACK)),
    Case("variables null", {"query": TRACK, "variables": None}),
    Case("null input", body(TRACK, {"e": None})),
    Case("missing eventType", body(TRACK, {"e": {"sessionId": "s"}})),
    Case("eventType a number", body(TRACK, {"e": {"eventType": 5}})),
    Case("eventType invalid", body(TRACK, {"e": {"eventType": "Not Valid"}}), fast=True),
    Case("unknown field", body(TRACK, {"e": {**EVENT, "colour": "red"}})),
    Case("price a string", body(TRACK, {"e": {**EVENT, "price": "12"}})),
    Case("price a bool", body(TRACK, {"e": {**EVENT, "price": True}})),
    Case("price an integer", body(TRACK, {"e": {**EVENT, "price": 12}}), fast=True),
    Case("price negative", body(TRACK, {"e": {**EVENT, "price": -1}}), fast=True),
    Case("price too big", body(TRACK, {"e": {**EVENT, "price": 1e300}}), fast=True),
    Case("price a huge integer", body(TRACK, {"e": {**EVENT, "price": 10**60}})),
    Case("tenant an integer", body(TRACK, {"e": {**EVENT, "tenantId": 42}}), fast=True),
    Case("tenant a float", body(TRACK, {"e": {**EVENT, "tenantId": 4.0}}), fast=True),
    Case("tenant a list", body(TRACK, {"e": {**EVENT, "tenantId": ["a"]}})),
    Case("tenant invalid", body(TRACK, {"e": {**EVENT, "tenantId": "bad tenant"}}), fast=True),
    Case("sessionId a list", body(TRACK, {"e": {**EVENT, "sessionId": ["s"]}})),
    Case("input a list", body(TRACK, {"e": [EVENT]})),
    Case("input a string", body(TRACK, {"e": "page_view"})),
    Case("metadata a list", body(TRACK, {"e": {**EVENT, "metadata": [1, 2]}}), fast=True),
    Case("metadata a string", body(TRACK, {"e": {**EVENT, "metadata": "x"}}), fast=True),
    Case("metadata nested deep", body(TRACK, {"e": {**EVENT, "metadata": deep(20)}}), fast=True),
    Case(
        "metadata too big", body(TRACK, {"e": {**EVENT, "metadata": {"x": "y" * 5000}}}), fast=True
    ),
    Case(
        "metadata with $ key", body(TRACK, {"e": {**EVENT, "metadata": {"$where": 1}}}), fast=True
    ),
    Case(
        "metadata huge integer", body(TRACK, {"e": {**EVENT, "metadata": {"n": 2**70}}}), fast=True
    ),
    Case("quantity zero", body(TRACK, {"e": {**EVENT, "metadata": {"quantity": 0}}}), fast=True),
    Case("refund without order", body(TRACK, {"e": {"eventType": "order.refunded"}}), fast=True),
    Case("long session", body(TRACK, {"e": {**EVENT, "sessionId": "s" * 300}}), fast=True),
    Case("empty session", body(TRACK, {"e": {**EVENT, "sessionId": ""}}), fast=True),
    Case("NUL in slug", body(TRACK, {"e": {**EVENT, "productSlug": "a\x00b"}}), fast=True),
    Case(
        "lone surrogate in a value",
        b'{"query": "' + TRACK.replace("$", "\\u0024").encode() + b'", "variables": {"e": '
        b'{"eventType": "page_view", "productName": "\\ud800"}}}',
        fast=True,
    ),
    Case(
        "lone surrogate in a variable name",
        b'{"query": "' + TRACK.encode() + b'", "variables": {"\\ud800": 1}}',
    ),
    Case(
        "duplicate keys in the input",
        b'{"query": "' + TRACK.encode() + b'", "variables": {"e": {"eventType": "Bad", '
        b'"eventType": "page_view", "sessionId": "dup"}}}',
        fast=True,
    ),
    Case(
        "duplicate query keys",
        b'{"query": "{ __typename }", "query": "' + TRACK.encode() + b'", "variables": '
        b'{"e": {"eventType": "page_view"}}}',
        fast=True,
    ),
    Case("extra variables", body(TRACK, {"e": EVENT, "unused": [1, 2]}), fast=True),
    Case(
        "extensions", body(TRACK, {"e": EVENT}, extensions={"persistedQuery": {"v": 1}}), fast=True
    ),
    Case("idempotency key", body(TRACK, {"e": {**EVENT, "idempotencyKey": "same"}}), fast=True),
    Case("shopper token", body(TRACK, {"e": EVENT}), {"authorization": shopper()}, fast=True),
    Case("bad token", body(TRACK, {"e": EVENT}), {"authorization": "Bearer nope"}, fast=True),
    Case(
        "ingest token",
        body(TRACK, {"e": EVENT}),
        {"authorization": ingest(), "x-forwarded-for": "1.2.3.4"},
        fast=True,
    ),
    Case("bot", body(TRACK, {"e": EVENT}), {"user-agent": "Googlebot/2.1"}, fast=True),
    Case(
        "origin allowed", body(TRACK, {"e": EVENT}), {"origin": "https://shop.example"}, fast=True
    ),
    Case(
        "origin refused", body(TRACK, {"e": EVENT}), {"origin": "https://evil.example"}, fast=True
    ),
    Case("accept graphql-response", body(TRACK, {"e": EVENT}), {"accept": GQL}, fast=True),
    Case(
        "accept graphql-response, bad variables",
        body(TRACK, {"e": {"eventType": 1}}),
        {"accept": GQL},
    ),
    Case("accept anything", body(TRACK, {"e": EVENT}), {"accept": "*/*"}, fast=True),
    Case("accept html only", body(TRACK, {"e": EVENT}), {"accept": "text/html"}),
    Case("text/plain", body(TRACK, {"e": EVENT}), {"content-type": "text/plain"}),
    Case("over GET", body(TRACK), method="GET"),
    Case("batch", [body(TRACK, {"e": EVENT})]),
    Case("not JSON", b'{"query": "' + TRACK.encode() + b'", "variables": {"e": NaN}}'),
    Case("rate limited", body(TRACK, {"e": {**EVENT, "tenantId": "limited"}}), fast=True),
    Case(
        "many",
        body(
            MANY,
            {
                "events": [
                    EVENT,
                    FULL,
                    {"eventType": "Bad"},
                    {"eventType": "page_view", "tenantId": "limited"},
                    {**EVENT, "metadata": {"quantity": -1}},
                ]
            },
        ),
        fast=True,
    ),
    Case(
        "many, typename and aliases",
        body(
            MANY.replace("index status", "i: index __typename status").replace("code", "c: code"),
            {"events": [EVENT, {"eventType": "x y"}]},
        ),
        fast=True,
    ),
    Case("many, one object for the list", body(MANY, {"events": EVENT}), fast=True),
    Case("many, empty", body(MANY, {"events": []}), fast=True),
    Case("many, too many", body(MANY, {"events": [EVENT] * 101}), fast=True),
    Case("many, a null item", body(MANY, {"events": [EVENT, None]})),
    Case(
        "many, origin refused",
        body(MANY, {"events": [EVENT]}),
        {"origin": "https://evil.example"},
        fast=True,
    ),
    Case("import (admin)", body(IMPORT, {"e": [PAST]}), {"authorization": admin()}, fast=True),
    Case(
        "import, every field, twice",
        body(IMPORT, {"e": [PAST_FULL, PAST_FULL]}),
        {"authorization": admin()},
        fast=True,
    ),
    Case(
        "import, tenant literal, typename and aliases",
        body(
            'mutation($e: [ImportEventInput!]!) { i: importEvents(tenantId: "shop2", events: $e) '
            "{ __typename n: inserted duplicates } }",
            {"e": [PAST, {**PAST, "sessionId": "i2"}]},
        ),
        {"authorization": admin()},
        fast=True,
    ),
    Case("import, no token", body(IMPORT, {"e": [PAST]}), fast=True),
    Case(
        "import, bad token", body(IMPORT, {"e": [PAST]}), {"authorization": "Bearer x"}, fast=True
    ),
    Case(
        "import, shopper token",
        body(IMPORT, {"e": [PAST]}),
        {"authorization": shopper()},
        fast=True,
    ),
    Case(
        "import, tenant outside the scope",
        body(IMPORT_TENANT, {"e": [PAST], "t": "shop2"}),
        {"authorization": scoped_admin("shop1")},
        fast=True,
    ),
    Case(
        "import, tenant in the scope",
        body(IMPORT_TENANT, {"e": [PAST], "t": "shop1"}),
        {"authorization": scoped_admin("shop1")},
        fast=True,
    ),
    Case(
        "import, tenant invalid",
        body(IMPORT_TENANT, {"e": [PAST], "t": "bad tenant"}),
        {"authorization": admin()},
        fast=True,
    ),
    Case(
        "import, createdAt not a time",
        body(IMPORT, {"e": [{**PAST, "createdAt": "yesterday"}]}),
        {"authorization": admin()},
    ),
    Case(
        "import, createdAt a number",
        body(IMPORT, {"e": [{**PAST, "createdAt": 1700000000}]}),
        {"authorization": admin()},
    ),
    Case(
        "import, no sessionId",
        body(IMPORT, {"e": [{"eventType": "page_view", "createdAt": PAST["createdAt"]}]}),
        {"authorization": admin()},
    ),
    Case("import, no variables", body(IMPORT), {"authorization": admin()}),
    Case(
        "import, bad variables, no token",
        body(IMPORT, {"e": [{**PAST, "price": "free"}]}),
    ),
    Case(
        "import, in the future",
        body(IMPORT, {"e": [PAST, {**PAST, "createdAt": "2999-01-01T00:00:00+00:00"}]}),
        {"authorization": admin()},
        fast=True,
    ),
    Case(
        "import, no offset",
        body(IMPORT, {"e": [{**PAST, "createdAt": "2026-01-01T00:00:00"}]}),
        {"authorization": admin()},
        fast=True,
    ),
    Case(
        "import, too many",
        body(IMPORT, {"e": [PAST] * 1001}),
        {"authorization": admin()},
        fast=True,
    ),
    Case(
        "import, bad country",
        body(IMPORT, {"e": [{**PAST, "country": "Chile"}]}),
        {"authorization": admin()},
        fast=True,
    ),
    Case("a query", body("{ __typename }")),
    Case("syntax error", body("mutation { trackEvent(")),
    Case(
        "too many tokens", body(TRACK.replace("status", "status " + "# c\n" * 2100), {"e": EVENT})
    ),
]


def normalized(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    """Status, headers and body, with generated UUIDs (session ids) made equal."""
    text = UUID.sub("<uuid>", response.text)
    headers = {k: UUID.sub("<uuid>", v) for k, v in response.headers.items() if k != "date"}
    try:
        return response.status_code, headers, json.loads(text)
    except ValueError:
        return response.status_code, headers, text


def stored(database: EmbeddedDatabase) -> list[dict[str, Any]]:
    documents = []
    for document in database.documents():
        document = {k: v for k, v in document.items() if k != "_id"}
        if document["dedupeKey"].startswith("auto:"):  # random by design
            document["dedupeKey"] = "auto"
        documents.append(
            {k: UUID.sub("<uuid>", v) if isinstance(v, str) else v for k, v in document.items()}
        )
    return sorted(documents, key=repr)


def endpoint_of(application: Starlette) -> GraphQLEndpoint:
    # The HTTP route (the WebSocket one shares its path).
    (found,) = (
        r.endpoint for r in application.routes if isinstance(r, Route) and r.path == "/graphql"
    )
    assert isinstance(found, GraphQLEndpoint)
    return found


@dataclass
class Pair:
    fast: httpx.AsyncClient
    slow: httpx.AsyncClient
    fast_database: EmbeddedDatabase
    slow_database: EmbeddedDatabase
    documents: FastDocuments

    async def send(self, case: Case) -> tuple[Any, Any]:
        method, content, headers = case.request()
        url = "/graphql"
        if method == "GET":
            url += "?" + str(httpx.QueryParams({"query": case.payload["query"]}))
        answers = []
        for client in (self.fast, self.slow):
            response = await client.request(method, url, content=content, headers=headers)
            answers.append(normalized(response))
        return answers[0], answers[1]


@pytest.fixture
async def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Pair]:
    monkeypatch.setattr(app.http, "utcnow", lambda: FROZEN)
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "JWT_SECRET": SECRET,
            "CORS_ORIGINS": "https://shop.example",
            "TRUSTED_PROXIES": "127.0.0.1",
            # Tenant "limited" gets its own limit; the others none, so that every case stores.
            "TENANT_RATE_LIMIT_PER_MINUTE": "0",
        }
    )
    databases = [
        await EmbeddedDatabase.open(tmp_path / name, fsync_seconds=0) for name in ("fast", "slow")
    ]
    apps = [
        app.http.create_app(settings, database=database, fast_tracking=fast)
        for database, fast in zip(databases, (True, False), strict=True)
    ]
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application, client=("127.0.0.1", 4000)),
            base_url="http://test",
        )
        for application in apps
    ]
    documents = endpoint_of(apps[0]).fast
    assert documents is not None and endpoint_of(apps[1]).fast is None
    pair = Pair(clients[0], clients[1], databases[0], databases[1], documents)
    upsert = body('mutation { upsertTenant(id: "limited", input: {rateLimitPerMinute: 4}) { id } }')
    for client in clients:
        response = await client.post("/graphql", json=upsert, headers={"authorization": admin()})
        assert response.json() == {
            "data": {"upsertTenant": {"id": "limited"}},
            "extensions": cost(1, 999),
        }
    try:
        yield pair
    finally:
        for client in clients:
            await client.aclose()
        for database in databases:
            await database.close()


async def test_every_shape_answers_and_stores_the_same(pair: Pair) -> None:
    for case in CASES:
        for attempt in range(3):
            answered = pair.documents.answered + pair.documents.replayed
            fast, slow = await pair.send(case)
            assert fast == slow, (case.name, attempt)
            served = pair.documents.answered + pair.documents.replayed > answered
            if attempt:  # the first send may be what teaches the fast path the document
                assert served == case.fast, (case.name, attempt, fast)
    assert stored(pair.fast_database) == stored(pair.slow_database)
    assert pair.documents.answered > 50 and pair.documents.replayed > 10


def test_the_cases_are_what_they_say() -> None:
    # A few answers checked by hand, so that "the same" is not "the same mistake".
    names = {case.name for case in CASES}
    assert len(names) == len(CASES)


async def test_hand_checked_answers(pair: Pair) -> None:
    by_name = {case.name: case for case in CASES}
    for _ in range(2):
        fast, slow = await pair.send(by_name["aliases"])
    assert fast == slow
    assert fast[2] == {
        "data": {"t": {"s": "OK", "id": "s1", "kind": "TrackEventResult"}},
        "extensions": FREE,
    }
    for _ in range(2):
        fast, _ = await pair.send(by_name["price negative"])
    assert fast[0] == 200
    assert fast[2]["data"] is None
    assert [(e["path"], e["extensions"]) for e in fast[2]["errors"]] == [
        (["trackEvent"], {"code": "BAD_USER_INPUT", "field": "input.price"})
    ]
    assert fast[2]["errors"][0]["locations"] == [{"line": 1, "column": 34}]
    for _ in range(6):
        fast, slow = await pair.send(by_name["rate limited"])
        assert fast == slow
    assert fast[2]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    for name, answer in (
        ("import (admin)", {"importEvents": {"inserted": 1, "duplicates": 0}}),
        ("import, every field, twice", {"importEvents": {"inserted": 1, "duplicates": 1}}),
    ):
        fast, slow = await pair.send(by_name[name])
        assert fast == slow
        assert fast[2] == {"data": answer, "extensions": FREE}
        fast, slow = await pair.send(by_name[name])  # the fast path's own answer
        assert fast == slow
        assert fast[2]["data"]["importEvents"]["inserted"] == 0
    for name, code in (
        ("import, no token", "UNAUTHENTICATED"),
        ("import, shopper token", "FORBIDDEN"),
        ("import, tenant outside the scope", "FORBIDDEN"),
        ("import, in the future", "BAD_USER_INPUT"),
    ):
        for _ in range(2):
            fast, slow = await pair.send(by_name[name])
            assert fast == slow
        assert fast[2]["data"] is None, name
        assert [e["extensions"]["code"] for e in fast[2]["errors"]] == [code], name
        assert fast[2]["errors"][0]["path"] == ["importEvents"]
        assert fast[2]["extensions"] == FREE


async def test_internal_failures_answer_the_same(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    import metrics.ingest
    import resolvers.tracking

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    valid, many = CASES[0], next(c for c in CASES if c.name == "many")
    for case in (valid, many):  # learned before anything breaks
        await pair.send(case)
    with monkeypatch.context() as patch:
        patch.setattr(metrics.ingest, "track_events", broken)
        for case in (valid, many):
            fast, slow = await pair.send(case)
            assert fast == slow
            assert fast[2]["data"] is None
            assert fast[2]["errors"][0]["message"] == "Internal server error."
            assert fast[2]["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    # A value the result type cannot hold: graphql-core's null and error, on both paths.
    with monkeypatch.context() as patch:
        patch.setattr(
            resolvers.tracking,
            "TrackEventResult",
            lambda status, session_id: SimpleNamespace(status="NOT_A_STATUS", session_id=None),
        )
        fast, slow = await pair.send(valid)
        assert fast == slow
        assert fast[2]["data"] is None and len(fast[2]["errors"]) == 1
    with monkeypatch.context() as patch:
        patch.setattr(
            resolvers.tracking,
            "TrackEventsItem",
            lambda **fields: SimpleNamespace(
                **{**fields, "index": None if fields["index"] == 1 else fields["index"]}
            ),
        )
        fast, slow = await pair.send(many)
        assert fast == slow
        assert fast[2]["data"] is None and fast[2]["errors"][0]["path"] == [
            "trackEvents",
            1,
            "index",
        ]
    assert pair.documents.replayed == 4


async def test_the_plans_are_bounded(pair: Pair) -> None:
    documents = pair.documents
    for number in range(MAX_PLANS * 3):
        query = TRACK.replace("status", f"status # {number}\n")
        for _ in range(2):
            fast, slow = await pair.send(Case(f"flood {number}", body(query, {"e": EVENT})))
            assert fast == slow
        assert len(documents.plans) <= MAX_PLANS
    assert documents.answered >= MAX_PLANS * 3
    long = TRACK + " " * documents.max_query_chars
    for _ in range(3):
        await pair.send(Case("long", body(long, {"e": EVENT})))
    assert (long, None) not in documents.plans


def test_plans_keep_no_locations() -> None:
    documents = FastDocuments(build_schema())
    documents.learn(TRACK, None)
    plan = documents.get(TRACK, None)
    assert plan is not None and plan.node.loc is None and plan.operation.loc is None


# Through real server processes, as a hostile client sends it: one with the fast
# path, one without (started with create_app(fast_tracking=False)).
WITHOUT_FAST_PATH = (
    "import functools, sys, app.http, main; "
    "app.http.create_app = functools.partial(app.http.create_app, fast_tracking=False); "
    "sys.exit(main.main([]))"
)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    root = tmp_path_factory.mktemp("fast-servers")
    env = {
        "JWT_SECRET": SECRET,
        "CORS_ORIGINS": "https://shop.example",
        "TENANT_RATE_LIMIT_PER_MINUTE": "0",
    }
    fast = Server(root / "fast", env=env)
    try:
        slow = Server(root / "slow", env=env, argv=[sys.executable, "-c", WITHOUT_FAST_PATH])
    except BaseException:
        fast.kill()
        raise
    yield fast, slow
    fast.kill()
    slow.kill()


# Cases whose answer does not depend on the request time (the servers' clocks run).
HOSTILE = [
    case for case in CASES if case.name != "rate limited" and not case.name.startswith("import")
]


@pytest.mark.slow
def test_real_servers_answer_the_same(servers: tuple[Server, Server]) -> None:
    fast, slow = servers
    with httpx.Client(timeout=10) as client:
        for case in HOSTILE:
            method, content, headers = case.request()
            answers = []
            for server in (fast, slow):
                url = f"{server.url}/graphql"
                if method == "GET":
                    url += "?" + str(httpx.QueryParams({"query": case.payload["query"]}))
                for _ in range(3):
                    response = client.request(method, url, content=content, headers=headers)
                    answers.append(normalized(response))
            assert answers[:3] == answers[3:], case.name
        # A body sent in chunks, over one kept-alive connection.
        method, content, headers = CASES[0].request()
        assert content is not None
        chunked = [
            normalized(
                client.post(
                    f"{server.url}/graphql",
                    content=iter([content[:7], content[7:40], content[40:]]),
                    headers=headers,
                )
            )
            for server in (fast, slow)
            for _ in range(3)
        ]
        assert chunked[:3] == chunked[3:]
        assert chunked[2][2] == {
            "data": {"trackEvent": {"status": "OK", "sessionId": "s1"}},
            "extensions": FREE,
        }


def typed(value: Any) -> Any:
    """``value`` with every leaf's type beside it: 12 and 12.0 differ here."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, repr(value))


def test_coercion_is_graphql_cores_own() -> None:
    import random

    from graphql.execution.values import VariableValues, get_variable_values

    schema = build_schema()
    documents = FastDocuments(schema)
    documents.learn(TRACK, None)
    documents.learn(MANY, None)
    plans = [documents.get(TRACK, None), documents.get(MANY, None)]
    leaves: list[Any] = [
        None,
        "",
        "page_view",
        "Bad Type",
        "\ud800",
        0,
        1,
        -1,
        12,
        2**53,
        2**53 + 1,
        -(2**53) - 1,
        10**400,
        0.5,
        -0.0,
        1e308,
        float("inf"),
        float("nan"),
        True,
        False,
        [],
        ["a"],
        {},
        {"quantity": 2},
        {"a": {"b": [1, None]}},
    ]
    names = [
        "eventType",
        "sessionId",
        "tenantId",
        "productSlug",
        "price",
        "metadata",
        "source",
        "idempotencyKey",
        "url",
        "colour",
    ]
    chooser = random.Random(20260615)

    def item() -> Any:
        if chooser.random() < 0.05:
            return chooser.choice(leaves)
        event = {name: chooser.choice(leaves) for name in chooser.sample(names, 4)}
        if chooser.random() < 0.6:
            event["eventType"] = "page_view"
        if chooser.random() < 0.5:
            event.pop("colour", None)
        return event

    taken = 0
    for _ in range(4000):
        for plan in plans:
            assert plan is not None and plan.coercion is not None
            name = plan.coercion.variables[0][0]
            many = chooser.random() < 0.8
            value = [item() for _ in range(chooser.randrange(3))] if many else item()
            given = {name: value} if chooser.random() < 0.97 else {}
            mine = plan.coercion(given)
            theirs = get_variable_values(
                schema._schema, plan.operation.variable_definitions or (), given
            )
            if mine is None:
                continue
            taken += 1
            assert isinstance(theirs, VariableValues), (given, theirs)
            assert typed(mine.coerced) == typed(theirs.coerced), given
            assert {k: s.value for k, s in mine.sources.items()} == {
                k: s.value for k, s in theirs.sources.items()
            }
    assert taken > 1000


@pytest.mark.parametrize(
    "text",
    ['{"a": 1.5}', "\ufeff{}", '{"a": NaN}', "[1, 2", '{"a": 1e999}', "", '"x" y', "{}"],
)
def test_the_shared_decoder_answers_as_json_loads(text: str) -> None:
    # json_codec keeps one JSONDecoder instead of json.loads building one per body.
    from app import json_codec

    def loads() -> Any:
        return json.loads(text, parse_float=json_codec._finite, parse_constant=json_codec._constant)

    try:
        expected: Any = loads()
    except json.JSONDecodeError as error:
        expected = f"{error.msg} (line {error.lineno}, column {error.colno})"
    except json_codec.JsonError as error:
        expected = error.message
    try:
        got: Any = json_codec.decode(text)
    except json_codec.JsonError as error:
        got = error.message
    assert got == expected


@pytest.mark.parametrize(
    "value",
    [{"a": "é\ud800", "b": [1, 2.5, None, True]}, "x", {1: 2}, {"n": float("nan")}, {(1,): 2}],
)
def test_the_shared_encoder_answers_as_json_dumps(value: Any) -> None:
    from app import json_codec

    def outcome(encode: Any) -> Any:
        try:
            return encode(value)
        except (TypeError, ValueError) as error:
            return type(error), str(error)

    assert outcome(json_codec.dumps) == outcome(
        lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    )


def test_a_flood_of_distinct_texts_keeps_memory_flat() -> None:
    import gc
    import tracemalloc

    documents = FastDocuments(build_schema())
    padding = "x" * (documents.max_query_chars - len(TRACK) - 40)
    sent = 0

    def flood(count: int) -> None:
        nonlocal sent
        for number in range(sent, sent + count):
            query = TRACK.replace("status", f"status # {number} {padding}\n")
            assert len(query) <= documents.max_query_chars
            documents.learn(query, None)  # planned
            documents.learn(query + " fragment F on Query { __typename }", None)  # refused
        sent += count

    tracemalloc.start()
    try:
        flood(200)  # the cache full, and whatever graphql-core builds once
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0]
        flood(600)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - kept
    finally:
        tracemalloc.stop()
    assert len(documents.plans) == MAX_PLANS
    assert kept < 2 * 1024 * 1024, kept  # 64 texts of 2 KiB, their plans, graphql-core's own
    assert abs(grown) < 64 * 1024, grown


def test_import_coercion_is_graphql_cores_own() -> None:
    # importEvents' DateTime goes through the scalar's own coercion, as graphql-core's.
    from graphql.execution.values import VariableValues, get_variable_values

    schema = build_schema()
    documents = FastDocuments(schema)
    documents.learn(IMPORT, None)
    plan = documents.get(IMPORT, None)
    assert plan is not None and plan.coercion is not None
    times: list[Any] = [
        PAST["createdAt"],
        "2026-01-02T03:04:05Z",
        "2026-01-02",
        "2026-01-02T03:04:05",
        "yesterday",
        "",
        1700000000,
        None,
        ["2026-01-02T03:04:05Z"],
        {"at": 1},
        "2026-13-02T03:04:05Z",
    ]
    taken = 0
    for at in times:
        for extra in ({}, {"price": 3}, {"country": None}, {"colour": "red"}):
            given = {"e": [{**PAST, "createdAt": at, **extra}]}
            mine = plan.coercion(given)
            theirs = get_variable_values(
                schema._schema, plan.operation.variable_definitions or (), given
            )
            if mine is None:
                assert not isinstance(theirs, VariableValues) or at is None or "colour" in extra
                continue
            taken += 1
            assert isinstance(theirs, VariableValues), given
            assert typed(mine.coerced) == typed(theirs.coerced), given
    assert taken >= 6


def test_leaf_completion_is_the_scalars_own() -> None:
    from enum import Enum

    from graphql import GraphQLBoolean, GraphQLError, GraphQLFloat, GraphQLID, GraphQLInt
    from graphql import GraphQLString as String
    from graphql.pyutils import Undefined

    from core.vocabulary import TrackStatus
    from schema.completion import NotPlain, _leaf

    status = build_schema()._schema.get_type("TrackStatus")
    values: list[Any] = [
        0, 7, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 10**20, True, False, 1.0, 1.5,
        "", "x", "7", [], TrackStatus.OK, TrackStatus.DUPLICATE_IGNORED, "OK", object(),
    ]  # fmt: skip

    def outcome(complete: Any, value: Any) -> Any:
        try:
            return ("value", complete(value), type(complete(value)))
        except (GraphQLError, NotPlain, TypeError, ValueError) as error:
            return ("error", type(error).__name__)

    for type_ in (GraphQLInt, String, GraphQLBoolean, GraphQLFloat, GraphQLID, status):
        complete = _leaf(type_, required=True).complete
        # A null is null where the type allows it; graphql-core's error where it does not.
        assert _leaf(type_, required=False).complete(None) is None
        assert outcome(complete, None) == ("error", "NotPlain")

        def serialize(value: Any, type_: Any = type_) -> Any:
            result = type_.coerce_output_value(value)
            if result is None or result is Undefined:
                raise NotPlain
            return result

        for _ in range(2):  # the second time through, enum members come from the memo
            for value in values:
                got = outcome(complete, value)
                want = outcome(serialize, value)
                if want[0] == "error":
                    assert got[0] == "error", (type_, value)
                else:
                    assert got == want, (type_, value)
                    if isinstance(value, Enum):
                        assert complete(value) == serialize(value)
