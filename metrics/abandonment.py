"""Checkout abandonment (docs/metrics.md: dashboardStats ``abandonmentRate``, HIGH_ABANDONMENT).

Counted over *identifiers* (``userId`` if not null, else ``sessionId``), so a
logged-in shopper who begins checkout on the phone and buys on the laptop is
one identifier that did not abandon. The dashboard passes its calendar window
and the alert rule its rolling 24 hours; both read the same numbers from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from metrics import summaries
from metrics.hourly import Checkouts
from metrics.rounding import percent
from storage.database import Database


@dataclass(frozen=True, slots=True)
class Abandonment:
    """Identifiers that began checkout, those of them that did not buy, and the percentage."""

    checkouts: int
    abandoned: int
    rate: float


async def abandonment(
    database: Database, *, tenant: str, low: datetime, high: datetime, now: datetime
) -> Abandonment:
    """Checkout abandonment of ``tenant`` in ``[low, high)`` (UTC instants).

    checkouts = identifiers with a ``begin_checkout`` (role) in the range;
    abandoned = those of them with no ``purchase`` (role) in the range; rate = abandoned /
    checkouts × 100, 1 decimal, 0 without checkouts. The range carries no zone
    of its own. From the hour summary ``metrics.hourly.Checkouts``.
    """
    state = await summaries.over_range(
        database, Checkouts(), tenant=tenant, low=low, high=high, now=now
    )
    checkouts = len(state.checked_out)
    abandoned = len(state.checked_out - state.purchased)
    return Abandonment(checkouts=checkouts, abandoned=abandoned, rate=percent(abandoned, checkouts))
