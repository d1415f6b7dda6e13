"""The conversion funnel (docs/metrics.md, funnel).

Five steps, each counted on its own: the distinct sessions with at least one
event of the step's role (``core.roles``: Urban Store, Hanzo or landing types) in
the window. Steps are named by role, which are the Urban Store type names.
One pipeline answers all five.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.roles import Role, in_roles, role_expression
from core.vocabulary import DIRECT_SOURCE
from metrics.filters import PEOPLE
from metrics.windows import DayWindow
from storage.database import Database, Pipeline
from storage.documents import EVENTS

FUNNEL_ROLES: tuple[Role, ...] = (
    Role.PAGE_VIEW,
    Role.PRODUCT_VIEW,
    Role.ADD_TO_CART,
    Role.BEGIN_CHECKOUT,
    Role.PURCHASE,
)

# Joins the role and the session id into one string group key. Event
# types never contain it (EVENT_TYPE_PATTERN), so the pair is unambiguous.
KEY_SEPARATOR = " "


@dataclass(frozen=True, slots=True)
class FunnelStep:
    step: str
    count: int


@dataclass(frozen=True, slots=True)
class FunnelResult:
    steps: list[FunnelStep]
    start_date: datetime  # aware UTC, inclusive: 00:00 of start in the query's zone
    end_date: datetime  # aware UTC, exclusive: 24:00 of end in the query's zone
    source: str | None


def source_condition(source: str | None) -> dict[str, Any]:
    """The ``$match`` terms of a source filter: none, null for ``direct``, else equality."""
    if source is None:
        return {}
    # Direct traffic is stored as null; "direct" itself is never stored.
    return {"source": None if source == DIRECT_SOURCE else source}


# Index (tenantId, eventType, createdAt); createdAt in [00:00 of start, 24:00 of
# end) of the query's zone, as UTC instants. `source` is a residual filter.
# Two groups: distinct (role, session) pairs first, then sessions per role (the
# pair's first type mapped again to its role: one $cond chain per pair row). The
# pair key is a string, not a {role, session} document: mongomock groups
# documents about 8× slower than strings, and both mean the same on MongoDB.
def funnel_pipeline(*, tenant: str, window: DayWindow, source: str | None) -> Pipeline:
    match = {
        "$match": {
            "tenantId": tenant,
            "eventType": in_roles(FUNNEL_ROLES),
            "createdAt": window.match_range,
            **source_condition(source),
            **PEOPLE,
        }
    }
    per_session = {
        "$group": {
            "_id": {"$concat": [role_expression(FUNNEL_ROLES), KEY_SEPARATOR, "$sessionId"]},
            "eventType": {"$first": "$eventType"},
        }
    }
    per_role = {"$group": {"_id": role_expression(FUNNEL_ROLES), "sessions": {"$sum": 1}}}
    return [match, per_session, per_role]


async def funnel(
    database: Database, *, tenant: str, window: DayWindow, source: str | None
) -> FunnelResult:
    """Distinct sessions per funnel step of ``tenant`` in ``window``.

    Steps, in order: page_view, product_view, add_to_cart, begin_checkout,
    purchase (roles); each count (sessions) is the number of distinct
    ``sessionId``s with at least one event of a type of that role (Urban Store,
    Hanzo or landing), independently of the other steps.
    The window runs from 00:00 of the start day to 24:00 of the end day in the
    query's zone (``metrics.windows.funnel_window``). With ``source`` only
    events from that source count; ``direct`` matches events without one.
    """
    rows = await database.run_pipeline(
        EVENTS, funnel_pipeline(tenant=tenant, window=window, source=source)
    )
    sessions = {str(row["_id"]): int(row["sessions"]) for row in rows}
    return FunnelResult(
        steps=[
            FunnelStep(step=role.value, count=sessions.get(role.value, 0)) for role in FUNNEL_ROLES
        ],
        start_date=window.start,
        end_date=window.end,
        source=source,
    )
