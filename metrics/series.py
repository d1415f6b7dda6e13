"""metrics: one figure per bucket of a range, its total, and a comparison (docs/metrics.md,
"Metrics" and "Ranges and buckets").

Every metric reads hour summaries (``metrics.summaries``), per bucket and, for a
non-additive metric, once more over the whole range. An additive metric's total
is the sum of its points, to the last digit shown (points are rounded first, then
summed exactly); a non-additive one (visitors, sessions, rates, the average order,
returning customers) is computed over the range: a visitor of two days is one
visitor of the range.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.clock import to_aware_utc
from core.errors import BadUserInput
from core.roles import Role, types_of
from core.vocabulary import Comparison, Granularity, Metric
from metrics import summaries
from metrics.customers import first_purchases
from metrics.hourly import (
    FirstPurchases,
    LineValues,
    Orders,
    SessionActivity,
    TypeCounts,
    Visitors,
    distinct_count,
    lines_total,
    role_total,
)
from metrics.ranges import Range, boundaries, previous
from metrics.rounding import money, percent, ratio
from storage.database import Database

MONEY = frozenset({Metric.REVENUE, Metric.NET_REVENUE, Metric.AVERAGE_ORDER_VALUE})
PERCENT = frozenset({Metric.CONVERSION_RATE})
NON_ADDITIVE = frozenset(
    {
        Metric.AVERAGE_ORDER_VALUE,
        Metric.CONVERSION_RATE,
        Metric.VISITORS,
        Metric.SESSIONS,
        Metric.RETURNING_CUSTOMERS,
    }
)
EVENT_ROLES: Mapping[Metric, Role] = {
    Metric.PAGEVIEWS: Role.PAGE_VIEW,
    Metric.PRODUCT_VIEWS: Role.PRODUCT_VIEW,
    Metric.ADD_TO_CARTS: Role.ADD_TO_CART,
    Metric.CHECKOUTS: Role.BEGIN_CHECKOUT,
}
# The event fields a view's ``filter`` may name (EventFilter), as stored.
FILTER_FIELDS: Mapping[str, str] = {
    "source": "source",
    "channel": "channel",
    "campaign": "utmCampaign",
    "country": "country",
    "device": "device",
    "page": "page",
    "product_slug": "productSlug",
}


def event_filter(given: Mapping[str, str | None]) -> dict[str, str]:
    """The ``$match`` terms of a view's filter: each given field, by equality.

    Direct traffic is stored without a source, so ``source: "direct"`` matches
    no event, as docs/metrics.md says.
    """
    return {FILTER_FIELDS[name]: value for name, value in given.items() if value is not None}


@dataclass(frozen=True, slots=True)
class DataPoint:
    date: datetime  # aware UTC: the bucket's first instant in the range
    value: float


@dataclass(frozen=True, slots=True)
class MetricSeries:
    metric: Metric
    period: str | None
    granularity: Granularity
    start_date: datetime  # aware UTC
    end_date: datetime
    total: float
    additive: bool
    unit: str  # "count", "percent" or the currency code
    currency: str | None
    data_points: list[DataPoint]
    previous: MetricSeries | None
    change: float | None


def unit_of(metric: Metric, currency: str) -> str:
    if metric in MONEY:
        return currency
    return "percent" if metric in PERCENT else "count"


def change(total: float, earlier: float) -> float | None:
    """(total − earlier) / earlier × 100, 1 decimal; None when earlier is 0."""
    return percent(total - earlier, earlier) if earlier else None


@dataclass(frozen=True, slots=True)
class _Request:
    database: Database
    tenant: str
    where: dict[str, str]
    event_type: str | None
    now: datetime


async def _per_bucket(request: _Request, summary: Any, edges: Sequence[datetime]) -> list[Any]:
    return await summaries.per_bucket(
        request.database, summary, tenant=request.tenant, boundaries=edges, now=request.now
    )


def _bucket_of(moment: datetime, edges: Sequence[datetime]) -> int | None:
    """The bucket ``moment`` (naive UTC) falls in, if any."""
    index = bisect.bisect_right(edges, moment) - 1
    return index if 0 <= index < len(edges) - 1 else None


async def _values(request: _Request, metric: Metric, edges: list[datetime]) -> list[float]:
    """Each bucket's value, then (last) the value over the whole range: ``len(edges)`` values.

    Rounded as shown: money 2 decimals, percentages 1, counts exact.
    """
    whole = [edges[0], edges[-1]]
    where = request.where
    if metric in (Metric.REVENUE, Metric.NET_REVENUE):
        lines = await _per_bucket(request, LineValues(where), edges)
        net = metric is Metric.NET_REVENUE
        values = [lines_total([bucket], less_refunds=net) for bucket in lines]
        points = [money(value) for value in values]
        return [*points, money(math.fsum(points))]
    if metric in (Metric.ORDERS, Metric.AVERAGE_ORDER_VALUE):
        (orders,) = await _per_bucket(request, Orders(where), whole)
        counts = [0] * (len(edges) - 1)
        for first in orders.values():
            bucket = _bucket_of(first, edges)
            if bucket is not None:
                counts[bucket] += 1
        if metric is Metric.ORDERS:
            return [*counts, sum(counts)]
        lines = await _per_bucket(request, LineValues(where), edges)
        revenue = [role_total(bucket, Role.PURCHASE) for bucket in lines]
        averages = [money(ratio(v, count)) for v, count in zip(revenue, counts, strict=True)]
        return [*averages, money(ratio(math.fsum(revenue), sum(counts)))]
    if metric in (Metric.SESSIONS, Metric.CONVERSION_RATE):
        spans = [
            *await _per_bucket(request, SessionActivity(where), edges),
            *await _per_bucket(request, SessionActivity(where), whole),
        ]
        if metric is Metric.SESSIONS:
            return [float(span.session_count) for span in spans]
        return [percent(span.role_count(Role.PURCHASE), span.session_count) for span in spans]
    if metric is Metric.VISITORS:
        sets = [
            *await _per_bucket(request, Visitors(where), edges),
            *await _per_bucket(request, Visitors(where), whole),
        ]
        return [float(distinct_count(pieces)) for pieces in sets]
    if metric in EVENT_ROLES or metric is Metric.EVENTS:
        types = (
            types_of(EVENT_ROLES[metric]) if metric in EVENT_ROLES else (request.event_type or "",)
        )
        counts_by_type = await _per_bucket(request, TypeCounts(where), edges)
        counts = [sum(bucket.get(t, 0) for t in types) for bucket in counts_by_type]
        return [*counts, sum(counts)]
    # NEW_CUSTOMERS and RETURNING_CUSTOMERS: the buyers of each bucket (filtered),
    # against each buyer's first purchase ever (not filtered).
    first_ever = await first_purchases(request.database, tenant=request.tenant, now=request.now)
    buyers = [
        *await _per_bucket(request, FirstPurchases(where), edges),
        *await _per_bucket(request, FirstPurchases(where), whole),
    ]
    bounds = [*itertools.pairwise(edges), (edges[0], edges[-1])]
    if metric is Metric.NEW_CUSTOMERS:
        counts = [
            sum(1 for user in bucket if low <= first_ever.get(user, low) < high)
            for bucket, (low, high) in zip(buyers[:-1], bounds[:-1], strict=True)
        ]
        return [*counts, sum(counts)]
    return [
        sum(1 for user in bucket if first_ever.get(user, low) < low)
        for bucket, (low, _) in zip(buyers, bounds, strict=True)
    ]


async def metric_series(
    database: Database,
    *,
    tenant: str,
    metric: Metric,
    window: Range,
    granularity: Granularity,
    where: Mapping[str, str],
    event_type: str | None,
    compare: Comparison | None,
    currency: str,
    now: datetime,
) -> MetricSeries:
    """``metric`` per bucket of ``window``, its total and, with ``compare``, the compared range."""
    if metric is Metric.EVENTS and not event_type:
        raise BadUserInput("metric EVENTS needs eventType", field="eventType")
    request = _Request(database, tenant, dict(where), event_type, now)

    async def series(span: Range, earlier: MetricSeries | None) -> MetricSeries:
        edges = boundaries(span, granularity)
        values = await _values(request, metric, edges) if edges else [0.0]
        total = values[-1]
        return MetricSeries(
            metric=metric,
            period=span.period,
            granularity=granularity,
            start_date=span.start,
            end_date=span.end,
            total=total,
            additive=metric not in NON_ADDITIVE,
            unit=unit_of(metric, currency),
            currency=currency if metric in MONEY else None,
            data_points=[
                DataPoint(to_aware_utc(low), value)
                for low, value in zip(edges, values[:-1], strict=False)
            ],
            previous=earlier,
            change=None if earlier is None else change(total, earlier.total),
        )

    earlier = None
    if compare is not None:
        earlier = await series(previous(window, compare), None)
    return await series(window, earlier)


async def metric_total(
    database: Database,
    *,
    tenant: str,
    metric: Metric,
    window: Range,
    where: Mapping[str, str],
    now: datetime,
    event_type: str | None = None,
) -> float:
    """``metric`` over the whole of ``window`` (0 for an empty range)."""
    if window.end <= window.start:
        return 0.0
    start, end = window.naive
    request = _Request(database, tenant, dict(where), event_type, now)
    values = await _values(request, metric, [start, end])
    return values[-1]


@dataclass(frozen=True, slots=True)
class KpiValue:
    value: float
    previous: float
    change: float | None


OVERVIEW_KPIS = (
    Metric.REVENUE,
    Metric.ORDERS,
    Metric.AVERAGE_ORDER_VALUE,
    Metric.CONVERSION_RATE,
    Metric.VISITORS,
)


class OverviewReport:
    """overview (docs/metrics.md): five figures over a range and the previous period.

    Lazy: each figure is computed when first asked for (both ranges at once), once.
    """

    def __init__(self, database: Database, *, tenant: str, window: Range, now: datetime) -> None:
        self.database = database
        self.tenant = tenant
        self.window = window
        self.earlier = previous(window, Comparison.PREVIOUS_PERIOD)
        self.now = now
        self._figures: dict[Metric, asyncio.Future[KpiValue]] = {}

    async def _compute(self, metric: Metric) -> KpiValue:
        value, earlier = await asyncio.gather(
            *(
                metric_total(
                    self.database,
                    tenant=self.tenant,
                    metric=metric,
                    window=w,
                    where={},
                    now=self.now,
                )
                for w in (self.window, self.earlier)
            )
        )
        return KpiValue(value=value, previous=earlier, change=change(value, earlier))

    async def kpi(self, metric: Metric) -> KpiValue:
        """``metric`` now and before; the first caller starts it, every caller shares it."""
        task = self._figures.get(metric)
        if task is None:
            task = self._figures[metric] = asyncio.ensure_future(self._compute(metric))
        return await asyncio.shield(task)
