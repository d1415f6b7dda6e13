"""Accept and Content-Type, read as RFC 9110 and GraphQL over HTTP say."""

from __future__ import annotations

import pytest

from app.media_types import (
    GRAPHQL_RESPONSE,
    JSON,
    accepts_html,
    is_json_body,
    response_media_type,
)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE),
        # The spec's recommended client header: the first listed wins a tie.
        (
            "application/graphql-response+json; charset=utf-8, application/json; charset=utf-8",
            GRAPHQL_RESPONSE,
        ),
        ("application/json, application/graphql-response+json", JSON),
        ("application/json;q=0.9, application/graphql-response+json", GRAPHQL_RESPONSE),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON;Q=1", GRAPHQL_RESPONSE),
        ("application/json, multipart/mixed", JSON),  # GraphiQL's fetcher
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),  # a browser
        # A more specific range decides, even to refuse: json q=0, the wildcard gives the other.
        ("application/json;q=0, */*", GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=0, application/*;q=0.1", JSON),
        ("text/html", None),
        ("application/xml, text/plain", None),
        ("application/json;q=0", None),
        ("application/json; charset=latin1", None),
        ("application/json;q=2, application/json;q=abc", None),  # malformed q: not listed
    ],
)
def test_response_media_type(accept: str | None, chosen: str | None) -> None:
    assert response_media_type(accept) == chosen


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html", True),
        ("text/html,application/xhtml+xml,*/*;q=0.8", True),
        ("*/*", True),
        ("text/*", True),
        ("application/json", False),
        ("text/html;q=0, application/json", False),
        (None, False),
    ],
)
def test_accepts_html(accept: str | None, html: bool) -> None:
    assert accepts_html(accept) is html


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ('Application/JSON; Charset="UTF-8"', True),
        ("application/json; charset=utf-16", False),
        ("application/graphql-response+json", False),
        ("application/graphql", False),
        ("text/plain;charset=UTF-8", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("", False),
        (None, False),
    ],
)
def test_only_utf8_json_bodies_are_taken(content_type: str | None, ok: bool) -> None:
    assert is_json_body(content_type) is ok
