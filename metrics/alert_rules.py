"""The database passes of the alert rules (docs/metrics.md, alerts), one per rule.

HIGH_ABANDONMENT reads ``metrics.abandonment``; the other four rules are here:
a pipeline builder and the function that runs it and returns the rule's figure.
``metrics.alerts`` decides which rules fire and words the alerts. Windows are
rolling hours before the request, UTC instants, start inclusive, end exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.roles import Role, in_roles, role_expression, role_flag
from core.vocabulary import EventType
from metrics.filters import PEOPLE
from metrics.windows import Rolling, rolling
from storage.database import Database, Pipeline
from storage.documents import EVENTS

ABANDONMENT_HOURS = 24
MIN_ABANDONMENT_CHECKOUTS = 3
MAX_ABANDONMENT_RATE = 70.0  # percent; fires above it
POPULAR_HOURS = 7 * 24
POPULAR_VIEWS_ABOVE = 10  # distinct viewing sessions; fires above it
PAYMENT_HOURS = 1
MIN_PAYMENT_ERRORS = 1
CARTS_HOURS = 6
MIN_ABANDONED_CARTS = 5
STUCK_HOURS = 24
STUCK_EVENTS_ABOVE = 15  # events of one session; stuck above it
MIN_STUCK_SESSIONS = 1

# Joins type, slug and session into one string group key. Event types never
# contain it; a slug and a session id would both have to for keys to collide.
KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class ProductViews:
    slug: str
    views: int  # distinct sessions with a product_view of the slug


POPULAR_ROLES: tuple[Role, ...] = (Role.PRODUCT_VIEW, Role.PURCHASE)


# Index (tenantId, eventType, createdAt); createdAt in [now − 7 × 24 h, now), UTC.
# The product_view and purchase roles' types; `productSlug: {$ne: null}` is a
# residual filter. Two groups: distinct (role, slug, session) first (a string
# key: mongomock groups strings ~8× faster than documents), then per slug. The
# rule's own filter (views > 10, no purchase) is applied to the per-slug rows in
# Python: a later $match would deep-copy every row in mongomock; on MongoDB a
# $match stage here would be the natural form.
def unconverted_products_pipeline(*, tenant: str, window: Rolling) -> Pipeline:
    match = {
        "$match": {
            "tenantId": tenant,
            "eventType": in_roles(POPULAR_ROLES),
            "createdAt": window.match_range,
            "productSlug": {"$ne": None},
            **PEOPLE,
        }
    }
    role = role_expression(POPULAR_ROLES)
    key = [role, KEY_SEPARATOR, "$productSlug", KEY_SEPARATOR, "$sessionId"]
    per_session = {
        "$group": {
            "_id": {"$concat": key},
            "slug": {"$first": "$productSlug"},
            "eventType": {"$first": "$eventType"},
        }
    }
    per_slug = {
        "$group": {
            "_id": "$slug",
            "views": {"$sum": role_flag(Role.PRODUCT_VIEW)},
            "purchases": {"$sum": role_flag(Role.PURCHASE)},
        }
    }
    sort = {"$sort": {"views": -1, "_id": 1}}
    return [match, per_session, per_slug, sort]


# Index (tenantId, eventType, createdAt); createdAt in [now − 1 h, now), UTC.
def payment_errors_pipeline(*, tenant: str, window: Rolling) -> Pipeline:
    match = {
        "$match": {
            "tenantId": tenant,
            "eventType": EventType.PAYMENT_ERROR.value,
            "createdAt": window.match_range,
            **PEOPLE,
        }
    }
    count = {"$group": {"_id": None, "count": {"$sum": 1}}}
    return [match, count]


# Index (tenantId, eventType, createdAt); the add_to_cart and begin_checkout
# roles' types; createdAt in [now − 6 h, now), UTC.
# Per session: did it begin checkout; a session here without one only added to
# cart. Then one document with the number of such sessions.
def abandoned_carts_pipeline(*, tenant: str, window: Rolling) -> Pipeline:
    match = {
        "$match": {
            "tenantId": tenant,
            "eventType": in_roles([Role.ADD_TO_CART, Role.BEGIN_CHECKOUT]),
            "createdAt": window.match_range,
            **PEOPLE,
        }
    }
    per_session = {
        "$group": {"_id": "$sessionId", "checkedOut": {"$max": role_flag(Role.BEGIN_CHECKOUT)}}
    }
    total = {
        "$group": {
            "_id": None,
            "count": {"$sum": {"$cond": [{"$eq": ["$checkedOut", 0]}, 1, 0]}},
        }
    }
    return [match, per_session, total]


# Index (tenantId, createdAt): every event type counts; createdAt in
# [now − 24 h, now), UTC. Per session: events and whether it bought; then one
# document with the number of sessions over the threshold without a purchase.
def stuck_sessions_pipeline(*, tenant: str, window: Rolling) -> Pipeline:
    match = {"$match": {"tenantId": tenant, "createdAt": window.match_range, **PEOPLE}}
    per_session = {
        "$group": {
            "_id": "$sessionId",
            "events": {"$sum": 1},
            "purchased": {"$max": role_flag(Role.PURCHASE)},
        }
    }
    stuck = {"$and": [{"$gt": ["$events", STUCK_EVENTS_ABOVE]}, {"$eq": ["$purchased", 0]}]}
    total = {"$group": {"_id": None, "count": {"$sum": {"$cond": [stuck, 1, 0]}}}}
    return [match, per_session, total]


async def _count(database: Database, pipeline: Pipeline) -> int:
    rows = await database.run_pipeline(EVENTS, pipeline)
    return int(rows[0]["count"]) if rows else 0


async def unconverted_products(
    database: Database, *, tenant: str, now: datetime
) -> list[ProductViews]:
    """Slugs viewed by > 10 distinct sessions and never purchased in the last 7 × 24 h.

    Views are distinct sessions with a ``product_view`` of the slug; sorted by
    views descending, then slug ascending.
    """
    window = rolling(now, hours=POPULAR_HOURS)
    rows = await database.run_pipeline(
        EVENTS, unconverted_products_pipeline(tenant=tenant, window=window)
    )
    return [
        ProductViews(slug=str(row["_id"]), views=int(row["views"]))
        for row in rows
        if row["views"] > POPULAR_VIEWS_ABOVE and row["purchases"] == 0
    ]


async def payment_errors(database: Database, *, tenant: str, now: datetime) -> int:
    """``payment_error`` events in the last hour."""
    window = rolling(now, hours=PAYMENT_HOURS)
    return await _count(database, payment_errors_pipeline(tenant=tenant, window=window))


async def abandoned_carts(database: Database, *, tenant: str, now: datetime) -> int:
    """Sessions with an ``add_to_cart`` and no ``begin_checkout`` in the last 6 hours."""
    window = rolling(now, hours=CARTS_HOURS)
    return await _count(database, abandoned_carts_pipeline(tenant=tenant, window=window))


async def stuck_sessions(database: Database, *, tenant: str, now: datetime) -> int:
    """Sessions with > 15 events (any type) and no ``purchase`` in the last 24 hours."""
    window = rolling(now, hours=STUCK_HOURS)
    return await _count(database, stuck_sessions_pipeline(tenant=tenant, window=window))
