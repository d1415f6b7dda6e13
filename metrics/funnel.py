"""The conversion funnel (docs/metrics.md, funnel; funnel wave 2).

By default five steps, each counted on its own: the distinct sessions with at
least one event of the step's role (``core.roles``: Urban Store, Hanzo or landing
types) in the window; steps are named by role, which are the Urban Store type
names. One hour summary (``metrics.hourly.SessionActivity``, per source) answers
all five. Custom ``steps`` (2–10 types or roles) are counted the same way from
``StepSessions``; an *ordered* funnel counts the sessions whose events reach each
step in order, within ``window_minutes`` of their first step (``StepEvents``,
``reach``). Each step also carries its conversion and dropoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import BadUserInput
from core.roles import Role
from core.vocabulary import DIRECT_SOURCE, EVENT_TYPE_PATTERN
from metrics import summaries
from metrics.hourly import (
    SESSION_ROLES,
    SessionActivity,
    StepEvents,
    StepSessions,
    distinct_count,
    ordered_counts,
)
from metrics.rounding import percent
from metrics.windows import Bounded
from storage.database import Database

MIN_STEPS, MAX_STEPS = 2, 10
MAX_WINDOW_MINUTES = 366 * 24 * 60
MILLISECONDS_PER_MINUTE = 60_000

# The steps, in order: the roles whose sessions the hour summary keeps.
FUNNEL_ROLES: tuple[Role, ...] = SESSION_ROLES


@dataclass(frozen=True, slots=True)
class FunnelStep:
    step: str
    count: int
    conversion_from_previous: float = 100.0  # count / previous step's × 100 (1 decimal)
    conversion_from_start: float = 100.0  # count / first step's × 100 (1 decimal)
    dropoff: int = 0  # previous step's count − count


@dataclass(frozen=True, slots=True)
class FunnelResult:
    steps: list[FunnelStep]
    start_date: datetime  # aware UTC, inclusive: 00:00 of start in the query's zone
    end_date: datetime  # aware UTC, exclusive: 24:00 of end in the query's zone
    source: str | None
    ordered: bool = False
    window_minutes: int | None = None


def source_condition(source: str | None) -> dict[str, Any]:
    """The ``$match`` terms of a source filter: none, null for ``direct``, else equality."""
    if source is None:
        return {}
    # Direct traffic is stored as null; "direct" itself is never stored.
    return {"source": None if source == DIRECT_SOURCE else source}


def check_steps(steps: Sequence[str] | None, ordered: bool, window_minutes: int | None) -> None:
    """2–10 steps, each an event type or role name; a window only for an ordered funnel."""
    if steps is not None:
        if not MIN_STEPS <= len(steps) <= MAX_STEPS:
            raise BadUserInput(f"give {MIN_STEPS} to {MAX_STEPS} steps", field="steps")
        for index, step in enumerate(steps):
            if not EVENT_TYPE_PATTERN.fullmatch(step):
                raise BadUserInput(
                    "a step is an event type or role: ^[a-z][a-z0-9_.:-]{0,63}$",
                    field=f"steps[{index}]",
                )
    if window_minutes is not None:
        if not ordered:
            raise BadUserInput("windowMinutes needs ordered: true", field="windowMinutes")
        if not 1 <= window_minutes <= MAX_WINDOW_MINUTES:
            raise BadUserInput(
                f"windowMinutes must be from 1 to {MAX_WINDOW_MINUTES}", field="windowMinutes"
            )


def with_conversion(names: Sequence[str], counts: Sequence[int]) -> list[FunnelStep]:
    """Steps with their conversion from the previous step and the first, and dropoff."""
    return [
        FunnelStep(
            step=name,
            count=count,
            conversion_from_previous=100.0 if index == 0 else percent(count, counts[index - 1]),
            conversion_from_start=100.0 if index == 0 else percent(count, counts[0]),
            dropoff=0 if index == 0 else counts[index - 1] - count,
        )
        for index, (name, count) in enumerate(zip(names, counts, strict=True))
    ]


async def funnel(
    database: Database,
    *,
    tenant: str,
    window: Bounded,
    source: str | None,
    now: datetime,
    steps: Sequence[str] | None = None,
    ordered: bool = False,
    window_minutes: int | None = None,
) -> FunnelResult:
    """Distinct sessions per funnel step of ``tenant`` in ``window``.

    Default steps, in order: page_view, product_view, add_to_cart, begin_checkout,
    purchase (roles); ``steps`` names others (types or roles: a step matches an
    event whose type or role equals it). Unordered, each count (sessions) is the
    number of distinct ``sessionId``s with at least one event matching the step,
    independently of the other steps. Ordered, a session reaches step k when it has
    events t1 < t2 < … < tk matching steps 1..k with tk − t1 ≤ ``window_minutes``
    (no limit when None). The default window runs from 00:00 of the start day to
    24:00 of the end day in the query's zone (``metrics.windows.funnel_window``).
    With ``source`` only events from that source count; ``direct`` matches events
    without one.
    """
    check_steps(steps, ordered, window_minutes)
    where = source_condition(source)
    names = list(steps) if steps is not None else [role.value for role in FUNNEL_ROLES]
    low, high = window.start, window.end
    counts: list[int]
    if ordered:
        pieces = await summaries.over_range(
            database, StepEvents(names, where), tenant=tenant, low=low, high=high, now=now
        )
        limit = None if window_minutes is None else window_minutes * MILLISECONDS_PER_MINUTE
        counts = ordered_counts(pieces, len(names), limit)
    elif steps is not None:
        per_step = await summaries.over_range(
            database, StepSessions(names, where), tenant=tenant, low=low, high=high, now=now
        )
        counts = [distinct_count(sets) for sets in per_step]
    else:
        state = await summaries.over_range(
            database, SessionActivity(where), tenant=tenant, low=low, high=high, now=now
        )
        counts = [state.role_count(role) for role in FUNNEL_ROLES]
    return FunnelResult(
        steps=with_conversion(names, counts),
        start_date=window.start,
        end_date=window.end,
        source=source,
        ordered=ordered,
        window_minutes=window_minutes,
    )
