"""The database passes of the alert rules (docs/metrics.md, alerts), one per rule.

HIGH_ABANDONMENT reads ``metrics.abandonment``; the other four rules are here.
Unconverted products, abandoned carts and stuck sessions read the hour
summaries (``metrics.summaries``: closed hours cached, the open one raw);
payment errors, over one hour, read their own small pipeline.
``metrics.alerts`` decides which rules fire and words the alerts. Windows are
rolling hours before the request, UTC instants, start inclusive, end exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.roles import Role
from core.vocabulary import EventType
from metrics import summaries
from metrics.filters import PEOPLE
from metrics.hourly import ProductActivity, SessionActivity, SessionSpan, slug_of
from metrics.windows import Rolling, rolling
from storage.database import Database, Pipeline
from storage.documents import EVENTS

ABANDONMENT_HOURS = 24
MIN_ABANDONMENT_CHECKOUTS = 3
MAX_ABANDONMENT_RATE = 70.0  # percent; fires above it
POPULAR_HOURS = 7 * 24
POPULAR_VIEWS_ABOVE = 10  # distinct viewing sessions; fires above it
PAYMENT_HOURS = 1
MIN_PAYMENT_ERRORS = 1
CARTS_HOURS = 6
MIN_ABANDONED_CARTS = 5
STUCK_HOURS = 24
STUCK_EVENTS_ABOVE = 15  # events of one session; stuck above it
MIN_STUCK_SESSIONS = 1


@dataclass(frozen=True, slots=True)
class ProductViews:
    slug: str
    views: int  # distinct sessions with a product_view of the slug


# Index (tenantId, eventType, createdAt); createdAt in [now − 1 h, now), UTC.
def payment_errors_pipeline(*, tenant: str, window: Rolling) -> Pipeline:
    match = {
        "$match": {
            "tenantId": tenant,
            "eventType": EventType.PAYMENT_ERROR.value,
            "createdAt": window.match_range,
            **PEOPLE,
        }
    }
    count = {"$group": {"_id": None, "count": {"$sum": 1}}}
    return [match, count]


async def _count(database: Database, pipeline: Pipeline) -> int:
    rows = await database.run_pipeline(EVENTS, pipeline)
    return int(rows[0]["count"]) if rows else 0


async def unconverted_products(
    database: Database, *, tenant: str, now: datetime
) -> list[ProductViews]:
    """Slugs viewed by > 10 distinct sessions and never purchased in the last 7 × 24 h.

    Views are distinct sessions with a ``product_view`` (role) of the slug;
    sorted by views descending, then slug ascending. From the product hour
    summary (``metrics.hourly.ProductActivity``).
    """
    window = rolling(now, hours=POPULAR_HOURS)
    activity = await summaries.over_range(
        database, ProductActivity(), tenant=tenant, low=window.start, high=window.end, now=now
    )
    views: dict[str, int] = {}
    purchased: set[str] = set()
    for key, row in activity.items():
        role, slug = slug_of(key)
        if role == Role.PRODUCT_VIEW:
            views[slug] = row.sessions
        elif role == Role.PURCHASE:
            purchased.add(slug)
    popular = [
        ProductViews(slug=slug, views=count)
        for slug, count in views.items()
        if count > POPULAR_VIEWS_ABOVE and slug not in purchased
    ]
    return sorted(popular, key=lambda product: (-product.views, product.slug))


async def payment_errors(database: Database, *, tenant: str, now: datetime) -> int:
    """``payment_error`` events in the last hour (one raw pipeline: an hour is small)."""
    window = rolling(now, hours=PAYMENT_HOURS)
    rows = await database.run_pipeline(
        EVENTS, payment_errors_pipeline(tenant=tenant, window=window)
    )
    return int(rows[0]["count"]) if rows else 0


async def _sessions(database: Database, *, tenant: str, now: datetime, hours: int) -> SessionSpan:
    window = rolling(now, hours=hours)
    return await summaries.over_range(
        database, SessionActivity(), tenant=tenant, low=window.start, high=window.end, now=now
    )


async def abandoned_carts(database: Database, *, tenant: str, now: datetime) -> int:
    """Sessions with an ``add_to_cart`` and no ``begin_checkout`` (roles) in the last 6 hours."""
    state = await _sessions(database, tenant=tenant, now=now, hours=CARTS_HOURS)
    return len(state.role(Role.ADD_TO_CART) - state.role(Role.BEGIN_CHECKOUT))


async def stuck_sessions(database: Database, *, tenant: str, now: datetime) -> int:
    """Sessions with > 15 events (any type) and no ``purchase`` in the last 24 hours."""
    state = await _sessions(database, tenant=tenant, now=now, hours=STUCK_HOURS)
    return len(state.sessions_above(STUCK_EVENTS_ABOVE) - state.role(Role.PURCHASE))
