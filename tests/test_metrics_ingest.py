from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import BadUserInput
from metrics.ingest import EventInput, import_document, live_document, validate_tenant

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def live(**fields: Any) -> dict[str, Any]:
    item = EventInput(**{"event_type": "page_view", **fields})
    return dict(live_document(item, tenant="default", user_id=None, now=NOW, prefix="input."))


def rejected_field(**fields: Any) -> str | None:
    with pytest.raises(BadUserInput) as caught:
        live(**fields)
    return caught.value.field


def test_a_valid_event_is_stored_as_given_with_derived_fields() -> None:
    doc = live(
        event_type="purchase",
        session_id="s1",
        product_slug="tee",
        product_name="Tee",
        price=10,
        metadata={"quantity": 3, "order_id": 77},
        source="google",
    )
    doc.pop("dedupeKey")
    assert doc == {
        "tenantId": "default",
        "eventType": "purchase",
        "sessionId": "s1",
        "userId": None,
        "productSlug": "tee",
        "productName": "Tee",
        "price": 10.0,
        "quantity": 3,
        "orderId": "77",
        "metadata": {"quantity": 3, "order_id": 77},
        "source": "google",
        "errorMessage": None,
        "createdAt": datetime(2026, 6, 15, 12, 0),
    }


def test_session_is_generated_and_direct_is_stored_as_null() -> None:
    doc = live(source="direct")
    assert len(doc["sessionId"]) == 36 and doc["source"] is None and doc["quantity"] == 1


def test_custom_event_types_follow_the_pattern() -> None:
    assert live(event_type="newsletter.signup:v2")["eventType"] == "newsletter.signup:v2"
    assert live(event_type="a" * 64)["eventType"] == "a" * 64
    for bad in ("Page_view", "1click", "", "a" * 65, "has space", "ümlaut"):
        assert rejected_field(event_type=bad) == "input.eventType"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"session_id": "x" * 257}, "input.sessionId"),
        ({"session_id": ""}, "input.sessionId"),
        ({"product_slug": "x" * 257}, "input.productSlug"),
        ({"product_name": "x" * 257}, "input.productName"),
        ({"source": "x" * 257}, "input.source"),
        ({"error_message": "x" * 257}, "input.errorMessage"),
        ({"idempotency_key": "x" * 257}, "input.idempotencyKey"),
        ({"price": -0.01}, "input.price"),
        ({"price": float("inf")}, "input.price"),
        ({"price": float("nan")}, "input.price"),
        ({"metadata": [1, 2]}, "input.metadata"),
        ({"metadata": "text"}, "input.metadata"),
        ({"metadata": {"blob": "x" * 4090}}, "input.metadata"),
        ({"metadata": {"quantity": 0}}, "input.metadata.quantity"),
        ({"metadata": {"quantity": 1.5}}, "input.metadata.quantity"),
        ({"metadata": {"quantity": True}}, "input.metadata.quantity"),
        ({"metadata": {"quantity": "2"}}, "input.metadata.quantity"),
        ({"metadata": {"$where": 1}}, "input.metadata"),
        ({"metadata": {"a.b": 1}}, "input.metadata"),
        ({"metadata": {"order_id": {"x": 1}}}, "input.metadata.order_id"),
        ({"metadata": {"big": 2**63}}, "input.metadata"),
        ({"metadata": {"deep": [{"small": -(2**63) - 1}]}}, "input.metadata"),
        ({"price": 1e12 + 0.01}, "input.price"),
        ({"price": 1e26}, "input.price"),
        ({"metadata": {"quantity": 10**6 + 1}}, "input.metadata.quantity"),
        ({"metadata": {"quantity": 2**31}}, "input.metadata.quantity"),
        ({"metadata": {"ratio": float("nan")}}, "input.metadata"),
        ({"metadata": {"deep": {"er": [1, float("inf")]}}}, "input.metadata"),
        ({"metadata": {"x": float("-inf")}}, "input.metadata"),
    ],
)
def test_invalid_fields_are_named(fields: dict[str, Any], field: str) -> None:
    assert rejected_field(**fields) == field


def test_limits_are_inclusive() -> None:
    assert live(session_id="x" * 256)["sessionId"] == "x" * 256
    assert live(price=0)["price"] == 0.0
    assert live(price=10**12)["price"] == 1e12
    assert live(metadata={"quantity": 10**6})["quantity"] == 1_000_000
    # {"b":"<n x>"} serializes to n + 8 bytes: exactly 4096 is allowed.
    assert live(metadata={"b": "x" * 4088})["metadata"] is not None


@pytest.mark.parametrize("tenant", ["", "a" * 65, "shop 1", "shop/1", "ñ"])
def test_bad_tenants(tenant: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        validate_tenant(tenant)
    assert caught.value.field == "tenantId"


def test_tenant_defaults_and_allowed_characters() -> None:
    assert validate_tenant(None) == "default"
    assert validate_tenant("Shop_1-b") == "Shop_1-b"


def test_keys_without_a_client_key_never_repeat() -> None:
    first, second = live(session_id="s"), live(session_id="s")
    assert first["dedupeKey"] != second["dedupeKey"]
    assert live(idempotency_key="k1")["dedupeKey"] == "live:k1"


def imported(**fields: Any) -> dict[str, Any]:
    item = EventInput(**{"event_type": "purchase", "session_id": "s1", **fields})
    return dict(import_document(item, tenant="t", now=NOW, retention_days=365, prefix="events[4]."))


def test_import_keys_derive_from_content() -> None:
    at = NOW - timedelta(days=3)
    same = imported(created_at=at, price=5.0), imported(created_at=at, price=5.0)
    assert same[0]["dedupeKey"] == same[1]["dedupeKey"]
    assert imported(created_at=at, price=6.0)["dedupeKey"] != same[0]["dedupeKey"]
    assert imported(created_at=at, idempotency_key="o-1")["dedupeKey"] == "import:o-1"
    assert imported(created_at=at, user_id="a@x.co")["userId"] == "a@x.co"


@pytest.mark.parametrize(
    "created_at",
    [
        NOW + timedelta(seconds=1),
        NOW - timedelta(days=365),
        datetime(2026, 6, 1, 0, 0),  # no offset
        datetime.fromisoformat("0001-01-01T00:00:00+09:00"),  # before year 1 in UTC
        datetime.fromisoformat("9999-12-31T23:59:59-05:00"),  # after year 9999 in UTC
    ],
    ids=["future", "beyond-retention", "naive", "year-1-tokyo", "year-9999-bogota"],
)
def test_import_times_must_be_past_and_retained(created_at: datetime) -> None:
    with pytest.raises(BadUserInput) as caught:
        imported(created_at=created_at)
    assert caught.value.field == "events[4].createdAt"


def test_import_accepts_the_edges() -> None:
    assert imported(created_at=NOW)["createdAt"] == datetime(2026, 6, 15, 12, 0)
    inside = NOW - timedelta(days=365) + timedelta(seconds=1)
    assert imported(created_at=inside)["createdAt"] == datetime(2025, 6, 15, 12, 0, 1)


def test_a_refund_must_name_its_order() -> None:
    for metadata in (None, {}, {"reason": "damaged"}, {"order_id": None}):
        assert rejected_field(event_type="order.refunded", metadata=metadata) == (
            "input.metadata.order_id"
        )
    refund = live(event_type="order.refunded", price=30, metadata={"order_id": 77})
    assert (refund["eventType"], refund["orderId"], refund["price"]) == ("order.refunded", "77", 30)
    # Other types may still leave the order out.
    assert live(event_type="order.completed", price=100)["orderId"] is None
