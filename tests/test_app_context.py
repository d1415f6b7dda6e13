"""Event context derived by the server, through the ASGI app (docs/metrics.md, Context)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from app.http import create_app
from auth.secret import visitor_key
from core.settings import Settings, load_settings
from storage.embedded import EmbeddedDatabase
from tests.conftest import FREE, SECRET, cost, token

TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status } }"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture
def proxied(tmp_path: Path) -> Settings:
    return load_settings(
        {"DATA_DIR": str(tmp_path / "data"), "JWT_SECRET": SECRET, "TRUSTED_PROXIES": "127.0.0.1"}
    )


@pytest.fixture
async def behind_proxy(
    proxied: Settings, database: EmbeddedDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(proxied, database=database))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


async def track(client: httpx.AsyncClient, event: dict[str, Any], **headers: str) -> Any:
    body = json.dumps({"query": TRACK, "variables": {"e": event}})  # \ud800 as an escape
    headers = {"Content-Type": "application/json", **headers}
    response = await client.post("/graphql", content=body, headers=headers)
    return response.json()


async def test_context_of_a_tracked_event(
    behind_proxy: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    event = {
        "eventType": "page_view",
        "sessionId": "s1",
        "tenantId": "shop1",
        "url": "https://shop.example/p/tee?utm_medium=cpc&utm_campaign=bf&utm_term=tees&q=1",
        "referrer": "https://www.google.com.co/search?q=tee",
    }
    headers = {"User-Agent": IPHONE, "X-Forwarded-For": "6.6.6.6, 190.85.1.1"}
    assert await track(behind_proxy, event, **headers) == {
        "data": {"trackEvent": {"status": "OK"}},
        "extensions": FREE,
    }
    (doc,) = database.documents()
    message = f"shop1|190.85.1.1|{IPHONE}".encode()
    visitor = hmac.new(visitor_key(SECRET), message, hashlib.sha256).hexdigest()[:45]
    context = {k: v for k, v in doc.items() if k not in ("_id", "dedupeKey", "createdAt")}
    assert context == {
        "tenantId": "shop1",
        "eventType": "page_view",
        "sessionId": "s1",
        "userId": None,
        "productSlug": None,
        "productName": None,
        "price": None,
        "quantity": 1,
        "orderId": None,
        "metadata": None,
        "source": "google",
        "errorMessage": None,
        "visitorId": visitor,
        "userAgent": IPHONE,
        "browser": "Mobile Safari",
        "os": "iOS",
        "device": "mobile",
        "country": "CO",
        "referrer": "https://www.google.com.co/search?q=tee",
        "referrerHost": "www.google.com.co",
        "page": "/p/tee",
        "utmMedium": "cpc",
        "utmCampaign": "bf",
        "utmTerm": "tees",
        "channel": "Paid",
    }
    # The raw IP is never stored: not as a field, not inside one.
    assert "190.85.1.1" not in repr(doc) and "6.6.6.6" not in repr(doc)


async def test_referer_header_stands_in_and_the_stores_own_pages_are_direct(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    event = {"eventType": "page_view", "sessionId": "s", "url": "https://shop.example/b"}
    await track(client, event, Referer="https://shop.example/a")
    (doc,) = database.documents()
    assert (doc["referrer"], doc["referrerHost"], doc["source"], doc["channel"]) == (
        "https://shop.example/a",
        "shop.example",
        None,
        "Direct",
    )
    # Loopback: no country, and the peer is believed without TRUSTED_PROXIES.
    assert "country" not in doc and len(doc["visitorId"]) == 45


async def test_a_callers_source_is_kept(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    event = {"eventType": "page_view", "source": "newsletter", "referrer": "https://t.co/x"}
    await track(client, event)
    (doc,) = database.documents()
    assert (doc["source"], doc["referrerHost"], doc["channel"]) == (
        "newsletter",
        "t.co",
        "Referral",
    )


async def test_bots_are_stored_answered_bot_and_counted_by_no_metric(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    purchase = {"eventType": "purchase", "sessionId": "b", "price": 10.0}
    assert await track(client, purchase, **{"User-Agent": HEADLESS}) == {
        "data": {"trackEvent": {"status": "BOT"}},
        "extensions": FREE,
    }
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert (await track(client, purchase, **{"User-Agent": googlebot}))["data"]["trackEvent"] == {
        "status": "BOT"
    }
    # A server-side sender's token is never taken for a bot.
    claims = {"email": "server@shop.co", "ingest": True, "exp": int(time.time()) + 600}
    sender = jwt.encode(claims, SECRET, algorithm="HS256")
    headers = {"User-Agent": HEADLESS, "Authorization": f"Bearer {sender}"}
    assert (await track(client, purchase, **headers))["data"]["trackEvent"] == {"status": "OK"}
    assert sorted(bool(doc.get("bot")) for doc in database.documents()) == [False, True, True]
    admin = {"Authorization": f"Bearer {token(tenant='*')}"}
    response = await client.post(
        "/graphql", json={"query": "{ dashboardStats { totalSales totalRevenue } }"}, headers=admin
    )
    assert response.json() == {
        "data": {"dashboardStats": {"totalSales": 1, "totalRevenue": 10.0}},
        "extensions": cost(3, 997),
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("url", "https://s.co/" + "x" * 2048), ("referrer", "https://s.co/\x00"), ("url", "\ud800")],
)
async def test_bad_urls_are_bad_user_input(
    client: httpx.AsyncClient, database: EmbeddedDatabase, field: str, value: str
) -> None:
    body = await track(client, {"eventType": "page_view", field: value})
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "BAD_USER_INPUT", "field": f"input.{field}"}
    ]
    assert list(database.documents()) == []


async def test_a_batch_gives_each_event_the_context_it_would_get_alone(
    behind_proxy: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    # A batch computes each (tenant, url, referrer, source) context once: items that
    # share one, and items that differ in any part of it, each get their own.
    page = "https://shop.example/p/tee?utm_source=ig&utm_medium=social"
    items = [
        {"eventType": "page_view", "sessionId": "a", "tenantId": "shop1", "url": page},
        {"eventType": "product_view", "sessionId": "a", "tenantId": "shop1", "url": page},
        {"eventType": "page_view", "sessionId": "a", "tenantId": "shop2", "url": page},
        {"eventType": "page_view", "sessionId": "a", "tenantId": "shop1", "url": page,
         "source": "newsletter"},
        {"eventType": "page_view", "sessionId": "a", "tenantId": "shop1", "url": page,
         "referrer": "https://www.google.com/"},
        {"eventType": "page_view", "sessionId": "a", "tenantId": "shop1"},
    ]  # fmt: skip
    headers = {"User-Agent": IPHONE, "X-Forwarded-For": "190.85.1.1"}
    query = "mutation($e: [TrackEventInput!]!) { trackEvents(events: $e) { status } }"
    body = json.dumps({"query": query, "variables": {"e": items}})
    answer = await behind_proxy.post(
        "/graphql", content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert answer.json()["data"]["trackEvents"] == [{"status": "OK"}] * 6
    batch = list(database.documents())
    for item in items:
        assert (await track(behind_proxy, item, **headers))["data"]["trackEvent"]["status"] == "OK"
    alone = list(database.documents())[len(batch) :]
    derived = ("_id", "dedupeKey", "createdAt")

    def context(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k not in derived}

    # The store lists a tenant's events together: compare in one order.
    assert sorted(map(context, batch), key=repr) == sorted(map(context, alone), key=repr)
    visitors = {doc["tenantId"]: doc["visitorId"] for doc in batch}
    assert len(set(visitors.values())) == 2  # the visitor is per tenant
    shown = [(d["tenantId"], d["source"], d.get("referrerHost"), d.get("page")) for d in batch]
    assert sorted(shown, key=repr) == sorted(
        [
            ("shop1", "ig", None, "/p/tee"),
            ("shop1", "ig", None, "/p/tee"),
            ("shop2", "ig", None, "/p/tee"),
            ("shop1", "newsletter", None, "/p/tee"),
            ("shop1", "ig", "www.google.com", "/p/tee"),
            ("shop1", None, None, None),
        ],
        key=repr,
    )
