"""Aggregation pipelines of dashboardStats: pure, keyword-only builders returning data.

Every pipeline starts with one ``$match`` on ``tenantId``, the window's
``createdAt`` range and, where it can, ``eventType``: MongoDB serves it from an
index and the embedded store from its own time index. No later ``$match``
(mongomock deep-copies every document it filters); ``$group`` keys are strings
(mongomock sorts group keys with a slow comparator, slower still for documents).

Days are calendar days of the query's zone, as UTC instants computed in Python
(``metrics.windows``): mongomock has neither ``$dateTrunc`` nor ``timezone`` in
``$dateToString``, so days are found by ``$bucket`` over those instants.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from core.roles import Role, types_of
from core.vocabulary import EventType
from metrics.filters import PEOPLE
from metrics.windows import DayWindow

# The funnel counts of eventCounts and eventsTimeline, by role (Urban Store,
# Hanzo and landing types alike), then the three Urban Store checkout steps.
FUNNEL_COUNT_ROLES: tuple[Role, ...] = (
    Role.PRODUCT_VIEW,
    Role.ADD_TO_CART,
    Role.BEGIN_CHECKOUT,
    Role.PURCHASE,
)
TIMELINE_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        **{role.value: types_of(role) for role in FUNNEL_COUNT_ROLES},
        EventType.CHECKOUT_STARTED.value: (EventType.CHECKOUT_STARTED.value,),
        EventType.PAYMENT_INFO_ENTERED.value: (EventType.PAYMENT_INFO_ENTERED.value,),
        EventType.ORDER_COMPLETED.value: (EventType.ORDER_COMPLETED.value,),
    }
)
PRODUCT_ROLES: tuple[Role, ...] = (Role.PRODUCT_VIEW, Role.ADD_TO_CART, Role.PURCHASE)
TOP_PRODUCTS = 5
WHATSAPP_LIST = 10

# Milliseconds since 1000-01-01 have 14 digits for every year from 1317 to 4168,
# so as text they sort as the instants do.
TIME_KEY_ORIGIN = datetime(1000, 1, 1)
TIME_KEY_WIDTH = 14
TIME_KEY = {"$toString": {"$subtract": ["$createdAt", TIME_KEY_ORIGIN]}}


def window_match(tenant: str, window: DayWindow, **more: Any) -> dict[str, Any]:
    """The first stage: tenant, ``createdAt`` in [start, end) as UTC instants, and ``more``."""
    return {"$match": {"tenantId": tenant, "createdAt": window.match_range, **PEOPLE, **more}}


def day_boundaries(window: DayWindow) -> list[datetime]:
    """``window.bucket_boundaries``, strictly increasing (as MongoDB's ``$bucket`` demands).

    At the very instant a day begins, that day is empty and its start equals the
    window's end; the duplicate is dropped and the day's count stays zero.
    """
    return sorted(set(window.bucket_boundaries))


def keyed_text(field: str) -> dict[str, Any]:
    """``time key|value`` of an event whose ``field`` is not null, else null.

    The condition spares the key's cost on events without the field. MongoDB
    5.2+ would pick the earliest or latest value with ``$top``/``$bottom`` and
    ``sortBy``; mongomock lacks them, so ``$min``/``$max`` (which skip nulls)
    compare these texts instead.
    """
    value = f"${field}"
    return {"$cond": [value, {"$concat": [TIME_KEY, "|", value]}, None]}


def text_after_time_key(keyed: str) -> str:
    """The value of a ``time key|value`` text."""
    return keyed[TIME_KEY_WIDTH + 1 :]


# Index (tenantId, eventType, createdAt); createdAt in [start, end) of the zone's
# days. Per session, then $facet: totals, and the latest clickers (sessions
# without a click sort last and are dropped by the reader; ties by session id).
