"""The database passes of dashboardStats: each reads one hour summary.

A pass returns a small frozen dataclass of what it counted, with every day of
the window present (zero-filled) and nothing rounded yet; ``metrics.dashboard``
turns passes into the figures of docs/metrics.md. Each merges the states of an
hour summary (``metrics.summaries``: closed hours and settled slices kept, the
last minutes read raw).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.roles import Role
from core.vocabulary import DIRECT_SOURCE
from metrics import dashboard_pipelines as pipelines
from metrics import summaries
from metrics.hourly import (
    LineValues,
    ProductActivity,
    SessionActivity,
    TypeCounts,
    WhatsappActivity,
    role_total,
    slug_of,
)
from metrics.windows import Bounded, DayWindow
from storage.database import Database


@dataclass(frozen=True, slots=True)
class TypeDayCounts:
    """Events per type and day; ``count(type, i)`` is day ``i`` of the window."""

    per_day: Mapping[str, tuple[int, ...]]  # types without events are absent
    days: int

    def day_counts(self, event_type: str) -> tuple[int, ...]:
        return self.per_day.get(event_type, (0,) * self.days)

    def total(self, event_type: str) -> int:
        return sum(self.day_counts(event_type))

    def folded(self, groups: Mapping[str, Sequence[str]]) -> TypeDayCounts:
        """Counts per group (a role's types, say) and day: the sum of its types' counts."""
        return TypeDayCounts(
            per_day={
                name: tuple(
                    sum(self.day_counts(t)[index] for t in types) for index in range(self.days)
                )
                for name, types in groups.items()
            },
            days=self.days,
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
    buying_sessions: int  # sessions with a purchase-role event


@dataclass(frozen=True, slots=True)
class Whatsapp:
    """Sessions that clicked, that bought on WhatsApp, and the 10 latest clickers."""

    clicking_sessions: int
    buying_sessions: int
    latest_clickers: tuple[str, ...]


async def revenue(database: Database, *, tenant: str, window: DayWindow, now: datetime) -> float:
    """Σ lineValue of the window's purchases (roles), unrounded, exactly summed."""
    lines = await summaries.over_range(
        database, LineValues(), tenant=tenant, low=window.start, high=window.end, now=now
    )
    return role_total(lines, Role.PURCHASE)


async def type_day_counts(
    database: Database, *, tenant: str, window: DayWindow, now: datetime
) -> TypeDayCounts:
    """Events per type and day of ``window`` (every type; hour summaries)."""
    per_day = await summaries.per_bucket(
        database, TypeCounts(), tenant=tenant, boundaries=window.bucket_boundaries, now=now
    )
    types = {event_type for day in per_day for event_type in day}
    return TypeDayCounts(
        per_day={t: tuple(day.get(t, 0) for day in per_day) for t in types}, days=len(per_day)
    )


async def products(
    database: Database, *, tenant: str, window: Bounded, unique: bool, now: datetime
) -> list[ProductFigures]:
    """Slugs with a product_view, add_to_cart or purchase (roles), by views desc, then slug asc.

    TOTAL counts events, UNIQUE distinct sessions (per role, whatever types a
    session sent); units are Σ quantity of purchases in both modes.
    """
    activity = await summaries.over_range(
        database, ProductActivity(), tenant=tenant, low=window.start, high=window.end, now=now
    )
    counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
    units: dict[str, int] = {}
    keyed_names: dict[str, str] = {}  # slug → "time key|name" of its latest named event
    for key, row in activity.items():
        role, slug = slug_of(key)
        if row.keyed_name is not None and row.keyed_name > keyed_names.get(slug, ""):
            keyed_names[slug] = row.keyed_name
        if role in pipelines.PRODUCT_ROLES:  # other types only name the product
            counts[slug][role] = row.sessions if unique else row.events
            if role == Role.PURCHASE:
                units[slug] = row.units
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


async def sessions(
    database: Database, *, tenant: str, window: DayWindow, unique: bool, now: datetime
) -> Sessions:
    """Sessions of the window, their events, sources and (UNIQUE) sessions per funnel role."""
    state = await summaries.over_range(
        database, SessionActivity(), tenant=tenant, low=window.start, high=window.end, now=now
    )
    sessions = state.session_count
    by_source = Counter(state.source_counts)
    if direct := sessions - by_source.total():
        by_source[DIRECT_SOURCE] += direct
    by_role = (
        {role.value: state.role_count(role) for role in pipelines.FUNNEL_COUNT_ROLES}
        if unique
        else {}
    )
    return Sessions(
        sessions=sessions,
        events=state.events,
        sessions_by_type=by_role,
        sessions_by_source=dict(by_source),
        buying_sessions=state.role_count(Role.PURCHASE),
    )


async def whatsapp(
    database: Database, *, tenant: str, window: DayWindow, now: datetime
) -> Whatsapp:
    """Sessions that clicked, that bought on WhatsApp, and the latest clickers (hour summaries)."""
    state = await summaries.over_range(
        database, WhatsappActivity(), tenant=tenant, low=window.start, high=window.end, now=now
    )
    by_session = sorted(state.last_clicks.items())
    newest_first = sorted(by_session, key=lambda click: click[1], reverse=True)  # stable
    return Whatsapp(
        clicking_sessions=len(state.last_clicks),
        buying_sessions=len(state.buyers),
        latest_clickers=tuple(session for session, _ in newest_first[: pipelines.WHATSAPP_LIST]),
    )
