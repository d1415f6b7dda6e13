"""The rate limit through the HTTP app: 429 and Retry-After on the REST route, per item in
beacons, and exactness under a concurrent burst against real server processes (the
embedded store; MongoDB across several processes when MONGODB_URL is set)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.database import MongoDatabase
from storage.embedded import EmbeddedDatabase
from tests.conftest import FREE, SECRET, cost, token
from tests.live_server import Server

TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status } }"
UPSERT = """mutation($id: ID!, $limit: Int!) {
  upsertTenant(id: $id, input: {rateLimitPerMinute: $limit}) { rateLimitPerMinute } }"""
REST = "/api/analytics/track/"
REAL_URL = os.environ.get("MONGODB_URL")


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {token(tenant='*')}"}


def minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def away_from_the_minute_end(margin: float) -> None:
    """Sleep (at most ``margin`` + 1 s) so that ``margin`` seconds of this minute remain."""
    now = datetime.now(UTC)
    left = 60 - now.second - now.microsecond / 1e6
    if left < margin:
        time.sleep(left + 0.5)


async def set_limit(http: httpx.AsyncClient, tenant: str, limit: int) -> None:
    response = await http.post(
        "/graphql",
        json={"query": UPSERT, "variables": {"id": tenant, "limit": limit}},
        headers=admin(),
    )
    assert response.json() == {
        "data": {"upsertTenant": {"rateLimitPerMinute": limit}},
        "extensions": cost(1, 999),
    }


async def within_one_minute(attempt: Callable[[str], Any]) -> Any:
    """Run ``attempt(tenant)`` inside one UTC minute: retried once, on a fresh tenant,
    if the minute turned while it ran (it then proves nothing)."""
    for round_ in range(2):
        away_from_the_minute_end(5)
        started = minute()
        result = await attempt(f"t{round_}-{uuid.uuid4().hex[:8]}")
        if minute() == started:
            return result
    raise AssertionError("two attempts each crossed a minute boundary")


# ---- in process ---------------------------------------------------------------


async def test_rest_track_answers_429_with_retry_after(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    async def attempt(tenant: str) -> tuple[list[httpx.Response], int]:
        await set_limit(client, tenant, 2)
        responses = [
            await client.post(REST, json={"event_type": "page_view", "tenant_id": tenant})
            for _ in range(3)
        ]
        return responses, await database.count_events(tenant)

    responses, stored = await within_one_minute(attempt)
    assert [r.status_code for r in responses] == [201, 201, 429]
    refused = responses[2]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"].startswith("tenant ")
    assert "at most 2 events a minute" in refused.json()["error"]
    assert stored == 2


async def test_graphql_track_event_carries_retry_after(client: httpx.AsyncClient) -> None:
    async def attempt(tenant: str) -> list[Any]:
        await set_limit(client, tenant, 1)
        body = {"query": TRACK, "variables": {"e": {"eventType": "page_view", "tenantId": tenant}}}
        return [(await client.post("/graphql", json=body)).json() for _ in range(2)]

    ok, refused = await within_one_minute(attempt)
    assert ok == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfter"] <= 60
    assert "traceback" not in str(refused).lower()


async def test_a_beacon_over_the_limit_answers_per_item(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    async def attempt(tenant: str) -> tuple[Any, int]:
        await set_limit(client, tenant, 2)
        events = [{"eventType": "page_view", "tenantId": tenant} for _ in range(3)]
        response = await client.post(
            "/collect",
            content=json.dumps({"events": events}),
            headers={"Content-Type": "text/plain"},
        )
        assert response.status_code == 200
        return response.json(), await database.count_events(tenant)

    body, stored = await within_one_minute(attempt)
    items = body["trackEvents"]
    assert [(i["status"], i["error"] and i["error"]["code"]) for i in items] == [
        ("OK", None),
        ("OK", None),
        (None, "RATE_LIMITED"),
    ]
    assert stored == 2


# ---- real server processes ------------------------------------------------------


async def burst(urls: list[str], tenant: str, count: int) -> list[Any]:
    """``count`` concurrent trackEvent calls, spread over ``urls``, distinct keys."""
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def one(i: int) -> Any:
            item = {"eventType": "page_view", "tenantId": tenant, "idempotencyKey": f"k{i}"}
            url = urls[i % len(urls)]
            response = await http.post(
                f"{url}/graphql", json={"query": TRACK, "variables": {"e": item}}
            )
            return response.json()

        return await asyncio.gather(*(one(i) for i in range(count)))


def tally(answers: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for answer in answers:
        if "errors" in answer:
            (error,) = answer["errors"]
            assert 1 <= error["extensions"]["retryAfter"] <= 60
            code = error["extensions"]["code"]
        else:
            code = answer["data"]["trackEvent"]["status"]
        counts[code] = counts.get(code, 0) + 1
    return counts


@pytest.mark.slow
async def test_150_concurrent_events_store_exactly_100_on_a_real_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = Server(data_dir, env={"JWT_SECRET": SECRET})
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:

            async def attempt(tenant: str) -> tuple[str, dict[str, int]]:
                await set_limit(http, tenant, 100)
                return tenant, tally(await burst([server.url], tenant, 150))

            tenant, counts = await within_one_minute(attempt)
    finally:
        server.kill()
    assert counts == {"OK": 100, "RATE_LIMITED": 50}
    # What the killed server left on disk holds exactly the admitted events.
    database = await EmbeddedDatabase.open(data_dir, fsync_seconds=0)
    try:
        assert await database.count_events(tenant) == 100
    finally:
        await database.close()


@pytest.mark.slow
async def test_150_concurrent_events_across_three_processes_on_mongodb(tmp_path: Path) -> None:
    if not REAL_URL:
        pytest.skip("MONGODB_URL is not set: no real MongoDB to test against")
    name = f"analytics_test_{uuid.uuid4().hex[:12]}"
    env = {"MONGODB_URL": REAL_URL, "MONGODB_DATABASE": name, "JWT_SECRET": SECRET}
    servers: list[Server] = []
    database = MongoDatabase.connect(REAL_URL, name)
    try:
        servers = [Server(tmp_path / f"data{i}", env=env) for i in range(3)]
        urls = [s.url for s in servers]
        async with httpx.AsyncClient(base_url=urls[0], timeout=30) as http:

            async def attempt(tenant: str) -> tuple[str, dict[str, int]]:
                await set_limit(http, tenant, 100)
                return tenant, tally(await burst(urls, tenant, 150))

            tenant, counts = await within_one_minute(attempt)
        assert counts == {"OK": 100, "RATE_LIMITED": 50}
        assert await database.count_events(tenant) == 100
    finally:
        for server in servers:
            server.kill()
        await database._client.drop_database(name)
        await database.close()
