"""breakdown (docs/metrics.md, "breakdown(metric, by)"): a metric per key of a dimension.

SOURCE, CHANNEL and CAMPAIGN are the session's: its earliest event in the range that
has one (``metrics.hourly.SessionJourneys``); sessions without one are ``direct``,
``Direct`` and left out, respectively, and a session's events all count under its
key. COUNTRY, DEVICE, BROWSER, OS, PAGE, PRODUCT and EVENT_TYPE are each event's own
(``metrics.summaries.ByKey``); events without one count under ``(none)``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import BadUserInput
from core.roles import Role, types_of
from core.vocabulary import DIRECT_SOURCE, Dimension, Metric
from metrics import summaries
from metrics.customers import first_purchases
from metrics.dashboard_pipelines import text_after_time_key
from metrics.hourly import (
    FirstPurchases,
    Journey,
    LineValues,
    Orders,
    SessionActivity,
    SessionJourneys,
    SessionPurchases,
    TypeCounts,
    Visitors,
    distinct_count,
    lines_total,
    union,
)
from metrics.products import check_page
from metrics.ranges import Range
from metrics.rounding import money, percent, ratio
from metrics.series import EVENT_ROLES, metric_total
from metrics.summaries import ByKey, Summary
from storage.database import Database

EVENT_FIELDS: Mapping[Dimension, str] = {
    Dimension.COUNTRY: "country",
    Dimension.DEVICE: "device",
    Dimension.BROWSER: "browser",
    Dimension.OS: "os",
    Dimension.PAGE: "page",
    Dimension.PRODUCT: "productSlug",
    Dimension.EVENT_TYPE: "eventType",
}
DIRECT_CHANNEL = "Direct"


def session_key(dimension: Dimension) -> Callable[[Journey], str | None]:
    def key(journey: Journey) -> str | None:
        if dimension is Dimension.SOURCE:
            return DIRECT_SOURCE if journey.source is None else text_after_time_key(journey.source)
        if dimension is Dimension.CHANNEL:
            return (
                DIRECT_CHANNEL if journey.channel is None else text_after_time_key(journey.channel)
            )
        return None if journey.campaign is None else text_after_time_key(journey.campaign)

    return key


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    key: str
    value: float
    share: float


@dataclass(frozen=True, slots=True)
class Breakdown:
    metric: Metric
    by: Dimension
    start_date: datetime
    end_date: datetime
    total: float
    total_rows: int
    rows: list[BreakdownRow]


class _Reader:
    """Each key's state of a summary over the range, by event field or session key."""

    def __init__(
        self, database: Database, tenant: str, window: Range, dimension: Dimension, now: datetime
    ) -> None:
        self.database, self.tenant, self.window, self.now = database, tenant, window, now
        self.dimension = dimension
        self._sessions: dict[str, str] | None = None  # session → key (session dimensions)

    async def _over(self, summary: Summary[Any, Any]) -> Any:
        return await summaries.over_range(
            self.database,
            summary,
            tenant=self.tenant,
            low=self.window.start,
            high=self.window.end,
            now=self.now,
        )

    @property
    def by_session(self) -> bool:
        return self.dimension not in EVENT_FIELDS

    async def journeys(self, where: dict[str, str]) -> dict[str, Journey]:
        return await self._over(SessionJourneys(where))  # type: ignore[no-any-return]

    async def session_keys(self, where: dict[str, str]) -> dict[str, str]:
        if self._sessions is None:
            journeys = await self.journeys(where)
            key_of = session_key(self.dimension)
            self._sessions = {
                session: key
                for session, journey in journeys.items()
                if (key := key_of(journey)) is not None
            }
        return self._sessions

    async def buying_sessions(self, where: dict[str, str]) -> set[str]:
        """Sessions with a purchase-role event (few: a few in a hundred)."""
        return set(await self._over(SessionPurchases(where)))

    async def per_key(
        self, summary: Summary[Any, Any], where: dict[str, str]
    ) -> dict[str, list[Any]]:
        """Per key, the merged states to combine: one per key for an event field, one per
        session of the key for a session dimension."""
        field = EVENT_FIELDS.get(self.dimension)
        if field is not None:
            return {
                key: [state] for key, state in (await self._over(ByKey(summary, field))).items()
            }
        by_session, keys = await asyncio.gather(
            self._over(ByKey(summary, "sessionId")), self.session_keys(where)
        )
        grouped: dict[str, list[Any]] = {}
        for session, state in by_session.items():
            key = keys.get(session)
            if key is not None:
                grouped.setdefault(key, []).append(state)
        return grouped


async def _values(
    reader: _Reader, metric: Metric, where: dict[str, str], event_type: str | None
) -> dict[str, float]:
    """The metric per key (rounded as shown)."""
    if metric in (Metric.REVENUE, Metric.NET_REVENUE):
        lines = await reader.per_key(LineValues(where), where)
        return {
            key: money(lines_total(states, less_refunds=metric is Metric.NET_REVENUE))
            for key, states in lines.items()
        }
    if metric in (Metric.ORDERS, Metric.AVERAGE_ORDER_VALUE):
        orders = await reader.per_key(Orders(where), where)
        counts = {key: distinct_count(states) for key, states in orders.items()}
        if metric is Metric.ORDERS:
            return {key: float(count) for key, count in counts.items()}
        lines = await reader.per_key(LineValues(where), where)
        return {
            key: money(ratio(lines_total(states, less_refunds=False), counts.get(key, 0)))
            for key, states in lines.items()
        }
    if reader.by_session and metric in (Metric.SESSIONS, Metric.CONVERSION_RATE, Metric.VISITORS):
        # A session has one key: count sessions (and their visitors) per key directly.
        keys = await reader.session_keys(where)
        sessions_of = Counter(keys.values())
        if metric is Metric.SESSIONS:
            return {key: float(count) for key, count in sessions_of.items()}
        if metric is Metric.CONVERSION_RATE:
            buying = Counter(keys[s] for s in await reader.buying_sessions(where) if s in keys)
            return {key: percent(buying[key], count) for key, count in sessions_of.items()}
        journeys = await reader.journeys(where)
        seen: dict[str, set[str]] = {}
        for session, key in keys.items():
            seen.setdefault(key, set()).update(journeys[session].visitors)
        return {key: float(len(found)) for key, found in seen.items()}
    if metric in (Metric.SESSIONS, Metric.CONVERSION_RATE):
        spans = await reader.per_key(SessionActivity(where), where)
        sessions = {key: sum(span.session_count for span in group) for key, group in spans.items()}
        if metric is Metric.SESSIONS:
            return {key: float(count) for key, count in sessions.items()}
        return {
            key: percent(sum(span.role_count(Role.PURCHASE) for span in group), sessions[key])
            for key, group in spans.items()
        }
    if metric is Metric.VISITORS:
        visitors = await reader.per_key(Visitors(where), where)
        return {
            key: float(distinct_count([piece for state in states for piece in state]))
            for key, states in visitors.items()
        }
    if metric in EVENT_ROLES or metric is Metric.EVENTS:
        types = types_of(EVENT_ROLES[metric]) if metric in EVENT_ROLES else (event_type or "",)
        counts_by_type = await reader.per_key(TypeCounts(where), where)
        totals = {
            key: float(sum(state.get(t, 0) for state in states for t in types))
            for key, states in counts_by_type.items()
        }
        return {key: value for key, value in totals.items() if value}
    first_ever = await first_purchases(reader.database, tenant=reader.tenant, now=reader.now)
    buyers = await reader.per_key(FirstPurchases(where), where)
    start, end = reader.window.naive
    found: dict[str, float] = {}
    for key, states in buyers.items():
        users = union(states)
        if metric is Metric.NEW_CUSTOMERS:
            count = sum(1 for user in users if start <= first_ever.get(user, start) < end)
        else:
            count = sum(1 for user in users if first_ever.get(user, start) < start)
        found[key] = float(count)
    return found


async def breakdown(
    database: Database,
    *,
    tenant: str,
    metric: Metric,
    by: Dimension,
    window: Range,
    where: Mapping[str, str],
    event_type: str | None,
    limit: int,
    offset: int,
    now: datetime,
) -> Breakdown:
    """``metric`` per key of ``by`` over ``window``: value, share of the total (1 decimal),
    by value descending then key; ``limit`` rows from ``offset``; ``totalRows`` all keys."""
    check_page(limit, offset)
    if metric is Metric.EVENTS and not event_type:
        raise BadUserInput("metric EVENTS needs eventType", field="eventType")
    filters = dict(where)
    reader = _Reader(database, tenant, window, by, now)
    if window.end <= window.start:
        values: dict[str, float] = {}
        total = 0.0
    else:
        values, total = await asyncio.gather(
            _values(reader, metric, filters, event_type),
            metric_total(
                database,
                tenant=tenant,
                metric=metric,
                window=window,
                where=filters,
                now=now,
                event_type=event_type,
            ),
        )
    rows = sorted(
        (BreakdownRow(key, value, percent(value, total)) for key, value in values.items()),
        key=lambda row: (-row.value, row.key),
    )
    return Breakdown(
        metric=metric,
        by=by,
        start_date=window.start,
        end_date=window.end,
        total=total,
        total_rows=len(rows),
        rows=rows[offset : offset + limit],
    )
