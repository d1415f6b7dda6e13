"""The conversion funnel (docs/metrics.md, funnel).

Five steps, each counted on its own: the distinct sessions with at least one
event of the step's role (``core.roles``: Urban Store, Hanzo or landing types) in
the window. Steps are named by role, which are the Urban Store type names.
One hour summary (``metrics.hourly.SessionActivity``, per source) answers all five.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.roles import Role
from core.vocabulary import DIRECT_SOURCE
from metrics import summaries
from metrics.hourly import SESSION_ROLES, SessionActivity
from metrics.windows import DayWindow
from storage.database import Database

# The steps, in order: the roles whose sessions the hour summary keeps.
FUNNEL_ROLES: tuple[Role, ...] = SESSION_ROLES


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


async def funnel(
    database: Database, *, tenant: str, window: DayWindow, source: str | None, now: datetime
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
    state = await summaries.over_range(
        database,
        SessionActivity(source_condition(source)),
        tenant=tenant,
        low=window.start,
        high=window.end,
        now=now,
    )
    return FunnelResult(
        steps=[FunnelStep(step=role.value, count=state.role_count(role)) for role in FUNNEL_ROLES],
        start_date=window.start,
        end_date=window.end,
        source=source,
    )
