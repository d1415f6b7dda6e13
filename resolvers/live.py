"""Live subscriptions: alertsChanged and liveStats (docs/api-next.graphql, issue 10: live).

Each subscription reads a shared feed (``metrics.feeds``): one producer per tenant
and arguments in the process, started by the first subscriber and stopped with the
last, so a tenant nobody watches costs nothing. A token holds at most
``LIVE_SUBSCRIPTIONS_PER_TOKEN`` subscriptions at once in a process; one more is
``RATE_LIMITED``. The admin check (``schema.permissions``) ran before any of this.
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field

from strawberry.types import Info

from auth.tokens import bearer_key
from core.clock import parse_zone, utcnow
from core.errors import BadUserInput, RateLimited
from metrics import live
from metrics.alerts import AlertResult
from metrics.feeds import Feeds
from metrics.ingest import validate_tenant
from resolvers.admin_views import LANGUAGES
from schema.context import Context
from storage.database import PerDatabase

MIN_INTERVAL_SECONDS = 1
MAX_INTERVAL_SECONDS = 300
# What a refused subscription's retryAfter says: a slot frees when another one ends.
CAP_RETRY_AFTER_SECONDS = 60
# The feeds' clock (tests fix it).
clock: live.Clock = utcnow


@dataclass
class Hub:
    """One process's live feeds and open subscriptions per token, for one database."""

    feeds: Feeds = field(default_factory=Feeds)
    per_token: Counter[bytes] = field(default_factory=Counter)

    @contextlib.contextmanager
    def admitted(self, context: Context) -> Iterator[None]:
        """Count one subscription of the context's token while the block runs."""
        # The permission checked this token; a digest keeps it out of memory.
        key = bearer_key(context.authorization)
        limit = context.settings.live_subscriptions_per_token
        if self.per_token[key] >= limit:
            raise RateLimited(
                f"at most {limit} live subscriptions per token at once "
                "(LIVE_SUBSCRIPTIONS_PER_TOKEN): complete one first",
                retry_after=CAP_RETRY_AFTER_SECONDS,
            )
        self.per_token[key] += 1
        try:
            yield
        finally:
            self.per_token[key] -= 1
            if not self.per_token[key]:
                del self.per_token[key]


hub_of: PerDatabase[Hub] = PerDatabase(lambda _: Hub())


async def alerts_changed(
    info: Info[Context, None], tenant_id: str | None, lang: str
) -> AsyncGenerator[list[AlertResult], None]:
    """Query.alerts' answer now, then each time it differs."""
    if lang not in LANGUAGES:
        raise BadUserInput("lang must be 'en' or 'es'", field="lang")
    context = info.context
    tenant = validate_tenant(tenant_id)
    hub = hub_of(context.database)
    produce = functools.partial(
        live.alerts_feed, database=context.database, tenant=tenant, lang=lang, clock=clock
    )
    with hub.admitted(context):
        async for found in hub.feeds.watch(("alerts", tenant, lang), produce):
            yield found


async def live_stats(
    info: Info[Context, None], tenant_id: str | None, interval_seconds: int
) -> AsyncGenerator[live.LiveStats, None]:
    """The tenant's live figures now, then every ``interval_seconds``."""
    if not MIN_INTERVAL_SECONDS <= interval_seconds <= MAX_INTERVAL_SECONDS:
        raise BadUserInput(
            f"intervalSeconds must be from {MIN_INTERVAL_SECONDS} to {MAX_INTERVAL_SECONDS}",
            field="intervalSeconds",
        )
    context = info.context
    settings = await context.tenants.get(validate_tenant(tenant_id))
    hub = hub_of(context.database)
    produce = functools.partial(
        live.stats_feed,
        database=context.database,
        tenant=settings.id,
        zone=parse_zone(settings.timezone),
        interval=float(interval_seconds),
        retention_days=context.settings.event_retention_days,
        clock=clock,
    )
    with hub.admitted(context):
        async for stats in hub.feeds.watch(("stats", settings.id, interval_seconds), produce):
            yield stats
