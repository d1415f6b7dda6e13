"""Tenants and their settings (docs/metrics.md, Tenants): upsertTenant, tenants, the
tenant's zone and currency in views, allowedOrigins and OPEN_TENANTS in tracking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.http import create_app
from core.settings import load_settings
from storage.database import MongoDatabase
from storage.documents import TenantDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import FREE, SECRET, Run, token

UPSERT = """mutation($id: ID!, $input: TenantInput!) { upsertTenant(id: $id, input: $input) {
  id name timezone currency rateLimitPerMinute allowedOrigins } }"""
TENANTS = "{ tenants { id name timezone currency rateLimitPerMinute allowedOrigins } }"
TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status } }"
BATCH = "mutation($e: [TrackEventInput!]!) { trackEvents(events: $e) { status error { code } } }"

SHOP1 = {
    "id": "shop1",
    "name": "Shop One",
    "timezone": "America/Bogota",
    "currency": "USD",
    "rateLimitPerMinute": 50,
    "allowedOrigins": ["https://shop1.example"],
}


async def upsert(run: Run, tenant: Any, fields: dict[str, Any], **options: Any) -> Any:
    return await run(UPSERT, {"id": tenant, "input": fields}, **options)


async def test_upsert_and_list(run: Run) -> None:
    assert (await run(TENANTS)).data == {"tenants": []}
    created = await upsert(
        run,
        "shop1",
        {
            "name": " Shop One ",
            "timezone": "America/Bogota",
            "currency": "USD",
            "rateLimitPerMinute": 50,
            "allowedOrigins": ["https://shop1.example/", "https://shop1.example"],
        },
    )
    assert created.data == {"upsertTenant": SHOP1}
    # A partial change keeps the rest.
    changed = await upsert(run, "shop1", {"rateLimitPerMinute": 0})
    assert changed.data == {"upsertTenant": {**SHOP1, "rateLimitPerMinute": 0}}
    # An integer id (seed 004) is its decimal string; defaults fill what is not set.
    numbered = await upsert(run, 7, {"name": "Landing"})
    assert numbered.data == {
        "upsertTenant": {
            "id": "7",
            "name": "Landing",
            "timezone": "UTC",
            "currency": "USD",
            "rateLimitPerMinute": 100,
            "allowedOrigins": [],
        }
    }
    listed = await run(TENANTS)
    assert [t["id"] for t in listed.data["tenants"]] == ["7", "shop1"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"currency": "XYZ"}, "input.currency"),
        ({"currency": "usd"}, "input.currency"),
        ({"timezone": "Mars/Olympus"}, "input.timezone"),
        ({"rateLimitPerMinute": -1}, "input.rateLimitPerMinute"),
        ({"name": "  "}, "input.name"),
        ({"allowedOrigins": ["shop1.example"]}, "input.allowedOrigins"),
        ({"allowedOrigins": ["https://shop1.example/path"]}, "input.allowedOrigins"),
        ({"allowedOrigins": ["https://a.example"] * 51}, "input.allowedOrigins"),
    ],
)
async def test_bad_settings_are_named(run: Run, fields: dict[str, Any], field: str) -> None:
    result = await upsert(run, "shop1", fields)
    assert [e.extensions for e in result.errors] == [{"code": "BAD_USER_INPUT", "field": field}]
    assert (await run(TENANTS)).data == {"tenants": []}


async def test_scope(run: Run) -> None:
    shop2 = f"Bearer {token(tenant='shop2')}"
    refused = await upsert(run, "shop1", {"name": "x"}, authorization=shop2)
    assert [e.extensions["code"] for e in refused.errors] == ["FORBIDDEN"]
    assert (await upsert(run, "shop2", {"name": "Two"}, authorization=shop2)).errors is None
    await upsert(run, "shop1", {"name": "One"})
    mine = await run("{ tenants { id } }", authorization=shop2)
    assert mine.data == {"tenants": [{"id": "shop2"}]}
    shopper = await run(TENANTS, authorization=f"Bearer {token(admin=False)}")
    assert [e.extensions["code"] for e in shopper.errors] == ["FORBIDDEN"]


async def test_views_use_the_tenants_zone_and_currency(run: Run) -> None:
    query = """query($t: ID, $z: String) { dashboardStats(tenantId: $t, timezone: $z) {
      currency startDate } }"""
    # NOW is 2026-06-15 12:00 UTC; the window starts at 00:00 of June 9 in the zone.
    plain = await run(query, {"t": "shop1"})
    assert plain.data == {
        "dashboardStats": {"currency": "USD", "startDate": "2026-06-09T00:00:00+00:00"}
    }
    assert (await run(query, {})).data["dashboardStats"]["currency"] == "COP"  # default
    await upsert(run, "shop1", {"timezone": "America/Bogota", "currency": "EUR"})
    configured = await run(query, {"t": "shop1"})
    assert configured.data == {
        "dashboardStats": {"currency": "EUR", "startDate": "2026-06-09T05:00:00+00:00"}
    }
    asked = await run(query, {"t": "shop1", "z": "Asia/Kolkata"})
    assert asked.data["dashboardStats"]["startDate"] == "2026-06-08T18:30:00+00:00"
    funnel = await run(
        '{ funnel(tenantId: "shop1", start: "2026-06-10", end: "2026-06-10") '
        "{ startDate endDate } }"
    )
    assert funnel.data == {
        "funnel": {
            "startDate": "2026-06-10T05:00:00+00:00",
            "endDate": "2026-06-11T05:00:00+00:00",
        }
    }


@pytest.fixture
async def closed_client(
    tmp_path: Path, database: EmbeddedDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    env = {"DATA_DIR": str(tmp_path / "data"), "JWT_SECRET": SECRET, "OPEN_TENANTS": "false"}
    app = create_app(load_settings(env), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


async def post(client: httpx.AsyncClient, query: str, variables: Any, **headers: str) -> Any:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response.json()


async def test_allowed_origins_narrow_who_tracks_for_a_tenant(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    admin = {"Authorization": f"Bearer {token(tenant='*')}"}
    fields = {"allowedOrigins": ["https://shop1.example"]}
    await post(client, UPSERT, {"id": "shop1", "input": fields}, **admin)
    event = {"eventType": "page_view", "tenantId": "shop1"}
    ok = await post(client, TRACK, {"e": event}, Origin="https://shop1.example")
    assert ok == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}
    server = await post(client, TRACK, {"e": event})  # no Origin: a server-side sender
    assert server == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}
    refused = await post(client, TRACK, {"e": event}, Origin="https://evil.example")
    assert [e["extensions"] for e in refused["errors"]] == [
        {"code": "FORBIDDEN", "field": "input.tenantId"}
    ]
    other = {"eventType": "page_view", "tenantId": "shop2"}  # unconfigured: any origin
    batch = await post(client, BATCH, {"e": [event, other]}, Origin="https://evil.example")
    assert batch == {
        "data": {
            "trackEvents": [
                {"status": None, "error": {"code": "FORBIDDEN"}},
                {"status": "OK", "error": None},
            ]
        },
        "extensions": FREE,
    }
    assert sorted(d["tenantId"] for d in database.documents()) == ["shop1", "shop1", "shop2"]


async def test_closed_tenants_track_only_when_configured(
    closed_client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    event = {"eventType": "page_view", "tenantId": "shop9"}
    refused = await post(closed_client, TRACK, {"e": event})
    assert [e["extensions"] for e in refused["errors"]] == [
        {"code": "BAD_USER_INPUT", "field": "input.tenantId"}
    ]
    admin = {"Authorization": f"Bearer {token(tenant='*')}"}
    await post(closed_client, UPSERT, {"id": "shop9", "input": {"name": "Nine"}}, **admin)
    assert await post(closed_client, TRACK, {"e": event}) == {
        "data": {"trackEvent": {"status": "OK"}},
        "extensions": FREE,
    }
    assert [d["tenantId"] for d in database.documents()] == ["shop9"]


async def test_tenants_survive_a_restart(tmp_path: Path) -> None:
    doc = TenantDocument(
        _id="shop1",
        name="One",
        timezone="UTC",
        currency="COP",
        rateLimitPerMinute=10,
        allowedOrigins=["https://a.example"],
    )
    first = await EmbeddedDatabase.open(tmp_path, fsync_seconds=0)
    await first.put_tenant(doc)
    await first.put_tenant({**doc, "_id": "shop0"})
    await first.close()
    again = await EmbeddedDatabase.open(tmp_path, fsync_seconds=0)
    assert await again.tenant("shop1") == doc
    assert [t["_id"] for t in await again.tenants()] == ["shop0", "shop1"]
    assert await again.tenant("nope") is None
    await again.close()
    assert (tmp_path / "tenants.snapshot").stat().st_mode & 0o777 == 0o600


async def test_mongo_tenants_over_mongomock() -> None:
    from mongomock_motor import AsyncMongoMockClient

    mongo = MongoDatabase(AsyncMongoMockClient(tz_aware=False), "tenants_test")
    doc = TenantDocument(
        _id="shop1",
        name="One",
        timezone="UTC",
        currency="COP",
        rateLimitPerMinute=10,
        allowedOrigins=[],
    )
    await mongo.put_tenant(doc)
    await mongo.put_tenant({**doc, "name": "Uno"})
    assert await mongo.tenant("shop1") == {**doc, "name": "Uno"}
    assert await mongo.tenants() == [{**doc, "name": "Uno"}]
    await mongo.close()
