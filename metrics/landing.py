"""landingStats and todayStats: the landing page's week and day (docs/metrics.md,
"landingStats(tenantId, timezone), todayStats").

Two passes per answer, run concurrently, each one pipeline over the window:

=========  ==========================================================================
pass       figures
=========  ==========================================================================
visitors   visitorsToday, visitorsWeek, last7Days (page_view-role events)
counts     whatsappClicks, callClicks, currencyToggles, qrScans, productClicks,
           productsViewed, avgTimeOnPage (their roles' events, grouped by type)
=========  ==========================================================================

landingStats reads the dashboard window (00:00 of today − 6 days in the zone to the
request time); todayStats runs the same two passes over today alone (00:00 of today
in the zone to the request time), so it reads one day, not seven. Bots excluded.
``visitor(e)`` = ``visitorId`` if not null, else ``sessionId``.
"""

from __future__ import annotations

import asyncio
import math
import sys
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.roles import Role, in_role, in_roles, role_of
from metrics.dashboard_pipelines import day_boundaries, window_match
from metrics.rounding import AVERAGE_DIGITS, ratio, round_half_away
from metrics.windows import DayWindow, dashboard_window
from storage.database import Database, Pipeline
from storage.documents import EVENTS

COUNTED_ROLES = (
    Role.WHATSAPP_CART_CLICK,
    Role.CALL_CLICK,
    Role.CURRENCY_TOGGLE,
    Role.QR_SCAN,
    Role.PRODUCT_VIEW,
    Role.TIME_ON_PAGE,
)
VISITOR: dict[str, Any] = {"$ifNull": ["$visitorId", "$sessionId"]}
SECONDS = "$metadata.seconds"
# A reported time: a number (not a bool, not text) and ≥ 0; NaN is below 0 in both.
VALID_SECONDS: dict[str, Any] = {"$and": [{"$isNumber": SECONDS}, {"$gte": [SECONDS, 0]}]}


# Index (tenantId, eventType, createdAt); page_view-role events with createdAt in
# [start, end) of the zone's days. $facet: the same events counted per day ($bucket
# on the window's day starts, computed in Python: mongomock lacks $dateTrunc) and
# over the whole window; a visitor seen on two days counts once in `window`.
def visitors_pipeline(*, tenant: str, window: DayWindow) -> Pipeline:
    match = window_match(tenant, window, eventType=in_role(Role.PAGE_VIEW))
    days = [
        {
            "$bucket": {
                "groupBy": "$createdAt",
                "boundaries": day_boundaries(window),
                "output": {"visitors": {"$addToSet": VISITOR}},
            }
        },
        {"$project": {"visitors": {"$size": "$visitors"}}},
    ]
    whole = [{"$group": {"_id": VISITOR}}, {"$count": "visitors"}]
    return [match, {"$facet": {"days": days, "window": whole}}]


# Index (tenantId, eventType, createdAt); the counted roles' events with createdAt
# in [start, end). One row per event type: its events, and the sum and number of
# its valid metadata.seconds (only time_on_page-role rows use them).
def counts_pipeline(*, tenant: str, window: DayWindow) -> Pipeline:
    match = window_match(tenant, window, eventType=in_roles(COUNTED_ROLES))
    group = {
        "$group": {
            "_id": "$eventType",
            "events": {"$sum": 1},
            "seconds": {"$sum": {"$cond": [VALID_SECONDS, SECONDS, 0]}},
            "timed": {"$sum": {"$cond": [VALID_SECONDS, 1, 0]}},
        }
    }
    return [match, group]


@dataclass(frozen=True, slots=True)
class VisitorsDay:
    date: date
    visitors: int


@dataclass(frozen=True, slots=True)
class Visitors:
    """Distinct visitors per day of the window (zero-filled) and over the whole window."""

    per_day: tuple[VisitorsDay, ...]
    window: int


@dataclass(frozen=True, slots=True)
class RoleCounts:
    """Events per role in the window, and the valid seconds of time_on_page events."""

    events: dict[Role, int]
    seconds: float
    timed: int

    @property
    def average_seconds(self) -> float:
        """Mean reported seconds, 1 decimal; 0 when none."""
        mean = ratio(self.seconds, self.timed)
        # Stored numbers are finite, but two near 1.8e308 sum to infinity.
        return round_half_away(mean if math.isfinite(mean) else sys.float_info.max, AVERAGE_DIGITS)


@dataclass(frozen=True, slots=True)
class LandingStats:
    start_date: datetime
    end_date: datetime
    visitors_today: int
    visitors_week: int
    whatsapp_clicks: int
    call_clicks: int
    currency_toggles: int
    qr_scans: int
    product_clicks: int
    avg_time_on_page: float
    last_7_days: tuple[VisitorsDay, ...]


@dataclass(frozen=True, slots=True)
class TodayStats:
    visitors_today: int
    whatsapp_clicks: int
    qr_scans: int
    products_viewed: int


def today_window(now: datetime, zone: ZoneInfo) -> DayWindow:
    """00:00 of today in ``zone`` to ``now``: the last day of the dashboard window."""
    week = dashboard_window(now, zone)
    return DayWindow(
        start=week.day_starts[-1],
        end=week.end,
        days=week.days[-1:],
        day_starts=week.day_starts[-1:],
    )


async def visitors(database: Database, *, tenant: str, window: DayWindow) -> Visitors:
    if window.start >= window.end:
        # At 00:00 exactly today has no instant yet, and one boundary makes no $bucket.
        return Visitors(per_day=tuple(VisitorsDay(day, 0) for day in window.days), window=0)
    pipeline = visitors_pipeline(tenant=tenant, window=window)
    (facets,) = await database.run_pipeline(EVENTS, pipeline)
    counts = {row["_id"]: int(row["visitors"]) for row in facets["days"]}
    per_day = tuple(
        VisitorsDay(day, counts.get(start, 0))
        for day, start in zip(window.days, window.bucket_boundaries, strict=False)
    )
    whole = int(facets["window"][0]["visitors"]) if facets["window"] else 0
    return Visitors(per_day=per_day, window=whole)


async def role_counts(database: Database, *, tenant: str, window: DayWindow) -> RoleCounts:
    rows = await database.run_pipeline(EVENTS, counts_pipeline(tenant=tenant, window=window))
    events = dict.fromkeys(COUNTED_ROLES, 0)
    seconds, timed = 0.0, 0
    for row in rows:
        role = role_of(row["_id"])
        assert role is not None, row["_id"]  # the match admits only these roles' types
        events[role] += int(row["events"])
        if role == Role.TIME_ON_PAGE:
            seconds += float(row["seconds"])
            timed += int(row["timed"])
    return RoleCounts(events=events, seconds=seconds, timed=timed)


async def landing_stats(
    database: Database, *, tenant: str, zone: ZoneInfo, now: datetime
) -> LandingStats:
    """The landing page's week: visitors (distinct ``visitor(e)`` of page_view-role events)
    today, over the window and per day; clicks, toggles, scans and product clicks (events
    of their roles); avgTimeOnPage (mean ``metadata.seconds`` of time_on_page-role events,
    seconds, 1 decimal). Window: 00:00 of today − 6 days in ``zone`` to ``now``."""
    window = dashboard_window(now, zone)
    seen, counted = await asyncio.gather(
        visitors(database, tenant=tenant, window=window),
        role_counts(database, tenant=tenant, window=window),
    )
    return LandingStats(
        start_date=window.start,
        end_date=window.end,
        visitors_today=seen.per_day[-1].visitors,
        visitors_week=seen.window,
        whatsapp_clicks=counted.events[Role.WHATSAPP_CART_CLICK],
        call_clicks=counted.events[Role.CALL_CLICK],
        currency_toggles=counted.events[Role.CURRENCY_TOGGLE],
        qr_scans=counted.events[Role.QR_SCAN],
        product_clicks=counted.events[Role.PRODUCT_VIEW],
        avg_time_on_page=counted.average_seconds,
        last_7_days=seen.per_day,
    )


async def today_stats(
    database: Database, *, tenant: str, zone: ZoneInfo, now: datetime
) -> TodayStats:
    """Today's visitors (as landing_stats), WhatsApp clicks, QR scans and product views
    (events of their roles). Window: 00:00 of today in ``zone`` to ``now``."""
    window = today_window(now, zone)
    seen, counted = await asyncio.gather(
        visitors(database, tenant=tenant, window=window),
        role_counts(database, tenant=tenant, window=window),
    )
    return TodayStats(
        visitors_today=seen.window,
        whatsapp_clicks=counted.events[Role.WHATSAPP_CART_CLICK],
        qr_scans=counted.events[Role.QR_SCAN],
        products_viewed=counted.events[Role.PRODUCT_VIEW],
    )
