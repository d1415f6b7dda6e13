"""The Subscription root: live alerts and figures over graphql-transport-ws (app.graphql_ws).

Names and shapes: docs/api-next.graphql, issue 10: live. Both fields are admin
fields (``schema.permissions.admin_field``): the token in ``connection_init``,
its tenant scope checked as for queries.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import live
from schema.context import Context
from schema.figures import as_type
from schema.permissions import admin_field
from schema.types import Alert

TenantArg = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="Store to watch; 'default' when missing. Must be in the token's tenant scope."
    ),
]


@strawberry.type(description="A page and how many visitors were on it in the last 5 minutes.")
class PageCount:
    page: str = strawberry.field(description="The path of the page (the event's `page`).")
    visitors: int = strawberry.field(
        description="Distinct visitors with an event on the page in the last 5 minutes."
    )


@strawberry.type(description="What a store is doing now (bots excluded).")
class LiveStats:
    at: datetime = strawberry.field(description="When these figures were computed.")
    visitors_now: int = strawberry.field(
        description="Distinct visitors (`visitor(e)`) with an event in the last 5 minutes."
    )
    events_last_minute: int = strawberry.field(description="Events in the last minute.")
    orders_today: int = strawberry.field(
        description="Distinct orders today in the tenant's zone (metrics' ORDERS)."
    )
    revenue_today: float = strawberry.field(
        description="Revenue today in the tenant's zone (metrics' REVENUE), 2 decimals."
    )
    top_pages: list[PageCount] = strawberry.field(
        description="Up to 10 pages by visitors in the last 5 minutes, then by page."
    )


@strawberry.type(description="Live updates, over graphql-transport-ws on /graphql (README).")
class Subscription:
    @admin_field(
        "The alerts of `alerts` now, then the whole list again each time it changes "
        "(recomputed when the store gets events, at most once a second, and every minute).",
        cost=1,
        kind=strawberry.subscription,
    )
    async def alerts_changed(
        self,
        info: Info[Context, None],
        tenant_id: TenantArg = None,
        lang: Annotated[
            str, strawberry.argument(description="Message language: 'en' or 'es'.")
        ] = "en",
    ) -> AsyncGenerator[list[Alert], None]:
        async for found in live.alerts_changed(info, tenant_id, lang):
            yield [as_type(Alert, alert) for alert in found]

    @admin_field(
        "The store's live figures now, then every intervalSeconds.",
        cost=1,
        kind=strawberry.subscription,
    )
    async def live_stats(
        self,
        info: Info[Context, None],
        tenant_id: TenantArg = None,
        interval_seconds: Annotated[
            int, strawberry.argument(description="Seconds between updates, 1 to 300.")
        ] = 5,
    ) -> AsyncGenerator[LiveStats, None]:
        async for stats in live.live_stats(info, tenant_id, interval_seconds):
            yield as_type(LiveStats, stats)
