"""Admin view resolvers: dashboardStats, funnel, rfm, alerts, landingStats, todayStats,
metrics (admin-only via @admin)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from strawberry.types import Info

from core.clock import parse_zone
from core.errors import BadUserInput
from core.vocabulary import Comparison, CountMode, Dimension, Granularity, Metric
from metrics import alerts as alert_rules
from metrics import funnel as funnel_metrics
from metrics import landing as landing_metrics
from metrics import rfm as rfm_metrics
from metrics.breakdown import breakdown as breakdown_report
from metrics.customer_report import customers_report
from metrics.dashboard import DashboardReport
from metrics.export import events_page
from metrics.ingest import checked_text, validate_tenant
from metrics.marketing import marketing_report
from metrics.products import products_report
from metrics.ranges import Range, parse_range
from metrics.series import OverviewReport, event_filter, metric_series
from metrics.tenants import Tenant
from metrics.windows import Bounded, funnel_window
from schema.context import Context
from schema.figures import as_type
from schema.inputs import EventFilter, input_fields
from schema.types import (
    Alert,
    Breakdown,
    CustomersReport,
    DashboardStats,
    Event,
    EventConnection,
    EventEdge,
    Funnel,
    LandingStats,
    MarketingReport,
    MetricSeries,
    Overview,
    PageInfo,
    ProductsReport,
    Rfm,
    TodayStats,
)

LANGUAGES = ("en", "es")


async def _tenant_and_zone(
    context: Context, tenant_id: str | None, timezone: str | None
) -> tuple[Tenant, ZoneInfo]:
    """The tenant read and its zone: the query's, else the tenant's own."""
    tenant = await context.tenants.get(validate_tenant(tenant_id))
    return tenant, parse_zone(timezone if timezone is not None else tenant.timezone)


async def dashboard_stats(
    info: Info[Context, None], mode: CountMode, tenant_id: str | None, timezone: str | None
) -> DashboardStats:
    context = info.context
    tenant, zone = await _tenant_and_zone(context, tenant_id, timezone)
    report = DashboardReport(
        context.database, tenant=tenant.id, mode=mode, zone=zone, now=context.now
    )
    return DashboardStats(report=report, currency_code=tenant.currency)


async def funnel(
    info: Info[Context, None],
    start: date | None,
    end: date | None,
    source: str | None,
    tenant_id: str | None,
    timezone: str | None,
    *,
    steps: list[str] | None = None,
    ordered: bool = False,
    window_minutes: int | None = None,
    period: str | None = None,
) -> Funnel:
    context = info.context
    tenant, zone = await _tenant_and_zone(context, tenant_id, timezone)
    window: Bounded
    if period is None:
        window = funnel_window(
            start, end, context.now, zone, retention_days=context.settings.event_retention_days
        )
    else:
        window = _range(context, zone, period, start, end)
    result = await funnel_metrics.funnel(
        context.database,
        tenant=tenant.id,
        window=window,
        source=checked_text(source, "source"),
        now=context.now,
        steps=None if steps is None else [checked_text(s, "steps") or "" for s in steps],
        ordered=ordered,
        window_minutes=window_minutes,
    )
    return as_type(Funnel, result)


async def rfm(info: Info[Context, None], tenant_id: str | None) -> Rfm:
    context = info.context
    result = await rfm_metrics.rfm(
        context.database, tenant=validate_tenant(tenant_id), now=context.now
    )
    return as_type(Rfm, result)


async def alerts(info: Info[Context, None], tenant_id: str | None, lang: str) -> list[Alert]:
    if lang not in LANGUAGES:
        raise BadUserInput("lang must be 'en' or 'es'", field="lang")
    context = info.context
    found = await alert_rules.alerts(
        context.database, tenant=validate_tenant(tenant_id), now=context.now, lang=lang
    )
    return [as_type(Alert, alert) for alert in found]


async def landing_stats(
    info: Info[Context, None], tenant_id: str | None, timezone: str | None
) -> LandingStats:
    context = info.context
    tenant, zone = await _tenant_and_zone(context, tenant_id, timezone)
    result = await landing_metrics.landing_stats(
        context.database, tenant=tenant.id, zone=zone, now=context.now
    )
    return as_type(LandingStats, result)


async def today_stats(
    info: Info[Context, None], tenant_id: str | None, timezone: str | None
) -> TodayStats:
    context = info.context
    tenant, zone = await _tenant_and_zone(context, tenant_id, timezone)
    result = await landing_metrics.today_stats(
        context.database, tenant=tenant.id, zone=zone, now=context.now
    )
    return as_type(TodayStats, result)


def _range(
    context: Context, zone: ZoneInfo, period: str | None, start: date | None, end: date | None
) -> Range:
    """The range a view asked for: ``period`` or ``start``/``end`` (metrics.ranges)."""
    return parse_range(
        checked_text(period, "period"),
        start,
        end,
        now=context.now,
        zone=zone,
        retention_days=context.settings.event_retention_days,
    )


def _where(given: EventFilter | None) -> dict[str, str]:
    """A view's filter as ``$match`` terms, each value checked as stored text is."""
    fields = input_fields(given) if given is not None else {}
    return event_filter(
        {name: checked_text(value, f"filter.{name}") for name, value in fields.items()}
    )


@dataclass(frozen=True, slots=True)
class RangeArgs:
    """The arguments every ranged view takes: the range, the tenant and the zone."""

    period: str | None
    start: date | None
    end: date | None
    tenant_id: str | None
    timezone: str | None


async def _scope(info: Info[Context, None], args: RangeArgs) -> tuple[Context, Tenant, Range]:
    """The request's context, the tenant read, and the range in its zone."""
    context = info.context
    tenant, zone = await _tenant_and_zone(context, args.tenant_id, args.timezone)
    return context, tenant, _range(context, zone, args.period, args.start, args.end)


async def metrics(
    info: Info[Context, None],
    args: RangeArgs,
    *,
    metric: Metric,
    granularity: Granularity,
    event_type: str | None,
    where: EventFilter | None,
    compare: Comparison | None,
) -> MetricSeries:
    context, tenant, window = await _scope(info, args)
    result = await metric_series(
        context.database,
        tenant=tenant.id,
        metric=metric,
        window=window,
        granularity=granularity,
        where=_where(where),
        event_type=checked_text(event_type, "eventType"),
        compare=compare,
        currency=tenant.currency,
        now=context.now,
    )
    return as_type(MetricSeries, result)


async def overview(info: Info[Context, None], args: RangeArgs) -> Overview:
    context, tenant, window = await _scope(info, args)
    report = OverviewReport(context.database, tenant=tenant.id, window=window, now=context.now)
    return Overview(report=report, currency_code=tenant.currency)


async def products(
    info: Info[Context, None], args: RangeArgs, *, limit: int, offset: int
) -> ProductsReport:
    context, tenant, window = await _scope(info, args)
    result = await products_report(
        context.database,
        tenant=tenant.id,
        window=window,
        limit=limit,
        offset=offset,
        now=context.now,
    )
    return as_type(ProductsReport, result)


async def customers(info: Info[Context, None], args: RangeArgs) -> CustomersReport:
    context, tenant, window = await _scope(info, args)
    result = await customers_report(
        context.database, tenant=tenant.id, window=window, now=context.now
    )
    return as_type(CustomersReport, result)


async def marketing(info: Info[Context, None], args: RangeArgs) -> MarketingReport:
    context, tenant, window = await _scope(info, args)
    result = await marketing_report(
        context.database, tenant=tenant.id, window=window, now=context.now
    )
    return as_type(MarketingReport, result)


async def breakdown(
    info: Info[Context, None],
    args: RangeArgs,
    *,
    metric: Metric,
    by: Dimension,
    event_type: str | None,
    where: EventFilter | None,
    limit: int,
    offset: int,
) -> Breakdown:
    context, tenant, window = await _scope(info, args)
    result = await breakdown_report(
        context.database,
        tenant=tenant.id,
        metric=metric,
        by=by,
        window=window,
        where=_where(where),
        event_type=checked_text(event_type, "eventType"),
        limit=limit,
        offset=offset,
        now=context.now,
    )
    return as_type(Breakdown, result)


async def events(
    info: Info[Context, None],
    args: RangeArgs,
    *,
    first: int,
    after: str | None,
    event_type: str | None,
    where: EventFilter | None,
) -> EventConnection:
    context, tenant, window = await _scope(info, args)
    page = await events_page(
        context.database,
        tenant=tenant.id,
        window=window,
        event_type=checked_text(event_type, "eventType"),
        where=_where(where),
        first=first,
        after=checked_text(after, "after"),
    )
    return EventConnection(
        edges=[
            EventEdge(cursor=cursor, node=Event.from_document(doc)) for cursor, doc in page.events
        ],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
    )
