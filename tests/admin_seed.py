"""A small store for the admin page's browser test: two tenants whose every event is
listed here, at times relative to the test's start (imports must lie in the past).

shop1 (America/Bogota, USD), "current" = the last 30 days, "before" = the 30 days earlier:

- s1, 3 days ago, instagram / summer: page_view, product_view tee, product_view cap,
  add_to_cart tee, begin_checkout, purchase tee 20 × 2 (ana, order o1)
- s2, 9 days ago, google: page_view, product_view cap, add_to_cart cap,
  whatsapp_cart_click cap, purchase cap 15 (ben, o2)
- s3, 8 days ago, direct: page_view, product_view tee, product_view cap
- s4, 12 days ago, instagram / summer: page_view, product_view mug, add_to_cart mug,
  begin_checkout
- s5, 2 days ago, direct: page_view, product_view tee, purchase tee 20 (cleo, o3)
- s6, 40 days ago, direct: page_view, product_view tee, purchase tee 30 (cleo, o0)

Tenant "7" is a landing page (seed 004's numbered tenants): three visitors' page views, a
WhatsApp click, a QR scan and two times on page over the last days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

SHOP = "shop1"
LANDING = "7"
TENANTS = {
    SHOP: {"name": "Shop One", "timezone": "America/Bogota", "currency": "USD"},
    LANDING: {"name": "Landing Seven", "timezone": "UTC", "currency": "USD"},
}


def _session(
    now: datetime, session: str, days: float, steps: list[dict[str, Any]], **common: Any
) -> list[dict[str, Any]]:
    start = now - timedelta(days=days)
    return [
        {
            "eventType": step.pop("type"),
            "sessionId": session,
            "createdAt": (start + timedelta(minutes=k)).isoformat(),
            **common,
            **step,
        }
        for k, step in enumerate(steps)
    ]


def shop_events(now: datetime) -> list[dict[str, Any]]:
    ig = {"source": "instagram", "utmSource": "instagram", "utmCampaign": "summer"}
    return [
        *_session(
            now,
            "s1",
            3,
            [
                {"type": "page_view", "url": "https://shop.example/?utm_campaign=summer"},
                {"type": "product_view", "productSlug": "tee", "productName": "Tee"},
                {"type": "product_view", "productSlug": "cap", "productName": "Cap"},
                {"type": "add_to_cart", "productSlug": "tee", "price": 20},
                {"type": "begin_checkout"},
                {
                    "type": "purchase",
                    "productSlug": "tee",
                    "price": 20,
                    "userId": "ana@shop.co",
                    "metadata": {"quantity": 2, "order_id": "o1"},
                },
            ],
            **ig,
        ),
        *_session(
            now,
            "s2",
            9,
            [
                {"type": "page_view"},
                {"type": "product_view", "productSlug": "cap", "productName": "Cap"},
                {"type": "add_to_cart", "productSlug": "cap", "price": 15},
                {"type": "whatsapp_cart_click", "productSlug": "cap"},
                {
                    "type": "purchase",
                    "productSlug": "cap",
                    "price": 15,
                    "userId": "ben@shop.co",
                    "metadata": {"order_id": "o2"},
                },
            ],
            source="google",
        ),
        *_session(
            now,
            "s3",
            8,
            [
                {"type": "page_view"},
                {"type": "product_view", "productSlug": "tee", "productName": "Tee"},
                {"type": "product_view", "productSlug": "cap", "productName": "Cap"},
            ],
        ),
        *_session(
            now,
            "s4",
            12,
            [
                {"type": "page_view"},
                {"type": "product_view", "productSlug": "mug", "productName": "Mug"},
                {"type": "add_to_cart", "productSlug": "mug", "price": 9},
                {"type": "begin_checkout"},
            ],
            **ig,
        ),
        *_session(
            now,
            "s5",
            2,
            [
                {"type": "page_view"},
                {"type": "product_view", "productSlug": "tee", "productName": "Tee"},
                {
                    "type": "purchase",
                    "productSlug": "tee",
                    "price": 20,
                    "userId": "cleo@shop.co",
                    "metadata": {"order_id": "o3"},
                },
            ],
        ),
        *_session(
            now,
            "s6",
            40,
            [
                {"type": "page_view"},
                {"type": "product_view", "productSlug": "tee", "productName": "Tee"},
                {
                    "type": "purchase",
                    "productSlug": "tee",
                    "price": 30,
                    "userId": "cleo@shop.co",
                    "metadata": {"order_id": "o0"},
                },
            ],
        ),
    ]


def landing_events(now: datetime) -> list[dict[str, Any]]:
    return [
        *_session(
            now,
            "l1",
            1,
            [
                {"type": "pageview"},
                {"type": "click_whatsapp"},
                {"type": "time_on_page", "metadata": {"seconds": 30}},
            ],
        ),
        *_session(now, "l2", 2, [{"type": "pageview"}, {"type": "qr_scan"}]),
        *_session(
            now,
            "l3",
            4,
            [
                {"type": "pageview"},
                {"type": "time_on_page", "metadata": {"seconds": 11}},
            ],
        ),
    ]


def gql(url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The API's own answer (data), asserting it has no errors."""
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def seed(url: str, token: str, now: datetime) -> None:
    for tenant, settings in TENANTS.items():
        gql(
            url,
            token,
            "mutation($id: ID!, $input: TenantInput!) "
            "{ upsertTenant(id: $id, input: $input) { id } }",
            {"id": tenant, "input": settings},
        )
    for tenant, events in ((SHOP, shop_events(now)), (LANDING, landing_events(now))):
        answer = gql(
            url,
            token,
            "mutation($e: [ImportEventInput!]!, $t: ID) "
            "{ importEvents(events: $e, tenantId: $t) { inserted } }",
            {"e": events, "t": tenant},
        )
        assert answer == {"importEvents": {"inserted": len(events)}}
