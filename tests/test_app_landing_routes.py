"""The landing REST routes (seed 004), through the ASGI app: bodies compared whole."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from graphql import GraphQLError

from app.landing_routes import failure
from app.urban_store import PREFIX
from core.clock import utcnow
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import event, store, token

TRACK = "/api/analytics/track"


def admin(tenant: str = "*") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(tenant=tenant)}"}


async def test_track_stores_a_landing_event(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    body = {"tenant_id": 42, "event_type": "pageview", "metadata": {"session_id": "abc"}}
    response = await client.post(TRACK, json=body)
    assert (response.status_code, response.json()) == (200, {"success": True})
    # A numeric string is the same tenant; no session_id: the server makes one.
    text = {"tenant_id": "42", "event_type": "time_on_page", "metadata": {"seconds": 12}}
    assert (await client.post(TRACK, json=text)).json() == {"success": True}
    first, second = database.documents()
    assert (first["tenantId"], first["eventType"], first["sessionId"]) == ("42", "pageview", "abc")
    assert first["metadata"] == {"session_id": "abc"}
    assert (second["tenantId"], second["metadata"]) == ("42", {"seconds": 12})
    assert len(second["sessionId"]) == 36  # a UUID4


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"event_type": "pageview"}, {"tenant_id": ["The tenant id field is required."]}),
        (
            {"tenant_id": "shop", "event_type": "pageview"},
            {"tenant_id": ["The tenant id must be an integer."]},
        ),
        (
            {"tenant_id": True, "event_type": "pageview"},
            {"tenant_id": ["The tenant id must be an integer."]},
        ),
        (
            {"tenant_id": -1, "event_type": "pageview"},
            {"tenant_id": ["The tenant id must be an integer."]},
        ),
        (
            {"tenant_id": "9" * 65, "event_type": "pageview"},
            {"tenant_id": ["The tenant id must be an integer."]},
        ),
        ({"tenant_id": 1}, {"event_type": ["The event type field is required."]}),
        (
            {"tenant_id": 1, "event_type": "purchase"},
            {"event_type": ["The selected event type is invalid."]},
        ),
        (
            {"tenant_id": 1, "event_type": "qr_scan", "metadata": ["a"]},
            {"metadata": ["The metadata must be an object."]},
        ),
        (
            {"tenant_id": 1, "event_type": "qr_scan", "metadata": {"session_id": 7}},
            {"metadata.session_id": ["The metadata.session_id must be a string."]},
        ),
        (
            {"tenant_id": 1, "event_type": "qr_scan", "metadata": {"session_id": "x" * 257}},
            {"metadata.session_id": ["input.sessionId must be at most 256 characters"]},
        ),
        (
            {"tenant_id": 1, "event_type": "qr_scan", "metadata": {"note": "x" * 5000}},
            {"metadata": ["metadata must be at most 4096 bytes serialized"]},
        ),
        (["not", "an", "object"], {"body": ["The body must be a JSON object."]}),
        (
            {},
            {
                "tenant_id": ["The tenant id field is required."],
                "event_type": ["The event type field is required."],
            },
        ),
    ],
)
async def test_track_refuses_invalid_data_with_422(
    client: httpx.AsyncClient,
    database: EmbeddedDatabase,
    body: Any,
    errors: dict[str, list[str]],
) -> None:
    response = await client.post(TRACK, json=body)
    assert response.status_code == 422
    assert response.json() == {"success": False, "message": "Invalid data", "errors": errors}
    assert list(database.documents()) == []


async def test_track_refuses_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        TRACK, content=b"{tenant_id: 1}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["body"]


def test_rate_limited_is_429_with_retry_after() -> None:
    error = GraphQLError(
        "tenant 42 is over 100 events this minute",
        extensions={"code": "RATE_LIMITED", "retryAfter": 17},
    )
    response = failure(error)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "17")
    assert response.body == b'{"success":false,"message":"Rate limit exceeded"}'


def landing_event(event_type: str, at: datetime, **fields: Any) -> EventDocument:
    visitor = fields.pop("visitor", None)
    doc = event(event_type, at=at, tenant="42", **fields)
    if visitor is not None:
        doc["visitorId"] = visitor
    return doc


async def test_landing_and_today_stats(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    # Tenant 42 has no settings: its zone is UTC. Events sit at 00:00 of today and
    # of earlier days, so they lie in the window whatever the time of the run.
    today = utcnow().date()
    midnight = datetime.combine(today, time(0), tzinfo=UTC)
    yesterday = midnight - timedelta(days=1)
    await store(
        database,
        landing_event("pageview", midnight, session="s1", visitor="v1"),
        landing_event("pageview", midnight, session="s2", visitor="v1"),
        landing_event("pageview", yesterday, session="s3"),
        landing_event("pageview", midnight - timedelta(days=6), session="s4", visitor="v4"),
        landing_event("pageview", midnight - timedelta(days=7), session="s5"),  # outside
        landing_event("click_whatsapp", midnight),
        landing_event("click_whatsapp", yesterday),
        landing_event("click_call", yesterday),
        landing_event("click_toggle_currency", midnight),
        landing_event("qr_scan", yesterday),
        landing_event("product_click", midnight),
        landing_event("time_on_page", midnight, metadata={"seconds": 12}),
        landing_event("time_on_page", yesterday, metadata={"seconds": 13}),
        landing_event("time_on_page", yesterday, metadata={"seconds": "lots"}),
    )
    week = await client.get(f"{PREFIX}/42", headers=admin())
    assert week.status_code == 200
    visitors = [1, 0, 0, 0, 0, 1, 1]  # s4's visitor 6 days ago, s3 yesterday, v1 today
    assert week.json() == {
        "success": True,
        "data": {
            "visitors_today": 1,
            "visitors_week": 3,
            "whatsapp_clicks": 2,
            "call_clicks": 1,
            "currency_toggles": 1,
            "qr_scans": 1,
            "avg_time_on_page": 12.5,
            "last_7_days": [
                {"date": str(today - timedelta(days=6 - i)), "visitors": n}
                for i, n in enumerate(visitors)
            ],
        },
    }
    padded = await client.get(f"{PREFIX}/0042", headers=admin())  # tenant 42, as tracking has it
    assert padded.json() == week.json()
    day = await client.get(f"{PREFIX}/42/today", headers=admin(tenant="42"))
    assert day.status_code == 200
    assert day.json() == {
        "success": True,
        "visitors_today": 1,
        "whatsapp_clicks": 1,
        "qr_scans": 0,
        "products_viewed": 1,
    }


@pytest.mark.parametrize("path", [f"{PREFIX}/42", f"{PREFIX}/42/today"])
async def test_views_need_an_admin_of_the_tenant(client: httpx.AsyncClient, path: str) -> None:
    anonymous = await client.get(path)
    assert (anonymous.status_code, anonymous.json()) == (
        401,
        {
            "success": False,
            "message": "this field needs a bearer token: send 'Authorization: Bearer <token>'",
        },
    )
    other = await client.get(path, headers=admin(tenant="43"))
    assert other.status_code == 403
    assert set(other.json()) == {"success", "message"}
    assert other.json()["success"] is False
    zone = await client.get(f"{path}?timezone=Mars/Olympus", headers=admin())
    assert (zone.status_code, zone.json()) == (
        422,
        {
            "success": False,
            "message": "Invalid data",
            "errors": {"timezone": ["unknown time zone 'Mars/Olympus'"]},
        },
    )


async def test_urban_store_routes_are_not_shadowed(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    urban = await client.post(f"{TRACK}/", json={"event_type": "page_view", "session_id": "s"})
    assert (urban.status_code, urban.json()) == (201, {"status": "ok"})
    assert [doc["tenantId"] for doc in database.documents()] == ["default"]
    stats = await client.get(f"{PREFIX}/dashboard-stats/", headers=admin())
    assert stats.json()["mode"] == "TOTAL"
    funnel = await client.get(f"{PREFIX}/funnel/", headers=admin())
    assert set(funnel.json()) == {"funnel", "start_date", "end_date", "source"}
    rfm = await client.get(f"{PREFIX}/rfm/", headers=admin())
    assert set(rfm.json()) == {"rfm", "start_date", "end_date"}
    alerts = await client.get(f"{PREFIX}/alerts/", headers=admin())
    assert set(alerts.json()) == {"alerts"}
    # Without the slash they still redirect to the Urban Store routes, not to a tenant.
    for name in ("dashboard-stats", "funnel", "rfm", "alerts"):
        bare = await client.get(f"{PREFIX}/{name}", headers=admin())
        assert (bare.status_code, bare.headers["location"]) == (
            307,
            f"http://test{PREFIX}/{name}/",
        )
    # A tenant whose id merely starts like one of those names is a tenant.
    assert (await client.get(f"{PREFIX}/funnels/today", headers=admin())).status_code == 200
