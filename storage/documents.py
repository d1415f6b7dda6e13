"""The shape of what is stored, as TypedDicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict

from bson import ObjectId

EVENTS = "analytics_events"
TENANTS = "tenants"
# Per tenant, a version moved on by every import (metrics.summaries).
HISTORY_VERSIONS = "history_versions"
# People's events: bot traffic is stored with ``bot: true``, people's without the field.
PEOPLE: dict[str, Any] = {"bot": {"$ne": True}}


class StoredContext(TypedDict, total=False):
    """An event's context, derived by the server (docs/metrics.md, "Context, visitors,
    bots"). Only fields that have a value are stored: a missing field reads as null in
    every query, and people's events carry no ``bot`` field at all."""

    visitorId: str
    userAgent: str
    browser: str
    os: str
    device: str
    country: str
    referrer: str
    referrerHost: str
    page: str
    utmSource: str
    utmMedium: str
    utmCampaign: str
    utmTerm: str
    utmContent: str
    channel: str
    bot: bool


class EventDocument(StoredContext):
    """One tracked event in ``analytics_events`` (see docs/metrics.md, Events).

    ``quantity`` and ``orderId`` are derived at ingest from ``metadata`` so that
    pipelines read plain fields. ``source`` is None for direct traffic (an
    explicit ``"direct"`` is stored as None). ``dedupeKey`` is the idempotency
    key, namespaced ``live:`` or ``import:``; the unique index on
    ``(tenantId, dedupeKey)`` is what deduplicates. ``createdAt`` is naive UTC.
    """

    _id: NotRequired[ObjectId]
    tenantId: str
    eventType: str
    sessionId: str
    userId: str | None
    productSlug: str | None
    productName: str | None
    price: float | None
    quantity: int
    orderId: str | None
    metadata: dict[str, Any] | None
    source: str | None
    errorMessage: str | None
    dedupeKey: str
    createdAt: datetime


class TenantDocument(TypedDict):
    """A tenant's settings in ``tenants``; ``_id`` is the tenant id (docs/metrics.md,
    Tenants and rate limit). Only tenants an admin configured have one."""

    _id: str
    name: str
    timezone: str
    currency: str
    rateLimitPerMinute: int
    allowedOrigins: list[str]
