"""The shape of what is stored, as TypedDicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict

from bson import ObjectId

EVENTS = "analytics_events"


class EventDocument(TypedDict):
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
