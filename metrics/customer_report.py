"""customers (docs/metrics.md, "overview, products, customers, marketing"): new and returning
buyers of a range, their lifetime value, and monthly cohorts with retention.

Over purchase-role events with a ``userId``. A buyer's *first purchase* and
*lifetime value* are over all stored history (what retention keeps), not the range.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.clock import to_aware_utc, to_naive_utc
from metrics import summaries
from metrics.customers import first_purchases
from metrics.hourly import BuyerActivity, FirstPurchases
from metrics.ranges import Range
from metrics.rounding import money, percent
from metrics.windows import local_midnight
from storage.database import Database


@dataclass(frozen=True, slots=True)
class Cohort:
    cohort: date  # the 1st of the local month
    customers: int
    retention: list[float]  # k = 1, 2, ... up to the current month: % buying k months later


@dataclass(frozen=True, slots=True)
class CustomersReport:
    start_date: datetime
    end_date: datetime
    new_customers: int
    returning_customers: int
    lifetime_value: float
    cohorts: list[Cohort]


def _month_after(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


async def customers_report(
    database: Database, *, tenant: str, window: Range, now: datetime
) -> CustomersReport:
    """newCustomers: buyers whose first purchase ever is in the range; returningCustomers:
    buyers in the range whose first purchase is earlier; lifetimeValue: the mean, over
    buyers in the range, of their Σ lineValue over all history (2 decimals, 0 without
    buyers); cohorts: per local month of a first purchase in the range, its size and, for
    each later month up to the current one, the % of it buying in that month.
    """
    zone = window.zone
    seen_at = to_naive_utc(now)
    history_start = seen_at - timedelta(days=database.retention_days)
    # Months from the one the range starts in to the current one, as bucket edges.
    months = [window.first_day.replace(day=1)]
    current = to_aware_utc(now).astimezone(zone).date().replace(day=1)
    while months[-1] < current:
        months.append(_month_after(months[-1]))
    edges = [to_naive_utc(local_midnight(month, zone)) for month in months]
    edges = [edge for edge in edges if edge < seen_at]
    first_ever, in_range, lifetime = await asyncio.gather(
        first_purchases(database, tenant=tenant, now=now),
        summaries.over_range(
            database, FirstPurchases(), tenant=tenant, low=window.start, high=window.end, now=now
        ),
        summaries.over_range(
            database, BuyerActivity(), tenant=tenant, low=history_start, high=seen_at, now=now
        ),
    )
    monthly = (  # each month's buyers
        await summaries.per_bucket(
            database, FirstPurchases(), tenant=tenant, boundaries=[*edges, seen_at], now=now
        )
        if edges
        else []
    )
    start, end = window.naive
    new = sorted(user for user in in_range if start <= first_ever.get(user, start) < end)
    returning = sum(1 for user in in_range if first_ever.get(user, start) < start)
    values = [math.fsum(lifetime[user].line_values) for user in in_range if user in lifetime]
    cohorts: dict[int, list[str]] = {}
    for user in new:
        first = first_ever.get(user, start)
        index = max(i for i, edge in enumerate(edges) if edge <= first)
        cohorts.setdefault(index, []).append(user)
    return CustomersReport(
        start_date=window.start,
        end_date=window.end,
        new_customers=len(new),
        returning_customers=returning,
        lifetime_value=money(math.fsum(values) / len(values)) if values else 0.0,
        cohorts=[
            Cohort(
                cohort=months[index],
                customers=len(users),
                retention=[
                    percent(sum(1 for user in users if user in monthly[later]), len(users))
                    for later in range(index + 1, len(edges))
                ],
            )
            for index, users in sorted(cohorts.items())
        ],
    )
