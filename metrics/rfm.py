"""RFM segments of logged-in customers (docs/metrics.md, rfm).

The database groups purchases per buyer (``metrics.customers.buyers``, one
pipeline); this module turns each buyer into recency, frequency, monetary and a
segment. Segment rules, first match wins:

    VIP      recency ≤ 7 and frequency ≥ 2 and monetary ≥ 100000
    LOYAL    recency ≤ 30 and frequency ≥ 1
    AT_RISK  recency ≤ 60
    LOST     otherwise

VIP's monetary threshold is compared with the *rounded* monetary (2 decimals),
the figure the answer shows: a customer shown with 100000.00 is a VIP even if
the exact sum is 99999.995. The two readings differ only within half a cent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter

from core.clock import to_aware_utc, to_naive_utc
from core.vocabulary import RfmSegment
from metrics.customers import Buyer, buyers, retention_window
from metrics.rounding import money
from storage.database import Database

VIP_MAX_RECENCY = 7
VIP_MIN_FREQUENCY = 2
VIP_MIN_MONETARY = 100_000.0
LOYAL_MAX_RECENCY = 30
LOYAL_MIN_FREQUENCY = 1
AT_RISK_MAX_RECENCY = 60
DAY = timedelta(days=1)

SEGMENTO: dict[RfmSegment, str] = {
    RfmSegment.VIP: "VIP",
    RfmSegment.LOYAL: "Leal",
    RfmSegment.AT_RISK: "En riesgo",
    RfmSegment.LOST: "Perdido",
}


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which
# was the largest cost of a customer's row (one per buyer, thousands per answer).
@dataclass(slots=True)
class RfmCustomer:
    visitor_id: str
    recency: int
    frequency: int
    monetary: float
    segment: RfmSegment
    segmento: str
    # The instants (naive UTC) between which ``recency`` holds: [since, until).
    since: datetime = field(compare=False, repr=False, default=datetime.min)
    until: datetime = field(compare=False, repr=False, default=datetime.min)


@dataclass(frozen=True, slots=True)
class RfmResult:
    customers: list[RfmCustomer]
    start_date: datetime  # aware UTC, inclusive: now − 90 × 24 h
    end_date: datetime  # aware UTC, exclusive: the request time


def segment(*, recency: int, frequency: int, monetary: float) -> RfmSegment:
    """The first segment rule that matches (``monetary`` already rounded to cents)."""
    if (
        recency <= VIP_MAX_RECENCY
        and frequency >= VIP_MIN_FREQUENCY
        and monetary >= VIP_MIN_MONETARY
    ):
        return RfmSegment.VIP
    if recency <= LOYAL_MAX_RECENCY and frequency >= LOYAL_MIN_FREQUENCY:
        return RfmSegment.LOYAL
    if recency <= AT_RISK_MAX_RECENCY:
        return RfmSegment.AT_RISK
    return RfmSegment.LOST


def _customer(buyer: Buyer, now: datetime) -> RfmCustomer:
    """``buyer``'s row at ``now`` (naive UTC), kept with the buyer while its recency holds."""
    # Whole days, floored: 7 days 23 hours is 7.
    recency = (now - buyer.last_purchase) // DAY
    monetary = money(buyer.monetary)
    kind = segment(recency=recency, frequency=buyer.orders, monetary=monetary)
    since = buyer.last_purchase + recency * DAY
    buyer.derived = row = RfmCustomer(
        visitor_id=buyer.user_id,
        recency=recency,
        frequency=buyer.orders,
        monetary=monetary,
        segment=kind,
        segmento=SEGMENTO[kind],
        since=since,
        until=since + DAY,
    )
    return row


async def rfm(database: Database, *, tenant: str, now: datetime) -> RfmResult:
    """Recency, frequency, monetary and segment of each logged-in buyer of ``tenant``.

    Window: the 90 × 24 hours before ``now`` (UTC instants; no calendar days, so
    no zone). recency = whole days (floor) from the buyer's latest purchase to
    ``now``; frequency = distinct orders; monetary = Σ price × quantity in the
    store's currency, 2 decimals. Customers by recency ascending, then userId.
    One pipeline.
    """
    window = retention_window(now)
    seen_at = to_naive_utc(now)
    # A buyer's kept row while its recency holds (one check in line: thousands of rows).
    customers = [
        row
        if (row := b.derived) is not None and row.since <= seen_at < row.until
        else _customer(b, seen_at)
        for b in await buyers(database, tenant=tenant, now=now)
    ]
    # buyers() come by userId: a stable sort by recency keeps that order within a day.
    customers.sort(key=attrgetter("recency"))
    return RfmResult(
        customers=customers,
        start_date=to_aware_utc(window.start),
        end_date=to_aware_utc(window.end),
    )
