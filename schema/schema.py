"""The GraphQL schema: root fields, the admin permission attached, the extensions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter
from strawberry.types import ExecutionContext as StrawberryContext
from strawberry.types import ExecutionResult, Info

from core.vocabulary import Comparison, CountMode, Dimension, Granularity, Metric
from resolvers import admin_views, tracking
from resolvers import tenants as tenant_resolvers
from resolvers.admin_views import RangeArgs
from schema.batch import TrackEventsItem
from schema.caches import DocumentCache
from schema.completion import PlainListExecutor
from schema.context import Context
from schema.cost import QueryBudget
from schema.errors import coded, is_client_error
from schema.fast_path import serve_with_coerced_arguments
from schema.inputs import (
    EventFilter,
    ImportEventInput,
    TenantInput,
    TrackEventInput,
    input_fields,
)
from schema.limits import MAX_TOKENS, OneOperation, ValidationRules
from schema.permissions import admin_field
from schema.subscriptions import Subscription
from schema.types import (
    Alert,
    Breakdown,
    CustomersReport,
    DashboardStats,
    EventConnection,
    Funnel,
    ImportResult,
    LandingStats,
    MarketingReport,
    MetricSeries,
    Overview,
    ProductsReport,
    Rfm,
    Tenant,
    TodayStats,
    TrackEventResult,
)

TenantArg = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="Store to read; 'default' when missing. Must be in the token's tenant scope."
    ),
]
ZoneArg = Annotated[
    str | None,
    strawberry.argument(
        description="IANA time zone for calendar days (e.g. America/Bogota); the tenant's "
        "timezone (UTC unless set) when missing."
    ),
]
PeriodArg = Annotated[
    str | None,
    strawberry.argument(
        description='"today", or N days, weeks or months: "7d", "12w", "6m" (from the 1st of '
        'the month N − 1 months back). Not with start/end; neither means "30d".'
    ),
]
StartArg = Annotated[
    date | None, strawberry.argument(description="First day (local); not with period.")
]
EndArg = Annotated[
    date | None,
    strawberry.argument(description="Last day, included (local); default today; not with period."),
]

MetricTypeArg = Annotated[
    str | None, strawberry.argument(description="The type EVENTS counts (required there).")
]
FilterArg = Annotated[
    EventFilter | None, strawberry.argument(description="Only matching events count.")
]
LimitArg = Annotated[int, strawberry.argument(description="Rows to answer, 1 to 100.")]
OffsetArg = Annotated[int, strawberry.argument(description="Rows to skip first, at most 10,000.")]


@strawberry.type(description="Admin-only analytics views (bearer JWT with is_admin: true).")
class Query:
    @admin_field(
        "This week's KPIs (`docs/metrics.md`, dashboardStats).",
        cost=3,
    )
    async def dashboard_stats(
        self,
        info: Info[Context, None],
        mode: Annotated[
            CountMode, strawberry.argument(description="TOTAL: events; UNIQUE: distinct sessions.")
        ] = CountMode.TOTAL,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
    ) -> DashboardStats:
        return await admin_views.dashboard_stats(info, mode, tenant_id, timezone)

    @admin_field(
        "Distinct sessions at each funnel step between two dates (or "
        "over a period), any steps, ordered or not.",
        cost=2,
    )
    async def funnel(
        self,
        info: Info[Context, None],
        start: Annotated[
            date | None, strawberry.argument(description="First day; default end − 29 days.")
        ] = None,
        end: Annotated[
            date | None, strawberry.argument(description="Last day, included; default today.")
        ] = None,
        # Not named `source` in Python: permission extensions pass the parent
        # object positionally under that name.
        traffic_source: Annotated[
            str | None,
            strawberry.argument(
                name="source", description="Only events from this source ('direct' = none)."
            ),
        ] = None,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
        steps: Annotated[
            list[str] | None,
            strawberry.argument(
                description="2 to 10 steps, each an event type or role (a step matches an "
                "event whose type or role equals it); default the five above."
            ),
        ] = None,
        ordered: Annotated[
            bool,
            strawberry.argument(
                description="true: a session reaches step k with events of steps 1..k at "
                "strictly increasing times."
            ),
        ] = False,
        window_minutes: Annotated[
            int | None,
            strawberry.argument(
                description="Ordered only: the last step within this many minutes of the "
                "first (no limit when null)."
            ),
        ] = None,
        period: PeriodArg = None,
    ) -> Funnel:
        return await admin_views.funnel(
            info,
            start,
            end,
            traffic_source,
            tenant_id,
            timezone,
            steps=steps,
            ordered=ordered,
            window_minutes=window_minutes,
            period=period,
        )

    @admin_field(
        "A metric per bucket of a range, its total and, with compare, "
        "the compared range (`docs/metrics.md`, Metrics).",
        cost=2,
    )
    async def metrics(
        self,
        info: Info[Context, None],
        metric: Annotated[Metric, strawberry.argument(description="The figure to show.")],
        period: PeriodArg = None,
        start: StartArg = None,
        end: EndArg = None,
        granularity: Annotated[
            Granularity, strawberry.argument(description="Bucket size; default DAY.")
        ] = Granularity.DAY,
        event_type: MetricTypeArg = None,
        filter: FilterArg = None,
        compare: Annotated[
            Comparison | None, strawberry.argument(description="Also answer a compared range.")
        ] = None,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
    ) -> MetricSeries:
        return await admin_views.metrics(
            info,
            RangeArgs(period, start, end, tenant_id, timezone),
            metric=metric,
            granularity=granularity,
            event_type=event_type,
            where=filter,
            compare=compare,
        )

    @admin_field(
        "Revenue, orders, average order, conversion and visitors over "
        "a range, each with the previous period (`docs/metrics.md`, overview).",
        cost=3,
    )
    async def overview(
        self,
        info: Info[Context, None],
        period: PeriodArg = None,
        start: StartArg = None,
        end: EndArg = None,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
    ) -> Overview:
        return await admin_views.overview(info, RangeArgs(period, start, end, tenant_id, timezone))

    @admin_field(
        "Per product: views, carts, purchases, units, revenue and "
        "rates over a range, by revenue (`docs/metrics.md`, products).",
        cost=3,
    )
    async def products(
        self,
        info: Info[Context, None],
        period: PeriodArg = None,
        start: StartArg = None,
        end: EndArg = None,
        limit: LimitArg = 20,
        offset: OffsetArg = 0,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
    ) -> ProductsReport:
        return await admin_views.products(
            info, RangeArgs(period, start, end, tenant_id, timezone), limit=limit, offset=offset
        )

    @admin_field(
        "New and returning customers, lifetime value and monthly "
        "cohorts over a range (`docs/metrics.md`, customers).",
        cost=5,
    )
    async def customers(
        self,
        info: Info[Context, None],
        period: PeriodArg = None,
        start: StartArg = None,
        end: EndArg = None,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
    ) -> CustomersReport:
        return await admin_views.customers(info, RangeArgs(period, start, end, tenant_id, timezone))

    @admin_field(
        "Sessions, visitors, orders, revenue and conversion per session "
        "source and campaign, and WhatsApp attribution (`docs/metrics.md`, marketing).",
        cost=5,
    )
    async def marketing(
        self,
        info: Info[Context, None],
        period: PeriodArg = None,
        start: StartArg = None,
        end: EndArg = None,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
    ) -> MarketingReport:
        return await admin_views.marketing(info, RangeArgs(period, start, end, tenant_id, timezone))

    @admin_field(
        "A metric per key of a dimension over a range, with each key's "
        "share of the total (`docs/metrics.md`, breakdown).",
        cost=5,
    )
    async def breakdown(
        self,
        info: Info[Context, None],
        metric: Annotated[Metric, strawberry.argument(description="The figure to show.")],
        by: Annotated[Dimension, strawberry.argument(description="The keys to split it by.")],
        period: PeriodArg = None,
        start: StartArg = None,
        end: EndArg = None,
        event_type: MetricTypeArg = None,
        filter: FilterArg = None,
        limit: Annotated[int, strawberry.argument(description="Rows to answer, 1 to 100.")] = 10,
        offset: OffsetArg = 0,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
    ) -> Breakdown:
        return await admin_views.breakdown(
            info,
            RangeArgs(period, start, end, tenant_id, timezone),
            metric=metric,
            by=by,
            event_type=event_type,
            where=filter,
            limit=limit,
            offset=offset,
        )

    @admin_field(
        "Stored events of a range in (createdAt, id) order, a page at "
        "a time (Relay connection; bot traffic left out, as in every view).",
        cost=10,
    )
    async def events(
        self,
        info: Info[Context, None],
        first: Annotated[
            int, strawberry.argument(description="Events to answer, 1 to 1,000.")
        ] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="A cursor from the previous page.")
        ] = None,
        period: PeriodArg = None,
        start: StartArg = None,
        end: EndArg = None,
        event_type: Annotated[
            str | None, strawberry.argument(description="Only this type (or a role's types).")
        ] = None,
        filter: FilterArg = None,
        tenant_id: TenantArg = None,
        timezone: ZoneArg = None,
    ) -> EventConnection:
        return await admin_views.events(
            info,
            RangeArgs(period, start, end, tenant_id, timezone),
            first=first,
            after=after,
            event_type=event_type,
            where=filter,
        )

    @admin_field(
        "RFM segments of logged-in buyers over the last 90 days.",
        cost=10,
    )
    async def rfm(self, info: Info[Context, None], tenant_id: TenantArg = None) -> Rfm:
        return await admin_views.rfm(info, tenant_id)

    @admin_field(
        "Anomalies detected now, or a single ALL_CLEAR.",
        cost=3,
    )
    async def alerts(
        self,
        info: Info[Context, None],
        tenant_id: TenantArg = None,
        lang: Annotated[
            str, strawberry.argument(description="Message language: 'en' or 'es'.")
        ] = "en",
    ) -> list[Alert]:
        return await admin_views.alerts(info, tenant_id, lang)

    @admin_field(
        "The configured tenants in the token's scope, by id.",
        cost=1,
        scoped=False,
    )
    async def tenants(self, info: Info[Context, None]) -> list[Tenant]:
        return await tenant_resolvers.tenants(info)

    @admin_field(
        "The landing page's week: visitors, clicks, scans, time on "
        "page (`docs/metrics.md`, landingStats).",
        cost=2,
    )
    async def landing_stats(
        self, info: Info[Context, None], tenant_id: TenantArg = None, timezone: ZoneArg = None
    ) -> LandingStats:
        return await admin_views.landing_stats(info, tenant_id, timezone)

    @admin_field(
        "The landing page's day so far: visitors, WhatsApp clicks, QR scans, product views.",
        cost=1,
    )
    async def today_stats(
        self, info: Info[Context, None], tenant_id: TenantArg = None, timezone: ZoneArg = None
    ) -> TodayStats:
        return await admin_views.today_stats(info, tenant_id, timezone)


@strawberry.type(description="Event ingestion.")
class Mutation:
    @strawberry.mutation(
        description="Record one shopper action (public). A valid bearer token links it to the "
        "shopper's email; an invalid one makes it anonymous."
    )
    async def track_event(
        self,
        info: Info[Context, None],
        input: Annotated[TrackEventInput, strawberry.argument(description="The event.")],
    ) -> TrackEventResult:
        # Served by schema.fast_path in the built schema (see track_events).
        return await tracking.track_event(info.context, input_fields(input))

    @strawberry.mutation(
        description="Record up to 100 shopper actions in one call (public), e.g. from an offline "
        "queue or a server-side sender. Each item is validated and deduplicated like trackEvent; "
        "a bad item is reported in its result and does not reject the others."
    )
    async def track_events(
        self,
        info: Info[Context, None],
        events: Annotated[
            list[TrackEventInput], strawberry.argument(description="At most 100 events.")
        ],
    ) -> list[TrackEventsItem]:
        # Served by schema.fast_path in the built schema; this path is kept, and
        # tested to answer the same, as the plain strawberry resolver.
        return await tracking.track_events(info.context, [input_fields(e) for e in events])

    @admin_field(
        "Bring up to 1,000 historical events in. All items are validated before anything "
        "is stored. Imports spend no budget (`docs/metrics.md`: admin imports are not limited).",
        cost=0,
        kind=strawberry.mutation,
    )
    async def import_events(
        self,
        info: Info[Context, None],
        events: Annotated[
            list[ImportEventInput], strawberry.argument(description="At most 1,000 events.")
        ],
        tenant_id: TenantArg = None,
    ) -> ImportResult:
        # Served by schema.fast_path in the built schema, admin_field's check included.
        return await tracking.import_events(
            info.context, [input_fields(e) for e in events], tenant_id
        )

    @admin_field(
        "Create or change a tenant's settings; the token's scope must include it.",
        cost=1,
        kind=strawberry.mutation,
    )
    async def upsert_tenant(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The tenant id.")],
        input: Annotated[TenantInput, strawberry.argument(description="Settings to set.")],
    ) -> Tenant:
        return await tenant_resolvers.upsert_tenant(info, id, input)


class Schema(strawberry.Schema):
    """Every error leaves with an ``extensions.code`` (see ``schema.errors``)."""

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        # Wrapping execute (not an extension hook) also covers parse errors,
        # which the document cache raises outside the operation hooks.
        result = await super().execute(*args, **kwargs)
        if result.errors:
            result.errors = [coded(error) for error in result.errors]
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: StrawberryContext | None = None
    ) -> None:
        # Client errors are answers, not faults: log only the rest, with traces.
        unexpected = [error for error in errors if not is_client_error(error)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema(*, fast_paths: bool = True) -> Schema:
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Limits and the cache: schema.limits, schema.caches.
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            ValidationRules,
            DocumentCache(),
            OneOperation,
            QueryBudget,
        ],
        # Long lists of plain rows are completed in one pass (schema.completion).
        execution_context_class=PlainListExecutor,
    )
    if fast_paths:
        for field, handler in (
            ("trackEvent", tracking.track_event),
            ("trackEvents", tracking.track_events),
            ("importEvents", tracking.import_events),
        ):
            serve_with_coerced_arguments(schema, "Mutation", field, handler)
    return schema
