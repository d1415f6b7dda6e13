"""marketing (docs/metrics.md, "overview, products, customers, marketing"): sessions, visitors,
orders, revenue and conversion per session source and campaign, and WhatsApp attribution.

A session's source, channel and campaign are its earliest event's in the range that
has one (``metrics.hourly.SessionJourneys``); sessions without a source are
``direct``, without a campaign left out of ``campaigns``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from core.vocabulary import Dimension
from metrics import summaries
from metrics.breakdown import session_key
from metrics.hourly import Journey, PurchaseLine, SessionJourneys, SessionPurchases
from metrics.ranges import Range
from metrics.rounding import money, percent
from storage.database import Database


@dataclass(frozen=True, slots=True)
class ChannelRow:
    key: str
    sessions: int
    visitors: int
    orders: int
    revenue: float
    conversion_rate: float


@dataclass(frozen=True, slots=True)
class WhatsappAttribution:
    clicks: int
    sessions: int
    orders_after_click: int
    revenue_after_click: float


@dataclass(frozen=True, slots=True)
class MarketingReport:
    start_date: datetime
    end_date: datetime
    sources: list[ChannelRow]
    campaigns: list[ChannelRow]
    whatsapp: WhatsappAttribution


@dataclass(slots=True)
class _Tally:
    sessions: int = 0
    buying: int = 0
    visitors: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    values: list[float] = field(default_factory=list)

    def row(self, key: str) -> ChannelRow:
        return ChannelRow(
            key=key,
            sessions=self.sessions,
            visitors=len(self.visitors),
            orders=len(self.orders),
            revenue=money(math.fsum(self.values)),
            conversion_rate=percent(self.buying, self.sessions),
        )


def _rows(
    journeys: dict[str, Journey],
    purchases: dict[str, list[PurchaseLine]],
    key_of: Callable[[Journey], str | None],
) -> list[ChannelRow]:
    """Rows per session key, by sessions descending, then key; sessions without one left out."""
    tallies: dict[str, _Tally] = {}
    for session, journey in journeys.items():
        key = key_of(journey)
        if key is None:
            continue
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally()
        tally.sessions += 1
        tally.visitors |= journey.visitors
        lines = purchases.get(session)
        if lines:
            tally.buying += 1
            tally.orders.update(line.order for line in lines)
            tally.values.extend(line.value for line in lines)
    rows = [tally.row(key) for key, tally in tallies.items()]
    return sorted(rows, key=lambda row: (-row.sessions, row.key))


def whatsapp_attribution(
    journeys: dict[str, Journey], purchases: dict[str, list[PurchaseLine]]
) -> WhatsappAttribution:
    """Clicks, clicking sessions, and the orders and revenue of purchases after a session's
    first click (strictly later)."""
    clicks = sessions = 0
    orders: set[str] = set()
    values: list[float] = []
    for session, journey in journeys.items():
        if journey.first_click is None:
            continue
        clicks += journey.clicks
        sessions += 1
        for line in purchases.get(session, ()):
            if line.at > journey.first_click:
                orders.add(line.order)
                values.append(line.value)
    return WhatsappAttribution(
        clicks=clicks,
        sessions=sessions,
        orders_after_click=len(orders),
        revenue_after_click=money(math.fsum(values)),
    )


async def marketing_report(
    database: Database, *, tenant: str, window: Range, now: datetime
) -> MarketingReport:
    """Per session source and campaign: sessions, visitors (distinct visitor(e) of their
    events), orders (distinct, of their purchases), revenue (Σ lineValue, 2 decimals),
    conversionRate (sessions with a purchase / sessions × 100); WhatsApp attribution."""
    low, high = window.start, window.end
    journeys, purchases = await asyncio.gather(
        summaries.over_range(
            database, SessionJourneys(), tenant=tenant, low=low, high=high, now=now
        ),
        summaries.over_range(
            database, SessionPurchases(), tenant=tenant, low=low, high=high, now=now
        ),
    )
    return MarketingReport(
        start_date=window.start,
        end_date=window.end,
        sources=_rows(journeys, purchases, session_key(Dimension.SOURCE)),
        campaigns=_rows(journeys, purchases, session_key(Dimension.CAMPAIGN)),
        whatsapp=whatsapp_attribution(journeys, purchases),
    )
