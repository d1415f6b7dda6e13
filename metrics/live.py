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
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import to_aware_utc, to_naive_utc
from core.vocabulary import Metric
from metrics.activity import activity_of
from metrics.alerts import AlertResult, alerts
from metrics.feeds import Publish
from metrics.filters import PEOPLE
from metrics.ranges import parse_range
from metrics.series import metric_total
from storage.database import Database, Pipeline
from storage.documents import EVENTS

RECENT = timedelta(minutes=5)
LAST_MINUTE = timedelta(minutes=1)
TOP_PAGES = 10
VISITOR: dict[str, Any] = {"$ifNull": ["$visitorId", "$sessionId"]}
# Alerts are recomputed at most this often however many events arrive...
ALERTS_THROTTLE_SECONDS = 1.0
# ...and this often without events: their windows roll (an hour-old payment error leaves).
ALERTS_REFRESH_SECONDS = 60.0
Clock = Callable[[], datetime]


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


async def stats_feed(
    publish: Publish[LiveStats],
    database: Database,
    *,
    tenant: str,
    zone: ZoneInfo,
    interval: float,
    retention_days: int,
    clock: Clock,
) -> None:
    """A liveStats feed's producer: the figures now, then every ``interval`` seconds."""
    while True:
        publish(
            await live_stats(
                database, tenant=tenant, zone=zone, now=clock(), retention_days=retention_days
            )
        )
        await asyncio.sleep(interval)


def _shown(found: list[AlertResult]) -> list[tuple[object, ...]]:
    # What a reader sees change: everything but the timestamp (the computation time).
    return [(a.type, a.severity, a.message, a.value, a.product_slug) for a in found]


async def alerts_feed(
    publish: Publish[list[AlertResult]],
    database: Database,
    *,
    tenant: str,
    lang: str,
    clock: Clock,
) -> None:
    """An alertsChanged feed's producer: the alerts now, then each time they differ.

    Recomputed when the tenant got events (``metrics.activity``), at most once per
    ``ALERTS_THROTTLE_SECONDS``, and every ``ALERTS_REFRESH_SECONDS`` regardless.
    """
    with activity_of(database).listen(tenant) as woken:
        shown: list[tuple[object, ...]] | None = None
        while True:
            woken.clear()  # before computing: events arriving meanwhile wake the next round
            found = await alerts(database, tenant=tenant, now=clock(), lang=lang)
            if _shown(found) != shown:
                shown = _shown(found)
                publish(found)
            await asyncio.sleep(ALERTS_THROTTLE_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), ALERTS_REFRESH_SECONDS)
