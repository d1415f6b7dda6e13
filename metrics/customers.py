"""Logged-in buyers of the 90-day window: the input of retentionMetrics and rfm.

docs/metrics.md, "retentionMetrics" and "rfm": purchases in the 90 × 24 hours before
the request with a non-null ``userId``, grouped by ``userId``. One pipeline
returns one document per buyer; nothing else leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.roles import Role, in_role
from metrics.filters import PEOPLE
from metrics.lines import LINE_VALUE
from metrics.windows import RETENTION_DAYS, Rolling, rolling
from storage.database import Database, Pipeline
from storage.documents import EVENTS

HOURS_PER_DAY = 24


@dataclass(frozen=True, slots=True)
class Buyer:
    """One logged-in customer's purchases in the window."""

    user_id: str
    last_purchase: datetime  # naive UTC, as stored
    orders: int  # distinct orders: metadata.order_id, else the purchase event itself
    monetary: float  # Σ price × quantity, a missing price counting as 0; unrounded


def retention_window(now: datetime) -> Rolling:
    """The 90 × 24 hours before ``now`` (start inclusive, end exclusive)."""
    return rolling(now, hours=RETENTION_DAYS * HOURS_PER_DAY)


# Index (tenantId, eventType, createdAt); the purchase role's types; createdAt in
# [now − 90 × 24 h, now), UTC.
# `userId: {$ne: null}` is applied after the index range (a residual filter).
# An order is `orderId`, else the event's own `_id`: the two never collide since
# one is a string and the other an ObjectId. `$addToSet` + `$size` counts them.
def buyers_pipeline(*, tenant: str, window: Rolling) -> Pipeline:
    match = {
        "$match": {
            "tenantId": tenant,
            "eventType": in_role(Role.PURCHASE),
            "createdAt": window.match_range,
            "userId": {"$ne": None},
            **PEOPLE,
        }
    }
    group = {
        "$group": {
            "_id": "$userId",
            "lastPurchase": {"$max": "$createdAt"},
            "orders": {"$addToSet": {"$ifNull": ["$orderId", "$_id"]}},
            "monetary": {"$sum": LINE_VALUE},
        }
    }
    project = {
        "$project": {
            "_id": 1,
            "lastPurchase": 1,
            "monetary": 1,
            "orders": {"$size": "$orders"},
        }
    }
    sort = {"$sort": {"_id": 1}}
    return [match, group, project, sort]


def _buyer(row: dict[str, Any]) -> Buyer:
    return Buyer(
        user_id=str(row["_id"]),
        last_purchase=row["lastPurchase"],
        orders=int(row["orders"]),
        monetary=float(row["monetary"]),
    )


async def buyers(database: Database, *, tenant: str, now: datetime) -> list[Buyer]:
    """Logged-in buyers of ``tenant`` in the 90 × 24 hours before ``now``, by userId.

    Per buyer: the latest purchase time (naive UTC), distinct orders (an order is
    ``metadata.order_id`` when present, else the purchase event itself) and the
    unrounded Σ lineValue (price × quantity, a missing price counting as 0).
    Anonymous purchases (``userId`` null) are left out. One pipeline.
    """
    rows = await database.run_pipeline(
        EVENTS, buyers_pipeline(tenant=tenant, window=retention_window(now))
    )
    return [_buyer(row) for row in rows]
