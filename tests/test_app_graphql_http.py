"""GraphQL over HTTP through the ASGI app: media types, statuses, methods, malformed requests."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.graphql_http import GraphQLEndpoint
from storage.embedded import EmbeddedDatabase
from tests.conftest import FREE

GQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status sessionId } }"
TRACK_MANY = """mutation($events: [TrackEventInput!]!) {
  trackEvents(events: $events) { index status sessionId error { code field } } }"""


async def post(
    client: httpx.AsyncClient,
    body: bytes | str | object,
    *,
    accept: str | None = None,
    content_type: str | None = JSON,
) -> httpx.Response:
    headers = {"accept": accept or ""}  # "" is as if no Accept was sent
    if content_type is not None:
        headers["content-type"] = content_type
    content = body if isinstance(body, bytes | str) else json.dumps(body)
    return await client.post("/graphql", content=content, headers=headers)


def error(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    """(status, media type, the one error) of a response that has no data entry."""
    body = response.json()
    assert "data" not in body, body
    (only,) = body["errors"]
    return response.status_code, response.headers["content-type"], only


# Request errors: raised before execution, so no data entry; the status depends on Accept.
REQUEST_ERRORS = [
    ({"query": "{"}, "Syntax Error: Expected Name, found <EOF>."),
    ({"query": "{ nope }"}, "Cannot query field 'nope' on type 'Query'."),
    (
        {"query": "query($n: String!) { __type(name: $n) { name } }", "variables": {"n": None}},
        "Variable '$n' has invalid value: Expected value of non-null type 'String!' not to be",
    ),
    ({"query": "fragment F on Query { __typename }"}, "The document has no operation to run."),
    (
        {"query": "query A { __typename }", "operationName": "B"},
        "The document has no operation named 'B'.",
    ),
    (
        {"query": "query A { __typename } query B { __typename }"},
        "The document has several operations: operationName must name one of them.",
    ),
    ({"query": ""}, "Syntax Error: the query is empty."),
    ({"query": "subscription { __typename }"}, "subscription operations are not supported"),
]


@pytest.mark.parametrize(("body", "message"), REQUEST_ERRORS)
@pytest.mark.parametrize(
    ("accept", "status", "media_type"),
    [
        (GQL_RESPONSE, 400, GQL_RESPONSE),
        (JSON, 200, JSON),
        (None, 200, JSON),
        (f"{GQL_RESPONSE}, {JSON}", 400, GQL_RESPONSE),
    ],
)
async def test_request_errors_have_no_data_and_a_status_per_media_type(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    message: str,
    accept: str | None,
    status: int,
    media_type: str,
) -> None:
    response = await post(client, body, accept=accept)
    got_status, content_type, only = error(response)
    assert (got_status, content_type) == (status, f"{media_type}; charset=utf-8")
    assert only["message"].startswith(message), only
    assert only["extensions"]["code"] == "BAD_USER_INPUT"


async def test_field_errors_are_200_with_data_in_either_media_type(
    client: httpx.AsyncClient,
) -> None:
    for accept in (GQL_RESPONSE, JSON):
        response = await post(
            client, {"query": TRACK, "variables": {"e": {"eventType": "Bad"}}}, accept=accept
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{accept}; charset=utf-8"
        body = response.json()
        assert body["data"] is None  # present: execution began
        assert body["errors"][0]["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "input.eventType",
        }
    ok = await post(client, {"query": "{ __typename }"}, accept=GQL_RESPONSE)
    assert (ok.status_code, ok.json()) == (
        200,
        {"data": {"__typename": "Query"}, "extensions": FREE},
    )


async def test_get_runs_queries_and_refuses_mutations_with_405(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    document = (
        'query Q { __typename } mutation M { trackEvent(input: {eventType: "x"}) { status } }'
    )
    for accept in (GQL_RESPONSE, JSON):
        query = await client.get(
            "/graphql", params={"query": document, "operationName": "Q"}, headers={"accept": accept}
        )
        assert (query.status_code, query.json()) == (
            200,
            {"data": {"__typename": "Query"}, "extensions": FREE},
        )
        mutation = await client.get(
            "/graphql", params={"query": document, "operationName": "M"}, headers={"accept": accept}
        )
        assert mutation.status_code == 405 and mutation.headers["allow"] == "POST"
        assert error(mutation)[2] == {
            "message": "a mutation cannot run over GET: use POST",
            "extensions": {"code": "METHOD_NOT_ALLOWED"},
        }
    assert await database.count_events() == 0
    # The same mutation over POST runs.
    posted = await post(client, {"query": document, "operationName": "M"})
    assert posted.json() == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}


async def test_get_parameters(client: httpx.AsyncClient) -> None:
    variables = json.dumps({"name": "Query"})
    query = "query T($name: String!) { __type(name: $name) { name } }"
    ok = await client.get(
        "/graphql", params={"query": query, "variables": variables, "operationName": ""}
    )
    assert ok.json() == {"data": {"__type": {"name": "Query"}}, "extensions": FREE}
    # Raw URLs: invalid UTF-8 once percent-decoded, a surrogate "encoded", JSON that is not.
    for raw, message in [
        ("query=%7B%20__typename%20%7D%ff", "the query string is not UTF-8 once percent-decoded"),
        ("query=%ED%A0%80", "the query string is not UTF-8 once percent-decoded"),
        ("query=%7B__typename%7D&variables=%7Bnot", "variables is not strict JSON:"),
        ("query=%7B__typename%7D&variables=%5B1%5D", "variables must be an object or null"),
        ("query=%7B__typename%7D&extensions=NaN", "extensions is not strict JSON: NaN is not"),
        ("query=a&query=b", "query is given more than once"),
        ("variables=%7B%7D", "the request has no query parameter"),
    ]:
        response = await client.get(f"/graphql?{raw}", headers={"accept": JSON})
        status, _, only = error(response)
        assert status == 400 and only["message"].startswith(message), (raw, only)
        assert only["extensions"] == {"code": "BAD_REQUEST"}
    # A '%' without two hex digits stays as it is (WHATWG URLSearchParams): a syntax error.
    literal = await client.get("/graphql?query=%ZZ")
    assert literal.status_code == 200 and "Unexpected character: '%'" in literal.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("null", "the body must be a JSON object"),
        ("1", "the body must be a JSON object"),
        ('"q"', "the body must be a JSON object"),
        ("[]", "batching is not supported: send one operation per request"),
        ('[{"query": "{ __typename }"}]', "batching is not supported: send one operation per"),
        ("{}", "the request has no query parameter"),
        ('{"qeury": "{ __typename }"}', "the request has no query parameter"),
        ('{"query": null}', "the request has no query parameter"),
        ('{"query": ["{ a }"]}', "query must be a string"),
        ('{"query": "{ a }", "operationName": 0}', "operationName must be a string or null"),
        ('{"query": "{ a }", "variables": "{}"}', "variables must be an object or null"),
        ('{"query": "{ a }", "extensions": []}', "extensions must be an object or null"),
        (b'{"query": "\xff"}', "the body is not strict JSON: not UTF-8 (byte 11)"),
        ("", "the body is not strict JSON: Expecting value (line 1, column 1)"),
        ('{"query": "{ a }"', "the body is not strict JSON: Expecting ',' delimiter"),
        ("[" * 1000 + "]" * 1000, "the body is not strict JSON: nested more than 32 levels"),
        (
            '{"query": "query($n: Int) { __typename }", "variables": {"n": ' + "9" * 5000 + "}}",
            "the body is not strict JSON: a number has more than 64 characters",
        ),
        ('{"query": "{ a }", "variables": {"x": NaN}}', "the body is not strict JSON: NaN is not"),
        ('{"query": "{ a \\ud800 }"}', "query holds a lone surrogate"),
        ('{"query": "{ a }", "operationName": "\\udc00"}', "operationName holds a lone surrogate"),
        ('{"query": "{ a }", "variables": {"\\ud800": 1}}', "a variable name holds a lone"),
        ('{"query": "{ a }", "\\ud800": 1}', "a key of the body holds a lone surrogate"),
        ('{"query": "{ a }", "extensions": {"k": ["\\ud800"]}}', "extensions holds a lone"),
        ('{"query": "{ a }", "extensions": {"\\ud800": 1}}', "extensions holds a lone"),
    ],
)
@pytest.mark.parametrize("accept", [GQL_RESPONSE, JSON])
async def test_malformed_requests_are_400_bad_request(
    client: httpx.AsyncClient, body: str | bytes, message: str, accept: str
) -> None:
    status, content_type, only = error(await post(client, body, accept=accept))
    assert (status, content_type) == (400, f"{accept}; charset=utf-8")
    assert only["message"].startswith(message), only
    assert only["extensions"] == {"code": "BAD_REQUEST"}


async def test_a_lone_surrogate_in_a_variable_value_reaches_the_field(
    client: httpx.AsyncClient,
) -> None:
    # Variable values are the fields' to judge; the answer echoing it is still UTF-8.
    body = '{"query": "query($d: Date) { funnel(start: $d) { steps { step } } }", '
    response = await post(client, body + '"variables": {"d": "\\ud800"}}', accept=GQL_RESPONSE)
    assert response.status_code == 400
    response.content.decode("utf-8")
    only = error(response)[2]
    assert only["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "\ud800" in only["message"]


async def test_track_event_names_the_field_holding_a_lone_surrogate(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    for field, value in [
        ("sessionId", '"s\\ud800"'),
        ("productName", '"\\udfff"'),
        ("source", '"a\\ud83d"'),  # the high half of a pair, alone
        ("idempotencyKey", '"\\ude00"'),
        ("metadata", '{"note": "\\ud800"}'),
        ("metadata", '{"\\ud800": 1}'),
        ("metadata", '{"deep": [{"x": "\\udbff"}]}'),
    ]:
        event = f'{{"eventType": "page_view", "{field}": {value}}}'
        body = json.dumps({"query": TRACK, "variables": {"e": "EVENT"}}).replace('"EVENT"', event)
        response = await post(client, body)
        assert response.status_code == 200
        answer = response.json()
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": f"input.{field}",
        }
        assert answer["errors"][0]["message"] == (
            f"input.{field} must not contain lone surrogates (U+D800-U+DFFF)"
        )
    assert await database.count_events() == 0


async def test_track_events_reports_the_item_with_a_lone_surrogate_and_stores_the_others(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    events = [
        '{"eventType": "page_view", "sessionId": "a"}',
        '{"eventType": "page_view", "sessionId": "\\ud800"}',
        '{"eventType": "page_view", "sessionId": "c", "metadata": {"k\\udc00": 1}}',
        '{"eventType": "add_to_cart", "sessionId": "d", "productName": "Café 😀"}',
    ]
    body = json.dumps({"query": TRACK_MANY, "variables": {"events": "EVENTS"}})
    response = await post(client, body.replace('"EVENTS"', "[" + ", ".join(events) + "]"))
    results = response.json()["data"]["trackEvents"]
    assert [(r["index"], r["status"], r["sessionId"], r["error"]) for r in results] == [
        (0, "OK", "a", None),
        (1, None, None, {"code": "BAD_USER_INPUT", "field": "events[1].sessionId"}),
        (2, None, None, {"code": "BAD_USER_INPUT", "field": "events[2].metadata"}),
        (3, "OK", "d", None),
    ]
    stored = sorted((doc["sessionId"], doc["productName"]) for doc in database.documents())
    assert stored == [("a", None), ("d", "Café 😀")]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/graphql",
        "application/json; charset=utf-16",
    ],
)
async def test_post_bodies_other_than_utf8_json_are_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    response = await post(client, '{"query": "{ __typename }"}', content_type=content_type)
    assert response.headers["accept"] == JSON
    assert error(response) == (
        415,
        "application/json; charset=utf-8",
        {
            "message": "POST a body of Content-Type application/json (UTF-8)",
            "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE"},
        },
    )


async def test_accept_without_a_json_type_is_406(client: httpx.AsyncClient) -> None:
    posted = await post(client, '{"query": "{ __typename }"}', accept="text/plain")
    got = await client.get("/graphql?query=%7B__typename%7D", headers={"accept": "image/png"})
    for response in (posted, got):
        assert error(response) == (
            406,
            "application/json; charset=utf-8",
            {
                "message": f"Accept must admit {GQL_RESPONSE} or {JSON}",
                "extensions": {"code": "NOT_ACCEPTABLE"},
            },
        )
    # A browser asking for the page without a query still gets GraphiQL.
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


async def test_other_methods_and_paths_answer_in_json(client: httpx.AsyncClient) -> None:
    for method in ("PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
        response = await client.request(method, "/graphql")
        assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
        if method != "HEAD":
            assert error(response)[2] == {
                "message": f"{method} is not allowed here",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
    missing = await client.get("/nowhere")
    assert error(missing) == (
        404,
        "application/json; charset=utf-8",
        {"message": "Not Found", "extensions": {"code": "NOT_FOUND"}},
    )
    healthz = await client.post("/healthz")
    assert healthz.status_code == 405 and set(healthz.headers["allow"].split(", ")) == {
        "GET",
        "HEAD",
    }
    assert error(healthz)[2]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}
    asset = await client.get("/graphiql/static/nope.js")
    assert error(asset)[:2] == (404, "application/json; charset=utf-8")


async def test_too_large_bodies_are_413_in_json(client: httpx.AsyncClient) -> None:
    big = b'{"query": "{ __typename }", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = await post(client, big, accept=GQL_RESPONSE)
    assert error(response) == (
        413,
        f"{GQL_RESPONSE}; charset=utf-8",
        {
            "message": "the request body exceeds 1048576 bytes",
            "extensions": {"code": "PAYLOAD_TOO_LARGE"},
        },
    )


async def test_an_unexpected_exception_is_a_json_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(GraphQLEndpoint, "_execute", broken)
    response = await post(client, {"query": "{ __typename }"})
    assert error(response) == (
        500,
        "application/json; charset=utf-8",
        {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}},
    )
    monkeypatch.undo()
    assert (await post(client, {"query": "{ __typename }"})).status_code == 200
