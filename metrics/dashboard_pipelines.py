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

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from core.roles import Role, in_role, role_expression, types_of
from core.vocabulary import EventType
from metrics.filters import PEOPLE
from metrics.lines import LINE_VALUE, QUANTITY
from metrics.windows import DayWindow
from storage.database import Pipeline

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
TIMELINE_TYPES: tuple[str, ...] = tuple(t for types in TIMELINE_GROUPS.values() for t in types)
PRODUCT_ROLES: tuple[Role, ...] = (Role.PRODUCT_VIEW, Role.ADD_TO_CART, Role.PURCHASE)
WHATSAPP_TYPES: tuple[str, ...] = (
    *types_of(Role.WHATSAPP_CART_CLICK),
    EventType.WHATSAPP_PURCHASE.value,
)
TOP_PRODUCTS = 5
WHATSAPP_LIST = 10

# Same meaning in $dateToString and strftime; the separator rides in the format
# so that the key is one $concat of two parts.
TYPE_SECOND_FORMAT = "|%Y-%m-%dT%H:%M:%S"
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


def type_day_key(event_type: str, moment: datetime) -> str:
    """``type|YYYY-MM-DDTHH:MM:SS`` (UTC): text that sorts by type, then by time."""
    return event_type + moment.strftime(TYPE_SECOND_FORMAT)


def type_day_boundaries(event_types: Sequence[str], window: DayWindow) -> list[str]:
    """For each type, the keys of its day starts and of the window end (rounded up).

    The end is rounded up to a whole second because keys drop the fraction: an
    event at 12:00:00.300 before an end at 12:00:00.700 has key 12:00:00, which
    must stay below the end's key. Event types never contain ``|``, so one type's
    keys never fall between another's.
    """
    *starts, end = day_boundaries(window)
    if end.microsecond:
        end += timedelta(microseconds=1_000_000 - end.microsecond)
    keys = {type_day_key(t, moment) for t in event_types for moment in (*starts, end)}
    return sorted(keys)


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


# Index (tenantId, eventType, createdAt); purchases (the purchase role's types)
# with createdAt in [start, end) of the zone's days. $facet: the same few
# purchase events grouped three ways in one round trip. Products keep one row
# more than shown: a null slug may hold one.
def sales_pipeline(*, tenant: str, window: DayWindow) -> Pipeline:
    match = window_match(tenant, window, eventType=in_role(Role.PURCHASE))
    days = {
        "$bucket": {
            "groupBy": "$createdAt",
            "boundaries": day_boundaries(window),
            "output": {"sales": {"$sum": 1}, "revenue": {"$sum": LINE_VALUE}},
        }
    }
    products = [
        {"$group": {"_id": "$productSlug", "units": {"$sum": QUANTITY}}},
        {"$sort": {"units": -1, "_id": 1}},
        {"$limit": TOP_PRODUCTS + 1},
    ]
    buyers = [{"$group": {"_id": "$sessionId"}}, {"$count": "sessions"}]
    facet = {"$facet": {"days": [days], "products": products, "buyers": buyers}}
    return [match, facet]


# Index (tenantId, eventType, createdAt); createdAt in [start, end) of the zone's
# days. One $bucket over text keys `type|UTC second` counts per type and day:
# cheap in mongomock, where $group on a compound key or $switch per event is not.
# On MongoDB, $group on {type, $dateTrunc(timezone)} would do without the keys.
# Per type, not per role: the reader sums a role's types (counts add up).
def type_day_counts_pipeline(
    *, tenant: str, window: DayWindow, event_types: Sequence[str]
) -> Pipeline:
    match = window_match(tenant, window, eventType={"$in": list(event_types)})
    stamp = {"$dateToString": {"format": TYPE_SECOND_FORMAT, "date": "$createdAt"}}
    bucket = {
        "$bucket": {
            "groupBy": {"$concat": ["$eventType", stamp]},
            "boundaries": type_day_boundaries(event_types, window),
            "output": {"count": {"$sum": 1}},
        }
    }
    return [match, bucket]


# Index (tenantId, createdAt); createdAt in [start, end) of the zone's days;
# `productSlug: {$ne: null}` filters within the range (names come from any event
# of the slug). One row per `role|slug` (product roles; other types keep their
# type and only name the product): event count (TOTAL) or distinct sessions
# (UNIQUE; hence the role in the key, so that a session is counted once per role
# whatever types it sent), units, and the latest non-null name.
def products_pipeline(*, tenant: str, window: DayWindow, unique: bool) -> Pipeline:
    match = window_match(tenant, window, productSlug={"$ne": None})
    counted = {"$addToSet": "$sessionId"} if unique else {"$sum": 1}
    group = {
        "$group": {
            "_id": {"$concat": [role_expression(PRODUCT_ROLES), "|", "$productSlug"]},
            "count": counted,
            "units": {"$sum": QUANTITY},
            "name": {"$max": keyed_text("productName")},
        }
    }
    if not unique:
        return [match, group]
    sizes = {"$project": {"count": {"$size": "$count"}, "units": 1, "name": 1}}
    return [match, group, sizes]


# Index (tenantId, createdAt); createdAt in [start, end) of the zone's days. Per
# session first (events, earliest source, and in UNIQUE the set of its types),
# then per source (`""` = direct): few rows, which the reader also sums for totals.
# In UNIQUE a session has a role when its set of types meets the role's types.
# $substr (MongoDB's alias of $substrBytes; mongomock lacks $substrCP) cuts the
# ASCII time key off, never inside a character.
def sessions_pipeline(*, tenant: str, window: DayWindow, unique: bool) -> Pipeline:
    match = window_match(tenant, window)
    per_session: dict[str, Any] = {"events": {"$sum": 1}, "source": {"$min": keyed_text("source")}}
    per_source: dict[str, Any] = {"sessions": {"$sum": 1}, "events": {"$sum": "$events"}}
    if unique:
        per_session["types"] = {"$addToSet": "$eventType"}
        for role in FUNNEL_COUNT_ROLES:
            has_role = {"$or": [{"$in": [t, "$types"]} for t in types_of(role)]}
            per_source[role.value] = {"$sum": {"$cond": [has_role, 1, 0]}}
    by_session = {"$group": {"_id": "$sessionId", **per_session}}
    source = {"$substr": ["$source", TIME_KEY_WIDTH + 1, 1_000_000]}
    by_source = {"$group": {"_id": source, **per_source}}
    return [match, by_session, by_source]


# Index (tenantId, eventType, createdAt); createdAt in [start, end) of the zone's
# days. Per session, then $facet: totals, and the latest clickers (sessions
# without a click sort last and are dropped by the reader; ties by session id).
def whatsapp_pipeline(*, tenant: str, window: DayWindow) -> Pipeline:
    match = window_match(tenant, window, eventType={"$in": list(WHATSAPP_TYPES)})
    is_click = {"$in": ["$eventType", list(types_of(Role.WHATSAPP_CART_CLICK))]}
    is_purchase = {"$eq": ["$eventType", EventType.WHATSAPP_PURCHASE]}
    group = {
        "$group": {
            "_id": "$sessionId",
            "lastClick": {"$max": {"$cond": [is_click, "$createdAt", None]}},
            "clicked": {"$max": {"$cond": [is_click, 1, 0]}},
            "purchased": {"$max": {"$cond": [is_purchase, 1, 0]}},
        }
    }
    totals = {
        "$group": {
            "_id": None,
            "clicked": {"$sum": "$clicked"},
            "purchased": {"$sum": "$purchased"},
        }
    }
    latest = [{"$sort": {"lastClick": -1, "_id": 1}}, {"$limit": WHATSAPP_LIST}]
    facet = {"$facet": {"totals": [totals], "latest": latest}}
    return [match, group, facet]
