"""Index specifications, as data; ``Database.ensure_indexes`` is the only code that applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage.documents import EVENTS

# Per-minute rate-limit counters: {_id: "<tenant>|<UTC minute>", count, expiresAt}.
RATE_LIMITS = "rate_limits"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    collection: str
    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    expire_after_seconds: int | None = None
    serves: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def event_indexes(*, retention_days: int) -> tuple[IndexSpec, ...]:
    """Indexes of ``analytics_events``; each names the queries it serves."""
    return (
        IndexSpec(
            EVENTS,
            "tenant_dedupe_unique",
            (("tenantId", 1), ("dedupeKey", 1)),
            unique=True,
            serves="idempotency: one event per live key per window, one per import key. "
            "On a sharded cluster shard analytics_events on {tenantId: 1, dedupeKey: 1} "
            "so this unique index is allowed (it must be prefixed by the shard key).",
        ),
        IndexSpec(
            EVENTS,
            "tenant_created",
            (("tenantId", 1), ("createdAt", 1)),
            serves="every window query: dashboard passes over all types, sessionStats, "
            "trafficSources, stuck-session alert",
        ),
        IndexSpec(
            EVENTS,
            "tenant_created_id",
            (("tenantId", 1), ("createdAt", 1), ("_id", 1)),
            serves="export pages (events, /export/events.csv): a tenant's events in "
            "(createdAt, _id) order from a cursor, without sorting a range in memory",
        ),
        IndexSpec(
            EVENTS,
            "tenant_type_created",
            (("tenantId", 1), ("eventType", 1), ("createdAt", 1)),
            serves="passes over a few event types: purchases (sales, revenue, retention, "
            "rfm), funnel steps, error counts, whatsapp, alert rules",
        ),
        IndexSpec(
            EVENTS,
            "tenant_visitor_created",
            (("tenantId", 1), ("visitorId", 1), ("createdAt", 1)),
            serves="visitors: distinct visitorId per range (landing stats, the VISITORS "
            "metric, live visitors) and one visitor's events in time order (attribution)",
            options={"partialFilterExpression": {"visitorId": {"$exists": True}}},
        ),
        IndexSpec(
            EVENTS,
            "tenant_source_created",
            (("tenantId", 1), ("source", 1), ("createdAt", 1)),
            serves="funnel(source:) and breakdowns or filters by traffic source over a range",
        ),
        IndexSpec(
            EVENTS,
            "tenant_campaign_created",
            (("tenantId", 1), ("utmCampaign", 1), ("createdAt", 1)),
            serves="campaign breakdowns and filters (marketing, breakdown by CAMPAIGN); "
            "partial: most events carry no campaign",
            options={"partialFilterExpression": {"utmCampaign": {"$exists": True}}},
        ),
        IndexSpec(
            EVENTS,
            "created_ttl",
            (("createdAt", 1),),
            expire_after_seconds=retention_days * 86400,
            serves="retention: MongoDB deletes events older than EVENT_RETENTION_DAYS",
        ),
    )


def rate_limit_indexes() -> tuple[IndexSpec, ...]:
    """Indexes of ``rate_limits`` (metrics.rate_limit); the counter itself is found by _id."""
    return (
        IndexSpec(
            RATE_LIMITS,
            "expires_ttl",
            (("expiresAt", 1),),
            expire_after_seconds=0,
            serves="cleanup: MongoDB deletes a minute's counter once its expiresAt has "
            "passed (a minute or two after the minute ends), so the collection holds "
            "only the counters of the last few minutes",
        ),
    )
