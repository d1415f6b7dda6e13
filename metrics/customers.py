"""Logged-in buyers of the 90-day window: the input of retentionMetrics and rfm.

docs/metrics.md, "retentionMetrics" and "rfm": purchases in the 90 × 24 hours before
the request with a non-null ``userId``, grouped by ``userId``. One pipeline
returns one document per buyer and hour (``metrics.hourly.BuyerActivity``: closed
hours are kept, ``metrics.summaries``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clock import to_naive_utc
from metrics import summaries
from metrics.hourly import BuyerActivity, BuyerLines, FirstPurchases
from metrics.windows import RETENTION_DAYS, Rolling, rolling
from storage.database import Database

HOURS_PER_DAY = 24


@dataclass(slots=True)  # one per buyer: not frozen, see metrics.rfm.RfmCustomer
class Buyer:
    """One logged-in customer's purchases in the window."""

    user_id: str
    last_purchase: datetime  # naive UTC, as stored
    orders: int  # distinct orders: metadata.order_id, else the purchase event itself
    monetary: float  # Σ price × quantity, a missing price counting as 0; unrounded
    # What a view derived from this buyer (metrics.rfm: its row), kept with it.
    derived: Any = field(default=None, compare=False, repr=False)


def retention_window(now: datetime) -> Rolling:
    """The 90 × 24 hours before ``now`` (start inclusive, end exclusive)."""
    return rolling(now, hours=RETENTION_DAYS * HOURS_PER_DAY)


async def buyers(database: Database, *, tenant: str, now: datetime) -> list[Buyer]:
    """Logged-in buyers of ``tenant`` in the 90 × 24 hours before ``now``, by userId.

    Per buyer: the latest purchase time (naive UTC), distinct orders (an order is
    ``metadata.order_id`` when present, else the purchase event itself) and the
    unrounded Σ lineValue (price × quantity, a missing price counting as 0),
    summed exactly rounded (``math.fsum``). Anonymous purchases (``userId`` null)
    are left out.
    """
    window = retention_window(now)
    by_user = await summaries.over_range(
        database, BuyerActivity(), tenant=tenant, low=window.start, high=window.end, now=now
    )
    # A cached span's buyers come sorted (BuyerActivity.combine): the sort is one pass.
    return [lines.derived or _buyer(user, lines) for user, lines in sorted(by_user.items())]


def _buyer(user: str, lines: BuyerLines) -> Buyer:
    """The buyer of ``lines``, kept with them (a cached span's outlive many requests)."""
    lines.derived = buyer = Buyer(
        user_id=user,
        last_purchase=lines.last_purchase,
        orders=len(lines.orders),
        monetary=math.fsum(lines.line_values),
    )
    return buyer


async def first_purchases(database: Database, *, tenant: str, now: datetime) -> dict[str, datetime]:
    """Each logged-in buyer's first purchase (naive UTC) in all stored history, unfiltered."""
    seen_at = to_naive_utc(now)
    return await summaries.over_range(
        database,
        FirstPurchases(),
        tenant=tenant,
        low=seen_at - timedelta(days=database.retention_days),
        high=seen_at,
        now=now,
    )
