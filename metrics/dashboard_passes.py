"""The database passes of dashboardStats: each runs one pipeline and reads its rows.

A pass returns a small frozen dataclass of what its pipeline counted, with
every day of the window present (zero-filled) and nothing rounded yet;
``metrics.dashboard`` turns passes into the figures of docs/metrics.md. Each pass
reads only grouped rows: per day, per type and slug, per source, or totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.roles import Role
from core.vocabulary import DIRECT_SOURCE
from metrics import dashboard_pipelines as pipelines
from metrics.windows import DayWindow
from storage.database import Database
from storage.documents import EVENTS


@dataclass(frozen=True, slots=True)
class Sales:
    """Purchases of the window: per day, revenue, units per slug, buying sessions."""

    sales_per_day: tuple[int, ...]
    revenue: float  # Σ lineValue, unrounded
    units_by_slug: tuple[tuple[str, int], ...]  # by units desc, slug asc; at most 5
    buying_sessions: int


@dataclass(frozen=True, slots=True)
class TypeDayCounts:
    """Events per type and day; ``per_day[type][i]`` is day ``i`` of the window."""

    per_day: dict[str, tuple[int, ...]]

    def total(self, event_type: str) -> int:
        return sum(self.per_day[event_type])

    def folded(self, groups: Mapping[str, Sequence[str]]) -> TypeDayCounts:
        """Counts per group (a role's types, say) and day: the sum of its types' counts."""
        days = len(next(iter(self.per_day.values()), ()))
        return TypeDayCounts(
            per_day={
                name: tuple(sum(self.per_day[t][index] for t in types) for index in range(days))
                for name, types in groups.items()
            }
        )


@dataclass(frozen=True, slots=True)
class ProductFigures:
    """One slug's counts (events or distinct sessions, as the mode says) and its name."""

    slug: str
    name: str
    views: int
    add_to_cart: int
    purchases: int
    purchases_units: int


@dataclass(frozen=True, slots=True)
class Sessions:
    """Sessions of the window, their events, funnel sessions (UNIQUE only), sources."""

    sessions: int
    events: int
    sessions_by_type: dict[str, int]  # per funnel role; empty in TOTAL mode
    sessions_by_source: dict[str, int]


@dataclass(frozen=True, slots=True)
class Whatsapp:
    """Sessions that clicked, that bought on WhatsApp, and the 10 latest clickers."""

    clicking_sessions: int
    buying_sessions: int
    latest_clickers: tuple[str, ...]


def _days(window: DayWindow) -> dict[datetime, int]:
    """Bucket id (a day's start, naive UTC) → index of the day in the window."""
    return {start: index for index, start in enumerate(window.bucket_boundaries[:-1])}


async def sales(database: Database, *, tenant: str, window: DayWindow) -> Sales:
    pipeline = pipelines.sales_pipeline(tenant=tenant, window=window)
    (facets,) = await database.run_pipeline(EVENTS, pipeline)
    per_day = [0] * len(window.days)
    revenue = 0.0
    index = _days(window)
    for row in facets["days"]:
        per_day[index[row["_id"]]] += int(row["sales"])
        revenue += float(row["revenue"])
    units = tuple(
        (row["_id"], int(row["units"])) for row in facets["products"] if row["_id"] is not None
    )
    buyers = facets["buyers"][0]["sessions"] if facets["buyers"] else 0
    return Sales(
        sales_per_day=tuple(per_day),
        revenue=revenue,
        units_by_slug=units[: pipelines.TOP_PRODUCTS],
        buying_sessions=int(buyers),
    )


async def type_day_counts(
    database: Database, *, tenant: str, window: DayWindow, event_types: Sequence[str]
) -> TypeDayCounts:
    pipeline = pipelines.type_day_counts_pipeline(
        tenant=tenant, window=window, event_types=event_types
    )
    rows = await database.run_pipeline(EVENTS, pipeline)
    starts = window.bucket_boundaries[:-1]
    where = {
        pipelines.type_day_key(event_type, start): (event_type, index)
        for event_type in event_types
        for index, start in enumerate(starts)
    }
    counts = {event_type: [0] * len(starts) for event_type in event_types}
    for row in rows:
        # The only other buckets lie between one type's window end and the next
        # type's start; no event falls there.
        event_type, index = where[row["_id"]]
        counts[event_type][index] += int(row["count"])
    return TypeDayCounts(per_day={t: tuple(days) for t, days in counts.items()})


async def products(
    database: Database, *, tenant: str, window: DayWindow, unique: bool
) -> list[ProductFigures]:
    """Slugs with a product_view, add_to_cart or purchase (roles), by views desc, then slug asc."""
    pipeline = pipelines.products_pipeline(tenant=tenant, window=window, unique=unique)
    rows = await database.run_pipeline(EVENTS, pipeline)
    counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
    units: dict[str, int] = {}
    keyed_names: dict[str, str] = {}  # slug → "time key|name" of its latest named event
    for row in rows:
        role, _, slug = str(row["_id"]).partition("|")
        if row["name"] is not None and row["name"] > keyed_names.get(slug, ""):
            keyed_names[slug] = row["name"]
        if role in pipelines.PRODUCT_ROLES:  # other types only name the product
            counts[slug][role] = int(row["count"])
            if role == Role.PURCHASE:
                units[slug] = int(row["units"])
    listed = [
        ProductFigures(
            slug=slug,
            name=pipelines.text_after_time_key(keyed_names[slug]) if slug in keyed_names else slug,
            views=by_role.get(Role.PRODUCT_VIEW, 0),
            add_to_cart=by_role.get(Role.ADD_TO_CART, 0),
            purchases=by_role.get(Role.PURCHASE, 0),
            purchases_units=units.get(slug, 0),
        )
        for slug, by_role in counts.items()
    ]
    return sorted(listed, key=lambda figures: (-figures.views, figures.slug))


async def sessions(database: Database, *, tenant: str, window: DayWindow, unique: bool) -> Sessions:
    pipeline = pipelines.sessions_pipeline(tenant=tenant, window=window, unique=unique)
    rows = await database.run_pipeline(EVENTS, pipeline)
    by_source: defaultdict[str, int] = defaultdict(int)
    by_role: dict[str, int] = dict.fromkeys(pipelines.FUNNEL_COUNT_ROLES, 0) if unique else {}
    events = 0
    for row in rows:
        by_source[row["_id"] or DIRECT_SOURCE] += int(row["sessions"])
        events += int(row["events"])
        for role in by_role:
            by_role[role] += int(row[role])
    return Sessions(
        sessions=sum(by_source.values()),
        events=events,
        sessions_by_type=by_role,
        sessions_by_source=dict(by_source),
    )


async def whatsapp(database: Database, *, tenant: str, window: DayWindow) -> Whatsapp:
    pipeline = pipelines.whatsapp_pipeline(tenant=tenant, window=window)
    (facets,) = await database.run_pipeline(EVENTS, pipeline)
    totals: dict[str, Any] = facets["totals"][0] if facets["totals"] else {}
    latest = tuple(str(row["_id"]) for row in facets["latest"] if row["lastClick"] is not None)
    return Whatsapp(
        clicking_sessions=int(totals.get("clicked") or 0),
        buying_sessions=int(totals.get("purchased") or 0),
        latest_clickers=latest,
    )
