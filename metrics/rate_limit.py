"""The per-tenant rate limit of public tracking (docs/metrics.md, "Tenants and rate limit").

A tenant accepts at most ``rate_limit_per_minute`` tracked events per UTC minute
(0 = no limit), exactly, under any concurrency and across server processes that
share a MongoDB. The budget is one counter per tenant and minute in the database
(``Database.reserve``/``release``: an atomic ``$inc`` upsert on MongoDB, a dict
under the store's lock in the embedded store):

1. A call with ``n`` events of a tenant reserves ``n`` units; the count after is
   ``after``, so its units hold the positions ``after - n .. after - 1``.
2. The units whose position is below the limit are admitted, in input order;
   the rest are refused and given back at once, before anything is stored.
3. After storing, the units of admitted events that turned out duplicates are
   given back: duplicates use no budget.

Why the stored count never exceeds the limit: the counter is always the admitted
units still held plus the refused units not yet given back, so before a
reservation the held units are at most the count it starts from, and it admits
only up to ``limit - that count`` more. Giving back only ever lowers the counter.
With distinct events (no duplicates) the first refusal of a minute happens when
the counter holds no pending refusal, so the limit is then fully held: a burst
of 150 stores exactly 100. A duplicate's unit is held until its insert answers;
an event refused in that instant stays refused (never an excess, at worst one
event fewer in that minute). Units of a failed insert are not given back (the
error may have come after some events were stored): an error can only lower a
minute's budget, never raise it.

Bot events are stored (answered ``BOT``), so they spend budget like any other
event; a crawler storm cannot write without limit. Admin imports never pass here.

Cost to a flood: a refused call does one counter update and one give-back, and
nothing else (no idempotency lookup, no event write, no journal record).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import to_naive_utc
from core.errors import RateLimited
from metrics.tenants import Tenant
from storage.database import Database

# A minute's counter outlives its minute a little: processes' clocks differ by
# seconds, and MongoDB's TTL monitor runs once a minute anyway.
COUNTER_LIFETIME = timedelta(minutes=2)


def minute_of(now: datetime) -> datetime:
    """The UTC minute holding ``now``, naive."""
    return to_naive_utc(now).replace(second=0, microsecond=0)


def counter_key(tenant_id: str, minute: datetime) -> str:
    """``<tenant>|<UTC minute ISO>``, e.g. ``shop1|2026-06-15T12:34Z``."""
    return f"{tenant_id}|{minute:%Y-%m-%dT%H:%M}Z"


def retry_after(now: datetime) -> int:
    """Whole seconds from ``now`` to the next UTC minute, at least 1."""
    naive = to_naive_utc(now)
    left = (minute_of(naive) + timedelta(minutes=1) - naive).total_seconds()
    return max(1, math.ceil(left))


def refusal(tenant: Tenant, now: datetime, *, field: str | None = None) -> RateLimited:
    return RateLimited(
        f"tenant {tenant.id!r} accepts at most {tenant.rate_limit_per_minute} events a "
        f"minute; try again in {retry_after(now)} s",
        retry_after=retry_after(now),
        field=field,
    )


@dataclass(frozen=True, slots=True)
class Grant:
    """What a reservation of one tenant's (or one visitor's) events admitted."""

    keys: tuple[str, ...]  # the counters reserved from; empty when there is no limit
    admitted: int  # the first ``admitted`` events (in input order) may be stored
    refused: int  # the others may not (their units are already given back)


def visitor_limit(tenant: Tenant, share: float) -> int:
    """At most this many of a tenant's events a minute from one visitor (0 = no cap)."""
    if not 0 < share < 1 or tenant.rate_limit_per_minute <= 0:
        return 0
    return max(1, math.floor(share * tenant.rate_limit_per_minute))


async def _take(database: Database, key: str, units: int, limit: int, expires_at: datetime) -> int:
    """Reserve ``units`` on ``key``; how many fit under ``limit`` (the rest given back)."""
    after = await database.reserve(key, units, expires_at=expires_at)
    admitted = max(0, min(units, limit - (after - units)))
    if units - admitted:
        await database.release(key, units - admitted)
    return admitted


async def reserve(
    database: Database,
    tenant: Tenant,
    units: int,
    now: datetime,
    *,
    visitor: str | None = None,
    visitor_share: float = 0.0,
) -> Grant:
    """Reserve ``units`` of ``tenant``'s budget for the minute of ``now``; with a
    ``visitor_share``, first of ``visitor``'s share of it (RATE_LIMIT_VISITOR_SHARE), so
    that one busy client cannot spend the whole tenant's minute."""
    limit = tenant.rate_limit_per_minute
    if limit <= 0 or units <= 0:
        return Grant(keys=(), admitted=units, refused=0)
    minute = minute_of(now)
    expires_at = minute + COUNTER_LIFETIME
    keys: list[str] = []
    admitted = units
    cap = visitor_limit(tenant, visitor_share)
    if cap and visitor:
        visitor_key = counter_key(f"{tenant.id}|{visitor}", minute)
        admitted = await _take(database, visitor_key, units, cap, expires_at)
        keys.append(visitor_key)
    if admitted:
        key = counter_key(tenant.id, minute)
        fits = await _take(database, key, admitted, limit, expires_at)
        if keys and admitted - fits:  # refused by the tenant: the visitor's units too
            await database.release(keys[0], admitted - fits)
        admitted = fits
        keys.append(key)
    return Grant(keys=tuple(keys), admitted=admitted, refused=units - admitted)


async def give_back(database: Database, grant: Grant, units: int) -> None:
    """Return ``units`` of ``grant`` that stored nothing (duplicates)."""
    if units > 0:
        for key in grant.keys:
            await database.release(key, units)
