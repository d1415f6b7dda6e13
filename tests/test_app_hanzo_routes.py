"""Hanzo's POST /analytics/event (seed 003), through the ASGI app: shapes whole."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from storage.embedded import EmbeddedDatabase
from tests.conftest import SECRET, token

PATH = "/analytics/event"


def sender(**claims: Any) -> dict[str, str]:
    signed = jwt.encode({"exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {signed}"}


def fields(doc: Any, *names: str) -> dict[str, Any]:
    return {name: doc.get(name) for name in names}


async def test_order_completed_is_one_line_of_the_total_in_major_units(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    body = {
        "type": "order.completed",
        "sessionId": "h1",
        "customerId": "cus_42",
        "properties": {"orderId": "o-9", "total": 12990, "currency": "usd", "coupon": "X"},
        "context": {
            "ip": "190.85.1.1",
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 "
            "like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
            "referrer": "https://www.google.com/",
        },
    }
    headers = sender(email="ops@hanzo.example", ingest=True, tenant_id="shop1")
    response = await client.post(PATH, json=body, headers=headers)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    (doc,) = database.documents()
    # shop1 has no settings: USD, two decimals; the caller may ingest, so its context counts.
    assert fields(
        doc,
        "tenantId",
        "eventType",
        "sessionId",
        "userId",
        "price",
        "quantity",
        "orderId",
        "metadata",
        "country",
        "device",
        "referrerHost",
        "source",
    ) == {
        "tenantId": "shop1",
        "eventType": "order.completed",
        "sessionId": "h1",
        "userId": "cus_42",
        "price": 129.9,
        "quantity": 1,
        "orderId": "o-9",
        "metadata": {"currency": "usd", "coupon": "X", "order_id": "o-9", "quantity": 1},
        "country": "CO",
        "device": "mobile",
        "referrerHost": "www.google.com",
        "source": "google",
    }


async def test_a_public_callers_context_is_not_believed(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    body = {
        "type": "cart.item_added",
        "sessionId": "h2",
        "customerId": "cus_1",
        "properties": {"productSlug": "tee", "name": "Tee", "price": 1999, "quantity": 2},
        "context": {"ip": "190.85.1.1", "userAgent": "Googlebot"},
    }
    shopper = {"Authorization": f"Bearer {token(admin=False, email='ana@shop.co')}"}
    response = await client.post(PATH, json=body, headers=shopper)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    (doc,) = database.documents()
    assert fields(
        doc,
        "tenantId",
        "userId",
        "productSlug",
        "productName",
        "price",
        "quantity",
        "country",
        "bot",
    ) == {
        "tenantId": "default",  # the token names no single tenant
        "userId": "ana@shop.co",  # the token's shopper, not the body's customerId
        "productSlug": "tee",
        "productName": "Tee",
        "price": 19.99,
        "quantity": 2,
        "country": None,  # the request's own (loopback) address, not context.ip
        "bot": None,  # the request's own user agent (python-httpx), not context.userAgent
    }


async def test_minor_units_follow_the_tenants_currency(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    admin = {"Authorization": f"Bearer {token(tenant='*')}"}
    upsert = 'mutation { upsertTenant(id: "jp", input: {currency: "JPY"}) { currency } }'
    assert (await client.post("/graphql", json={"query": upsert}, headers=admin)).status_code == 200
    body = {"type": "order.completed", "properties": {"orderId": 7, "total": 5400}}
    response = await client.post(PATH, json=body, headers=sender(tenant_id="jp"))
    assert response.json() == {"status": "ok"}
    (doc,) = database.documents()
    assert (doc["tenantId"], doc["price"], doc["orderId"]) == ("jp", 5400.0, "7")


async def test_bad_events_are_refused_naming_the_field(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    cases = [
        (
            {"properties": {}},
            400,
            {
                "error": "type is required: a Hanzo event type such as order.completed",
                "field": "type",
            },
        ),
        (
            {"type": "order.completed", "properties": {}},
            400,
            {
                "error": "properties.total is required for order.completed",
                "field": "properties.total",
            },
        ),
        (
            {"type": "product.viewed", "properties": {"price": "9.99"}},
            400,
            {
                "error": "properties.price must be a number of minor units (cents)",
                "field": "properties.price",
            },
        ),
        (
            {"type": "Bad Type"},
            400,
            {"error": "eventType must match ^[a-z][a-z0-9_.:-]{0,63}$", "field": "event_type"},
        ),
    ]
    for body, status, answer in cases:
        response = await client.post(PATH, json=body)
        assert (response.status_code, response.json()) == (status, answer), body
    bad_token = await client.post(
        PATH, json={"type": "page.viewed"}, headers={"Authorization": "Bearer nope"}
    )
    assert bad_token.status_code == 401 and bad_token.json()["reason"] == "malformed"
    assert list(database.documents()) == []


async def test_a_trusted_senders_guest_order_has_no_shopper_and_refunds_keep_their_value(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    headers = sender(email="ops@hanzo.example", ingest=True)
    guest = {"type": "order.completed", "properties": {"orderId": "g1", "total": 5000}}
    numbered = {"type": "order.completed", "customerId": 42, "properties": {"total": 100}}
    refund = {"type": "order.refunded", "properties": {"orderId": "g1", "total": 1500}}
    for body in (guest, numbered, refund):
        response = await client.post(PATH, json=body, headers=headers)
        assert response.json() == {"status": "ok"}, body
    stored = {
        d["eventType"] + str(d["price"]): (d["userId"], d["quantity"]) for d in database.documents()
    }
    assert stored == {
        "order.completed50.0": (None, 1),  # a guest, not the sender's own account
        "order.completed1.0": ("42", 1),
        "order.refunded15.0": (None, 1),  # a refund's value is its total
    }


async def test_a_trusted_senders_fields_are_checked_like_a_browsers(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    headers = {**sender(ingest=True), "Content-Type": "application/json"}
    cases = [
        ('{"type": "x.y", "customerId": "\\ud800"}', "customerId"),
        ('{"type": "x.y", "context": {"userAgent": "\\ud800"}}', "context.userAgent"),
        ('{"type": "x.y", "context": {"referrer": "\\ud800"}}', "context.referrer"),
        ('{"type": "x.y", "context": {"ip": "not-an-ip"}}', "context.ip"),
    ]
    for raw, field in cases:
        response = await client.post(PATH, content=raw, headers=headers)
        assert response.status_code == 400, raw
        assert response.json()["field"] == field, raw
    long_customer = {"type": "x.y", "customerId": "c" * 257}
    response = await client.post(PATH, json=long_customer, headers=sender(ingest=True))
    assert (response.status_code, response.json()["field"]) == (400, "customerId")
    assert list(database.documents()) == []
