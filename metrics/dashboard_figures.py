"""The figures ``dashboardStats`` answers with (docs/metrics.md, dashboardStats).

Plain frozen dataclasses whose attribute names are those of the GraphQL types
in ``schema.types``; ``schema.figures`` copies them into those types. Counts are ints;
percentages and averages are already rounded (``metrics.rounding``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class ProductCount:
    slug: str
    count: int


@dataclass(frozen=True, slots=True)
class DayCount:
    date: date
    count: int


@dataclass(frozen=True, slots=True)
class EventCounts:
    """Funnel counts: events (TOTAL) or distinct sessions (UNIQUE)."""

    product_view: int
    add_to_cart: int
    begin_checkout: int
    purchase: int


@dataclass(frozen=True, slots=True)
class ConversionRates:
    visit_to_cart: float
    cart_to_checkout: float
    checkout_to_purchase: float


@dataclass(frozen=True, slots=True)
class ErrorCounts:
    payment_error: int
    checkout_error: int
    payment_confirmation_error: int
    address_error: int


@dataclass(frozen=True, slots=True)
class EventsTimelineDay:
    date: date
    product_view: int
    add_to_cart: int
    begin_checkout: int
    purchase: int
    checkout_started: int
    payment_info_entered: int
    order_completed: int


@dataclass(frozen=True, slots=True)
class ErrorsTimelineDay:
    date: date
    payment_error: int
    checkout_error: int
    payment_confirmation_error: int
    address_error: int


@dataclass(frozen=True, slots=True)
class ProductPerformance:
    slug: str
    name: str
    views: int
    add_to_cart: int
    purchases: int
    purchases_units: int
    conversion_rate: float


@dataclass(frozen=True, slots=True)
class SessionStats:
    unique_sessions: int
    avg_events_per_session: float
    sessions_with_purchase: int


@dataclass(frozen=True, slots=True)
class RetentionMetrics:
    repurchase_rate: float
    recurrent_customers: int
    total_unique_buyers: int
    period_days: int


@dataclass(frozen=True, slots=True)
class TrafficSource:
    source: str
    sessions: int
