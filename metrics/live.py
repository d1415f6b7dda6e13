"""liveStats (docs/api-next.graphql, issue 10: live): what one store is doing now.

Two reads per answer, run concurrently:

* the recent pass, one pipeline over the last ``RECENT`` (5 minutes) before the
  computation time: distinct visitors, events of the last minute, and each page's
  distinct visitors;
* today's orders and revenue, exactly as ``metrics(metric: ORDERS | REVENUE,
  period: "today")`` counts them (``metrics.series.metric_total``: closed hours from
  the hour summaries' cache, the open hour raw), in the tenant's zone.

Rolling windows are UTC instants, start inclusive, end exclusive. Bots excluded.
``visitor(e)`` = ``visitorId`` if not null, else ``sessionId``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import to_aware_utc, to_naive_utc
from core.vocabulary import Metric
from metrics.filters import PEOPLE
from metrics.ranges import parse_range
from metrics.series import metric_total
from storage.database import Database, Pipeline
from storage.documents import EVENTS

RECENT = timedelta(minutes=5)
LAST_MINUTE = timedelta(minutes=1)
TOP_PAGES = 10
VISITOR: dict[str, Any] = {"$ifNull": ["$visitorId", "$sessionId"]}


@dataclass(frozen=True, slots=True)
class PageCount:
    page: str
    visitors: int  # distinct visitor(e) with an event on the page in the last 5 minutes


@dataclass(frozen=True, slots=True)
class LiveStats:
    at: datetime  # aware UTC: the computation time every window ends at
    visitors_now: int
    events_last_minute: int
    orders_today: int
    revenue_today: float
    top_pages: list[PageCount]


@dataclass(frozen=True, slots=True)
class Recent:
    visitors: int
    events_last_minute: int
    top_pages: list[PageCount]


# Index (tenantId, createdAt); createdAt in [now − 5 min, now), UTC. $facet: the same
# events three ways: distinct visitors; events at or after now − 1 min (a $cond sum,
# not a second $match: mongomock deep-copies what it filters); distinct visitors per
# page (events without a page form a null group, which the reader drops).
def recent_pipeline(*, tenant: str, now: datetime) -> Pipeline:
    end = to_naive_utc(now)
    minute = end - LAST_MINUTE
    match = {
        "$match": {"tenantId": tenant, "createdAt": {"$gte": end - RECENT, "$lt": end}, **PEOPLE}
    }
    last_minute = {"$cond": [{"$gte": ["$createdAt", minute]}, 1, 0]}
    facet = {
        "$facet": {
            "visitors": [{"$group": {"_id": VISITOR}}, {"$count": "visitors"}],
            "minute": [{"$group": {"_id": None, "events": {"$sum": last_minute}}}],
            "pages": [
                {"$group": {"_id": "$page", "visitors": {"$addToSet": VISITOR}}},
                {"$project": {"visitors": {"$size": "$visitors"}}},
            ],
        }
    }
    return [match, facet]


def read_recent(rows: list[dict[str, Any]]) -> Recent:
    """The recent pass's one row as figures; pages by visitors desc, then page asc."""
    row = rows[0] if rows else {}
    visitors = row.get("visitors") or [{}]
    minute = row.get("minute") or [{}]
    pages = sorted(
        (
            PageCount(page["_id"], int(page["visitors"]))
            for page in row.get("pages", ())
            if isinstance(page.get("_id"), str)
        ),
        key=lambda page: (-page.visitors, page.page),
    )
    return Recent(
        visitors=int(visitors[0].get("visitors", 0)),
        events_last_minute=int(minute[0].get("events", 0)),
        top_pages=pages[:TOP_PAGES],
    )


async def recent(database: Database, *, tenant: str, now: datetime) -> Recent:
    rows = await database.run_pipeline(EVENTS, recent_pipeline(tenant=tenant, now=now))
    return read_recent(rows)


async def live_stats(
    database: Database, *, tenant: str, zone: ZoneInfo, now: datetime, retention_days: int
) -> LiveStats:
    """``tenant`` at ``now``:

    * visitorsNow: distinct ``visitor(e)`` over events of any type in [now − 5 min, now);
    * eventsLastMinute: events of any type in [now − 1 min, now);
    * ordersToday, revenueToday: ORDERS and REVENUE (docs/metrics.md, Metrics) from 00:00
      of today in ``zone`` to ``now``; revenue in the tenant's currency, 2 decimals;
    * topPages: up to ``TOP_PAGES`` pages with their distinct visitors over the same
      5 minutes (any event with a page), by visitors desc, then page asc.
    """
    today = parse_range("today", None, None, now=now, zone=zone, retention_days=retention_days)
    figures = (
        metric_total(database, tenant=tenant, metric=metric, window=today, where={}, now=now)
        for metric in (Metric.ORDERS, Metric.REVENUE)
    )
    pass_, (orders, revenue) = await asyncio.gather(
        recent(database, tenant=tenant, now=now), asyncio.gather(*figures)
    )
    return LiveStats(
        at=to_aware_utc(now),
        visitors_now=pass_.visitors,
        events_last_minute=pass_.events_last_minute,
        orders_today=int(orders),
        revenue_today=revenue,
        top_pages=pass_.top_pages,
    )
