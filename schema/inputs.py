"""GraphQL input types of the contract."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.input(description="A shopper action sent by a storefront (public).")
class TrackEventInput:
    event_type: str = strawberry.field(
        description="page_view, product_view, add_to_cart, begin_checkout, purchase, ... or a "
        "custom type matching ^[a-z][a-z0-9_.:-]{0,63}$."
    )
    session_id: str | None = strawberry.field(
        default=None, description="Stable browser id; generated and returned when missing."
    )
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Store the event belongs to; 'default' when missing."
    )
    product_slug: str | None = strawberry.field(default=None, description="Product slug.")
    product_name: str | None = strawberry.field(default=None, description="Product name.")
    price: float | None = strawberry.field(default=None, description="Unit price, ≥ 0.")
    metadata: JSON | None = strawberry.field(
        default=None,
        description="JSON object ≤ 4 KiB; quantity (integer ≥ 1) and order_id have meaning.",
    )
    source: str | None = strawberry.field(
        default=None, description="Traffic source (google, instagram, ...); null = direct."
    )
    error_message: str | None = strawberry.field(
        default=None, description="Detail for error events."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Client key: a repeat within IDEMPOTENCY_WINDOW_SECONDS is ignored.",
    )
    url: str | None = strawberry.field(
        default=None,
        description="The page's full URL (≤ 2,048 characters); its path and utm_* parameters "
        "are kept.",
    )
    referrer: str | None = strawberry.field(
        default=None, description="document.referrer; defaults to the Referer header."
    )


@strawberry.input(
    description="An event from an existing store's history; only admins may set createdAt "
    "and userId."
)
class ImportEventInput:
    event_type: str = strawberry.field(description="Event type, as in trackEvent.")
    session_id: str = strawberry.field(description="The session the event belongs to.")
    created_at: datetime = strawberry.field(
        description="When it happened: in the past and inside EVENT_RETENTION_DAYS."
    )
    user_id: str | None = strawberry.field(default=None, description="Shopper email, if known.")
    product_slug: str | None = strawberry.field(default=None, description="Product slug.")
    product_name: str | None = strawberry.field(default=None, description="Product name.")
    price: float | None = strawberry.field(default=None, description="Unit price, ≥ 0.")
    metadata: JSON | None = strawberry.field(default=None, description="JSON object ≤ 4 KiB.")
    source: str | None = strawberry.field(default=None, description="Traffic source.")
    error_message: str | None = strawberry.field(default=None, description="Error detail.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Import key; without one a key is derived from the content, so "
        "re-running an import stores nothing twice.",
    )
    url: str | None = strawberry.field(
        default=None, description="The page's full URL; its path and utm_* are kept."
    )
    referrer: str | None = strawberry.field(default=None, description="The page's referrer.")
    visitor_id: str | None = strawberry.field(
        default=None, description="The visitor as the old system knew it (≤ 256 characters)."
    )
    country: str | None = strawberry.field(
        default=None, description="ISO 3166 alpha-2 country code (two capital letters)."
    )
    user_agent: str | None = strawberry.field(
        default=None, description="The shopper's user agent (≤ 512 characters are kept)."
    )
    utm_source: str | None = strawberry.field(default=None, description="utm_source.")
    utm_medium: str | None = strawberry.field(default=None, description="utm_medium.")
    utm_campaign: str | None = strawberry.field(default=None, description="utm_campaign.")


def input_fields(item: TrackEventInput | ImportEventInput | EventFilter) -> dict[str, Any]:
    """The input's values keyed by Python field name."""
    return {field.name: getattr(item, field.name) for field in dataclasses.fields(item)}


@strawberry.input(description="Tenant settings to set; a missing field keeps its value.")
class TenantInput:
    name: str | None = strawberry.field(default=None, description="Display name (≤ 128).")
    timezone: str | None = strawberry.field(default=None, description="IANA time zone.")
    currency: str | None = strawberry.field(default=None, description="ISO 4217 code.")
    rate_limit_per_minute: int | None = strawberry.field(
        default=None, description="Public events per UTC minute (0 = unlimited)."
    )
    allowed_origins: list[str] | None = strawberry.field(
        default=None, description="Origins like https://shop.example (≤ 50); empty = any."
    )


@strawberry.input(
    description="Keeps only events matching every given field (equality; 'direct' is stored "
    "as no source, so source: 'direct' matches none)."
)
class EventFilter:
    source: str | None = strawberry.field(default=None, description="Traffic source.")
    channel: str | None = strawberry.field(
        default=None, description="Paid, Email, Organic Search, Social, Referral or Direct."
    )
    campaign: str | None = strawberry.field(default=None, description="utm_campaign.")
    country: str | None = strawberry.field(default=None, description="ISO 3166 alpha-2.")
    device: str | None = strawberry.field(
        default=None, description="desktop, mobile, tablet or other."
    )
    page: str | None = strawberry.field(default=None, description="The page's path.")
    product_slug: str | None = strawberry.field(default=None, description="Product slug.")
