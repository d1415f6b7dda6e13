"""The Urban Store REST routes, through the ASGI app: shapes compared whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from storage.embedded import EmbeddedDatabase
from tests.conftest import event, store, token

TRACK = "/api/analytics/track/"


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {token(tenant='*')}"}


async def test_track_answers_201_then_200_for_a_duplicate(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    body = {
        "event_type": "purchase",
        "session_id": "s1",
        "product_slug": "tee",
        "price": "19.90",
        "metadata": {"quantity": 2, "order_id": "o-1"},
        "idempotency_key": "o-1",
    }
    first = await client.post(TRACK, json=body)
    assert (first.status_code, first.json()) == (201, {"status": "ok"})
    again = await client.post(TRACK, json=body)
    assert (again.status_code, again.json()) == (200, {"status": "duplicate_ignored"})
    (doc,) = database.documents()
    assert (doc["price"], doc["quantity"], doc["orderId"], doc["userId"]) == (19.9, 2, "o-1", None)


async def test_track_leaves_out_fields_it_does_not_know(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    body = {"event_type": "page_view", "session_id": "s", "timestamp": 1, "user_id": "x@y.z"}
    response = await client.post(TRACK, json=body)
    assert (response.status_code, response.json()) == (201, {"status": "ok"})
    (doc,) = database.documents()
    assert (doc["sessionId"], doc["userId"]) == ("s", None)  # a user only from a token


async def test_track_links_a_bearer_token_to_the_shopper(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    shopper = token(admin=False, email="ana@shop.co")
    response = await client.post(
        TRACK,
        json={"event_type": "page_view", "session_id": "s"},
        headers={"Authorization": f"Bearer {shopper}"},
    )
    assert response.status_code == 201
    assert [doc["userId"] for doc in database.documents()] == ["ana@shop.co"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"session_id": "s"}, {"error": "event_type is required", "field": "event_type"}),
        (
            {"event_type": "purchase", "price": "cheap"},
            {"error": "price must be a number", "field": "price"},
        ),
        *(
            (
                {"event_type": "purchase", "price": text},
                {"error": "price must be a number", "field": "price"},
            )
            for text in ("1_000", "١٢", "nan", "1e999", "0x10", "-5", "+5", "")
        ),
        (
            {"event_type": "purchase", "price": -1},
            {"error": "price must be a number from 0 to 1,000,000,000,000", "field": "price"},
        ),
        (
            {"event_type": "purchase", "metadata": {"quantity": 0}},
            {
                "error": "metadata.quantity must be an integer from 1 to 1,000,000",
                "field": "metadata.quantity",
            },
        ),
        (
            {"event_type": "page_view", "session_id": "x" * 257},
            {"error": "input.sessionId must be at most 256 characters", "field": "session_id"},
        ),
    ],
)
async def test_track_refuses_bad_input_naming_the_field(
    client: httpx.AsyncClient, database: EmbeddedDatabase, body: dict[str, object], error: object
) -> None:
    response = await client.post(TRACK, json=body)
    assert (response.status_code, response.json()) == (400, error)
    assert list(database.documents()) == []


async def test_track_refuses_a_body_that_is_not_a_json_object(client: httpx.AsyncClient) -> None:
    for content in (b"[]", b"null", b"{", b'"x"'):
        response = await client.post(TRACK, content=content)
        assert response.status_code == 400
        assert set(response.json()) == {"error"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/analytics/dashboard-stats/",
        "/api/analytics/funnel/",
        "/api/analytics/rfm/",
        "/api/analytics/alerts/",
    ],
)
async def test_admin_routes_need_an_admin_token(client: httpx.AsyncClient, path: str) -> None:
    missing = await client.get(path)
    assert (missing.status_code, missing.json()) == (
        401,
        {
            "error": "this field needs a bearer token: send 'Authorization: Bearer <token>'",
            "reason": "missing",
        },
    )
    shopper = await client.get(path, headers={"Authorization": f"Bearer {token(admin=False)}"})
    assert shopper.status_code == 403
    assert set(shopper.json()) == {"error"}


async def test_funnel_rfm_and_alerts_shapes(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    now = datetime.now(UTC)
    today = now.date()
    await store(
        database,
        event("page_view", at=now - timedelta(minutes=5), session="a"),
        event("product_view", at=now - timedelta(minutes=4), session="a", slug="tee"),
        event(
            "purchase",
            at=now - timedelta(minutes=3),
            session="a",
            user="ana@shop.co",
            price=50.0,
            order="o1",
            slug="tee",
        ),
    )
    funnel = await client.get(f"/api/analytics/funnel/?start={today}&end={today}", headers=admin())
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    assert funnel.status_code == 200
    assert funnel.json() == {
        "funnel": [
            {"step": "page_view", "count": 1},
            {"step": "product_view", "count": 1},
            {"step": "add_to_cart", "count": 0},
            {"step": "begin_checkout", "count": 0},
            {"step": "purchase", "count": 1},
        ],
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=1)).isoformat(),
        "source": None,
    }
    rfm = (await client.get("/api/analytics/rfm/", headers=admin())).json()
    assert rfm["rfm"] == [
        {
            "visitor_id": "ana@shop.co",
            "recency": 0,
            "frequency": 1,
            "monetary": 50.0,
            "segment": "LOYAL",
            "segmento": "Leal",
        }
    ]
    assert set(rfm) == {"rfm", "start_date", "end_date"}
    alerts = (await client.get("/api/analytics/alerts/?lang=es", headers=admin())).json()
    (alert,) = alerts["alerts"]
    assert {k: v for k, v in alert.items() if k != "timestamp"} == {
        "type": "all_clear",
        "severity": "info",
        "message": "No se detectaron anomalías en este momento.",
        "value": None,
        "product_slug": None,
    }


async def test_dashboard_stats_in_snake_case_and_mode(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    now = datetime.now(UTC)
    await store(
        database,
        event("product_view", at=now - timedelta(minutes=2), session="a", slug="tee"),
        event("product_view", at=now - timedelta(minutes=1), session="a", slug="tee"),
    )
    total = await client.get("/api/analytics/dashboard-stats/?mode=total", headers=admin())
    unique = await client.get("/api/analytics/dashboard-stats/?mode=unique", headers=admin())
    assert total.json()["event_counts"] == {
        "product_view": 2,
        "add_to_cart": 0,
        "begin_checkout": 0,
        "purchase": 0,
    }
    assert unique.json()["event_counts"]["product_view"] == 1
    assert unique.json()["mode"] == "UNIQUE"
    assert len(total.json()) == 27  # every field of DashboardStats
    bad = await client.get("/api/analytics/dashboard-stats/?mode=sometimes", headers=admin())
    assert (bad.status_code, bad.json()) == (
        400,
        {"error": "mode must be 'total' or 'unique'", "field": "mode"},
    )
