"""Hostile values through the real server: bounded at the edge, and the views still answer."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth.tokens import issue_token
from tests.conftest import FREE, cost
from tests.live_server import Server

pytestmark = pytest.mark.slow
TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status } }"
SECRET = "hostile-values-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("hostile") / "data"
    running = Server(data_dir, env={"JWT_SECRET": SECRET})
    yield running
    running.kill()


def post(server: Server, body: dict[str, Any] | str, token: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, str) else httpx.Request("POST", "/", json=body).content
    return httpx.post(f"{server.url}/graphql", content=content, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"price": 1e26}, "input.price"),
        ({"price": 1e12 + 1}, "input.price"),
        ({"metadata": {"quantity": 2**31}}, "input.metadata.quantity"),
        ({"metadata": {"quantity": 10**6 + 1}}, "input.metadata.quantity"),
    ],
)
def test_out_of_bounds_purchases_are_refused_naming_the_field(
    server: Server, event: dict[str, Any], field: str
) -> None:
    variables = {"e": {"eventType": "purchase", "sessionId": "s", **event}}
    body = post(server, {"query": TRACK, "variables": variables}).json()
    assert body["data"] is None
    assert [e["extensions"] for e in body["errors"]] == [{"code": "BAD_USER_INPUT", "field": field}]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_metadata_are_refused(server: Server, literal: str) -> None:
    # Python's JSON parser reads these; JSON has no such numbers.
    event = '{"eventType": "purchase", "sessionId": "s", "metadata": {"x": LITERAL}}'
    raw = json.dumps({"query": TRACK, "variables": {"e": "EVENT"}}).replace('"EVENT"', event)
    raw = raw.replace("LITERAL", literal)
    response = post(server, raw)
    assert response.status_code in {200, 400}
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] in {"BAD_USER_INPUT", "BAD_REQUEST"}


def test_views_answer_after_the_largest_accepted_purchases(server: Server) -> None:
    for session in ("s1", "s2"):
        event = {"eventType": "purchase", "sessionId": session, "price": 1e12}
        event["metadata"] = {"quantity": 10**6, "order_id": session}
        body = post(server, {"query": TRACK, "variables": {"e": event}}).json()
        assert body == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}
    admin = issue_token(SECRET, email="a@x", admin=True, tenant="*")
    query = "{ dashboardStats { totalSales totalRevenue averageOrderValue topProducts { count } } }"
    body = post(server, {"query": query}, admin).json()
    # Two lines of 10^12 × 10^6; no slug, so no top product.
    assert body == {
        "data": {
            "dashboardStats": {
                "totalSales": 2,
                "totalRevenue": 2e18,
                "averageOrderValue": 1e18,
                "topProducts": [],
            }
        },
        "extensions": cost(3, 997),
    }
    assert math.isfinite(body["data"]["dashboardStats"]["totalRevenue"])
    rfm = post(server, {"query": "{ rfm { customers { monetary } } }"}, admin).json()
    assert rfm["data"] == {"rfm": {"customers": []}}  # anonymous buyers: no RFM rows
    assert rfm["extensions"]["cost"]["requested"] == 10
