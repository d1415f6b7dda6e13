"""Hostile bodies and URLs through the real server: a clean 4xx in JSON, and the
keep-alive connection stays usable (the same socket answers the next request)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import FREE
from tests.live_server import Server

pytestmark = pytest.mark.slow
TYPENAME = b'{"query": "{ __typename }"}'
TRACK_MANY = """mutation($events: [TrackEventInput!]!) {
  trackEvents(events: $events) { index status error { code field } } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("hostile-bodies") / "data")
    yield running
    running.kill()


@pytest.fixture
def connection(server: Server) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.connect()
    yield conn
    conn.close()


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request on ``conn``; asserts the server kept the connection open."""
    sock = conn.sock
    sent = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=body, headers=sent)
    response = conn.getresponse()
    payload = json.loads(response.read())
    answer_headers = {name.lower(): value for name, value in response.getheaders()}
    assert "close" not in answer_headers.get("connection", "")
    assert conn.sock is sock and sock is not None  # not closed, not reopened
    return response.status, answer_headers, payload


def nested(depth: int) -> bytes:
    return b'{"query": "{ __typename }", "variables": {"x": ' + b"[" * depth + b"]" * depth + b"}}"


HOSTILE_BODIES = {
    "null": b"null",
    "one": b"1",
    "string": b'"q"',
    "empty array": b"[]",
    "empty object": b"{}",
    "invalid UTF-8": b'{"query": "{ __typename }\xc3\x28"}',
    "UTF-16": '{"query": "{ __typename }"}'.encode("utf-16"),
    "1,000 deep": nested(1000),
    "100,000 deep": b"[" * 100_000,
    "5,000 digits": b'{"query": "{ __typename }", "variables": {"n": ' + b"7" * 5000 + b"}}",
    "5,000 digit float": b'{"query": "{ a }", "variables": {"n": 0.' + b"1" * 5000 + b"}}",
    "1e999": b'{"query": "{ __typename }", "variables": {"n": 1e999}}',
    "NaN": b'{"query": "{ __typename }", "variables": {"n": NaN}}',
    "surrogate in query": b'{"query": "{ __typename } # \\ud800"}',
    "surrogate in operationName": b'{"query": "{ __typename }", "operationName": "\\ud800"}',
    "surrogate in a variable name": b'{"query": "{ __typename }", "variables": {"\\udc00": 1}}',
    "surrogate in a key": b'{"query": "{ __typename }", "\\ud800": 1}',
    "surrogate in extensions": b'{"query": "{ __typename }", "extensions": {"a": "\\udfff"}}',
    "batch": b'[{"query": "{ __typename }"}, {"query": "{ __typename }"}]',
    "not JSON": b"{ not json",
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_bodies_are_400_and_the_connection_goes_on(
    connection: http.client.HTTPConnection, body: bytes
) -> None:
    status, headers, payload = exchange(connection, "POST", "/graphql", body)
    assert status == 400, payload
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert payload["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert "data" not in payload
    assert exchange(connection, "POST", "/graphql", TYPENAME)[2] == {
        "data": {"__typename": "Query"},
        "extensions": FREE,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/graphql?query=%7B__typename%7D%FF",
        "/graphql?query=%ED%A0%80",  # a lone surrogate "encoded" as UTF-8
        "/graphql?query=%7B__typename%7D&variables=%7Bnot%20json",
        "/graphql?query=%7B__typename%7D&variables=%5B" + "%5B" * 1000,
        "/graphql?query=%7B__typename%7D&variables=%7B%22%5Cud800%22%3A1%7D",
        "/graphql?query=%7B__typename%7D&query=%7B__typename%7D",
    ],
)
def test_hostile_urls_are_400_and_the_connection_goes_on(
    connection: http.client.HTTPConnection, path: str
) -> None:
    status, _, payload = exchange(connection, "GET", path, headers={"Accept": "application/json"})
    assert status == 400, payload
    assert payload["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    ok = exchange(connection, "GET", "/graphql?query=%7B__typename%7D")
    assert ok[2] == {"data": {"__typename": "Query"}, "extensions": FREE}


def test_a_surrogate_in_one_item_of_track_events_rejects_only_that_item(
    connection: http.client.HTTPConnection,
) -> None:
    events = [
        '{"eventType": "page_view", "sessionId": "x\\ud800"}',
        '{"eventType": "page_view", "sessionId": "ok", "productName": "\\ud83d\\ude00"}',
    ]
    body = json.dumps({"query": TRACK_MANY, "variables": {"events": "EVENTS"}})
    body = body.replace('"EVENTS"', "[" + ",".join(events) + "]")
    status, _, payload = exchange(connection, "POST", "/graphql", body.encode())
    bad, good = payload["data"]["trackEvents"]
    assert status == 200 and good == {"index": 1, "status": "OK", "error": None}
    assert bad["error"] == {"code": "BAD_USER_INPUT", "field": "events[0].sessionId"}
    # The store took the good items and goes on taking more.
    track = '{"query": "mutation { trackEvent(input: {eventType: \\"x\\"}) { status } }"}'
    again = exchange(connection, "POST", "/graphql", track.encode())
    assert again[2] == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}


def test_a_body_over_the_limit_is_413_and_the_connection_goes_on(
    connection: http.client.HTTPConnection,
) -> None:
    big = b'{"query": "{ __typename }", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    status, _, payload = exchange(connection, "POST", "/graphql", big)
    assert (status, payload["errors"][0]["extensions"]) == (413, {"code": "PAYLOAD_TOO_LARGE"})
    assert exchange(connection, "POST", "/graphql", TYPENAME)[2] == {
        "data": {"__typename": "Query"},
        "extensions": FREE,
    }
