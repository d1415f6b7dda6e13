"""GraphQL object types of the contract (``docs/api.graphql``), each field described.

Admin views resolve lazily: ``DashboardStats`` holds a ``DashboardReport`` and
each field awaits only the database pass it needs (passes are memoized, so
fields that share one share it). The metrics layer's result dataclasses carry
the same field names as these types and are copied in by ``schema.figures``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import strawberry
from strawberry.scalars import JSON

from core.vocabulary import (
    AlertType,
    Comparison,
    CountMode,
    Dimension,
    Granularity,
    Metric,
    RfmSegment,
    Severity,
    TrackStatus,
)
from metrics.dashboard import DashboardReport
from metrics.series import OverviewReport
from schema.figures import as_type

CountModeEnum = strawberry.enum(
    CountMode, description="TOTAL counts every event; UNIQUE counts distinct sessions."
)
TrackStatusEnum = strawberry.enum(TrackStatus, description="Whether a tracked event was stored.")
SeverityEnum = strawberry.enum(Severity, description="How urgent an alert is.")
AlertTypeEnum = strawberry.enum(AlertType, description="Which alert rule fired.")
RfmSegmentEnum = strawberry.enum(RfmSegment, description="RFM customer segment.")
MetricEnum = strawberry.enum(
    Metric, description="A figure of the metrics and breakdown views (`docs/metrics.md`, Metrics)."
)
GranularityEnum = strawberry.enum(
    Granularity, description="Buckets: local hours, days, ISO weeks (Monday) or months."
)
DimensionEnum = strawberry.enum(
    Dimension,
    description="SOURCE, CHANNEL and CAMPAIGN are the session's (its earliest event's that has "
    "one); the others each event's own.",
)
ComparisonEnum = strawberry.enum(
    Comparison,
    description="PREVIOUS_PERIOD: as long, ending where the range starts; PREVIOUS_YEAR: "
    "the same local dates a year earlier.",
)


@strawberry.type(description="Outcome of one tracked event.")
class TrackEventResult:
    status: TrackStatus = strawberry.field(
        description="OK when stored; DUPLICATE_IGNORED when its idempotencyKey was stored "
        "less than IDEMPOTENCY_WINDOW_SECONDS ago; BOT when stored as bot traffic (a known "
        "crawler or headless browser), which no metric counts."
    )
    session_id: str = strawberry.field(
        description="The event's session id; generated (UUID4) when the call had none."
    )


@strawberry.type(description="Outcome of an import.")
class ImportResult:
    inserted: int = strawberry.field(description="Events stored by this call.")
    duplicates: int = strawberry.field(
        description="Events not stored because their idempotency key (given or derived "
        "from the content) was already stored."
    )


@strawberry.type(description="A product and a count.")
class ProductCount:
    slug: str = strawberry.field(description="Product slug.")
    count: int = strawberry.field(description="The count named by the field that lists it.")


@strawberry.type(description="A calendar day (in the query's time zone) and a count.")
class DayCount:
    date: date = strawberry.field(description="Calendar day in the query's time zone.")
    count: int = strawberry.field(description="Number of purchase events that day.")


@strawberry.type(description="Funnel event counts: events (TOTAL) or distinct sessions (UNIQUE).")
class EventCounts:
    product_view: int = strawberry.field(description="product_view events or sessions.")
    add_to_cart: int = strawberry.field(description="add_to_cart events or sessions.")
    begin_checkout: int = strawberry.field(description="begin_checkout events or sessions.")
    purchase: int = strawberry.field(description="purchase events or sessions.")


@strawberry.type(description="Step conversion percentages derived from eventCounts (1 decimal).")
class ConversionRates:
    visit_to_cart: float = strawberry.field(description="addToCart / productView × 100.")
    cart_to_checkout: float = strawberry.field(description="beginCheckout / addToCart × 100.")
    checkout_to_purchase: float = strawberry.field(description="purchase / beginCheckout × 100.")


@strawberry.type(description="Counts of error events.")
class ErrorCounts:
    payment_error: int = strawberry.field(description="payment_error events.")
    checkout_error: int = strawberry.field(description="checkout_error events.")
    payment_confirmation_error: int = strawberry.field(
        description="payment_confirmation_error events."
    )
    address_error: int = strawberry.field(description="address_error events.")


@strawberry.type(description="Event counts of one day of the dashboard window.")
class EventsTimelineDay:
    date: date = strawberry.field(description="Calendar day in the query's time zone.")
    product_view: int = strawberry.field(description="product_view events that day.")
    add_to_cart: int = strawberry.field(description="add_to_cart events that day.")
    begin_checkout: int = strawberry.field(description="begin_checkout events that day.")
    purchase: int = strawberry.field(description="purchase events that day.")
    checkout_started: int = strawberry.field(description="checkout_started events that day.")
    payment_info_entered: int = strawberry.field(
        description="payment_info_entered events that day."
    )
    order_completed: int = strawberry.field(description="order_completed events that day.")


@strawberry.type(description="Error event counts of one day of the dashboard window.")
class ErrorsTimelineDay:
    date: date = strawberry.field(description="Calendar day in the query's time zone.")
    payment_error: int = strawberry.field(description="payment_error events that day.")
    checkout_error: int = strawberry.field(description="checkout_error events that day.")
    payment_confirmation_error: int = strawberry.field(
        description="payment_confirmation_error events that day."
    )
    address_error: int = strawberry.field(description="address_error events that day.")


@strawberry.type(description="How one product moves from view to purchase.")
class ProductPerformance:
    slug: str = strawberry.field(description="Product slug.")
    name: str = strawberry.field(
        description="Most recent non-null productName of the slug in the window, else the slug."
    )
    views: int = strawberry.field(description="product_view events (TOTAL) or sessions (UNIQUE).")
    add_to_cart: int = strawberry.field(
        description="add_to_cart events (TOTAL) or sessions (UNIQUE)."
    )
    purchases: int = strawberry.field(description="purchase events (TOTAL) or sessions (UNIQUE).")
    purchases_units: int = strawberry.field(description="Σ quantity over purchase events.")
    conversion_rate: float = strawberry.field(description="purchases / views × 100 (1 decimal).")


@strawberry.type(description="Session figures of the window.")
class SessionStats:
    unique_sessions: int = strawberry.field(description="Distinct sessions with any event.")
    avg_events_per_session: float = strawberry.field(
        description="Events / uniqueSessions (1 decimal)."
    )
    sessions_with_purchase: int = strawberry.field(description="Distinct sessions with a purchase.")


@strawberry.type(description="Repeat buying over the 90 × 24 hours before the request.")
class RetentionMetrics:
    repurchase_rate: float = strawberry.field(
        description="recurrentCustomers / totalUniqueBuyers × 100 (1 decimal)."
    )
    recurrent_customers: int = strawberry.field(
        description="Logged-in buyers with at least 2 distinct orders."
    )
    total_unique_buyers: int = strawberry.field(description="Distinct userIds with a purchase.")
    period_days: int = strawberry.field(description="Length of the window in days (90).")


@strawberry.type(description="Sessions by traffic source.")
class TrafficSource:
    source: str = strawberry.field(
        description="Source of the session's earliest event in the window that has one, "
        "else direct."
    )
    sessions: int = strawberry.field(description="Sessions attributed to the source.")


@strawberry.type(
    description="This week's KPIs: from 00:00 of today − 6 days in the query's time zone "
    "to the request time (`docs/metrics.md`, dashboardStats)."
)
class DashboardStats:
    report: strawberry.Private[DashboardReport]
    currency_code: strawberry.Private[str] = "COP"

    @strawberry.field(description="The tenant's currency (ISO 4217): the unit of money figures.")
    def currency(self) -> str:
        return self.currency_code

    @strawberry.field(description="The count mode, echoed.")
    def mode(self) -> CountMode:
        return self.report.mode

    @strawberry.field(description="Start of the window (00:00 of today − 6 days, in the zone).")
    def start_date(self) -> datetime:
        return self.report.window.start

    @strawberry.field(description="End of the window: the request time.")
    def end_date(self) -> datetime:
        return self.report.window.end

    @strawberry.field(description="Number of purchase events.")
    async def total_sales(self) -> int:
        return await self.report.total_sales()

    @strawberry.field(description="Σ price × quantity over purchase events (2 decimals).")
    async def total_revenue(self) -> float:
        return await self.report.total_revenue()

    @strawberry.field(description="totalRevenue / totalSales (2 decimals; 0 without sales).")
    async def average_order_value(self) -> float:
        return await self.report.average_order_value()

    @strawberry.field(description="Top 5 slugs by Σ quantity over purchase events.")
    async def top_products(self) -> list[ProductCount]:
        return [as_type(ProductCount, item) for item in await self.report.top_products()]

    @strawberry.field(
        description="Top 5 slugs by product_view events (TOTAL) or distinct viewing "
        "sessions (UNIQUE)."
    )
    async def top_viewed_products(self) -> list[ProductCount]:
        return [as_type(ProductCount, item) for item in await self.report.top_viewed_products()]

    @strawberry.field(description="Purchase events per day, 7 days oldest first, zero-filled.")
    async def sales_by_day(self) -> list[DayCount]:
        return [as_type(DayCount, item) for item in await self.report.sales_by_day()]

    @strawberry.field(description="Funnel and checkout event counts per day, 7 days.")
    async def events_timeline(self) -> list[EventsTimelineDay]:
        return [as_type(EventsTimelineDay, item) for item in await self.report.events_timeline()]

    @strawberry.field(
        description="% of identifiers (userId, else sessionId) with a begin_checkout and no "
        "purchase in the window, among those with a begin_checkout (1 decimal)."
    )
    async def abandonment_rate(self) -> float:
        return await self.report.abandonment_rate()

    @strawberry.field(description="Funnel counts: events (TOTAL) or distinct sessions (UNIQUE).")
    async def event_counts(self) -> EventCounts:
        return as_type(EventCounts, await self.report.event_counts())

    @strawberry.field(description="Step conversion percentages from eventCounts.")
    async def conversion_rates(self) -> ConversionRates:
        return as_type(ConversionRates, await self.report.conversion_rates())

    @strawberry.field(description="checkout_started events.")
    async def checkout_started_count(self) -> int:
        return await self.report.checkout_started_count()

    @strawberry.field(description="payment_info_entered events.")
    async def payment_info_entered_count(self) -> int:
        return await self.report.payment_info_entered_count()

    @strawberry.field(description="order_completed events.")
    async def order_completed_count(self) -> int:
        return await self.report.order_completed_count()

    @strawberry.field(description="paymentInfoEnteredCount / checkoutStartedCount × 100.")
    async def conversion_checkout_to_payment(self) -> float:
        return await self.report.conversion_checkout_to_payment()

    @strawberry.field(description="orderCompletedCount / paymentInfoEnteredCount × 100.")
    async def conversion_payment_to_order(self) -> float:
        return await self.report.conversion_payment_to_order()

    @strawberry.field(description="Counts of the four error event types.")
    async def error_counts(self) -> ErrorCounts:
        return as_type(ErrorCounts, await self.report.error_counts())

    @strawberry.field(description="The four error counts per day, 7 days.")
    async def errors_timeline(self) -> list[ErrorsTimelineDay]:
        return [as_type(ErrorsTimelineDay, item) for item in await self.report.errors_timeline()]

    @strawberry.field(description="Up to 10 products by views, with cart and purchase figures.")
    async def product_performance(self) -> list[ProductPerformance]:
        return [
            as_type(ProductPerformance, item) for item in await self.report.product_performance()
        ]

    @strawberry.field(description="Distinct sessions, events per session, sessions buying.")
    async def session_stats(self) -> SessionStats:
        return as_type(SessionStats, await self.report.session_stats())

    @strawberry.field(description="Repeat buying over the last 90 days.")
    async def retention_metrics(self) -> RetentionMetrics:
        return as_type(RetentionMetrics, await self.report.retention_metrics())

    @strawberry.field(description="Sessions per traffic source, most first.")
    async def traffic_sources(self) -> list[TrafficSource]:
        return [as_type(TrafficSource, item) for item in await self.report.traffic_sources()]

    @strawberry.field(description="Distinct sessions with a whatsapp_cart_click.")
    async def whatsapp_sessions(self) -> int:
        return await self.report.whatsapp_sessions()

    @strawberry.field(description="Distinct sessions with a whatsapp_purchase.")
    async def whatsapp_purchases(self) -> int:
        return await self.report.whatsapp_purchases()

    @strawberry.field(
        description="The 10 sessions whose latest whatsapp_cart_click is most recent, newest first."
    )
    async def whatsapp_sessions_list(self) -> list[str]:
        return await self.report.whatsapp_sessions_list()


@strawberry.type(description="One funnel step: distinct sessions with that event in the window.")
class FunnelStep:
    step: str = strawberry.field(description="The step: an event type or role.")
    count: int = strawberry.field(
        description="Distinct sessions with a matching event (ordered: that reached the step)."
    )
    conversion_from_previous: float = strawberry.field(
        description="count / the previous step's count × 100 (1 decimal; the first step 100)."
    )
    conversion_from_start: float = strawberry.field(
        description="count / the first step's count × 100 (1 decimal)."
    )
    dropoff: int = strawberry.field(
        description="The previous step's count − count (the first step 0)."
    )


@strawberry.type(
    description="Conversion funnel: by default page_view → product_view → add_to_cart → "
    "begin_checkout → purchase, each step counted independently (`docs/metrics.md`, funnel "
    "and funnel wave 2)."
)
class Funnel:
    steps: list[FunnelStep] = strawberry.field(description="The steps, in order.")
    start_date: datetime = strawberry.field(
        description="Window start: 00:00 of start (UTC instant)."
    )
    end_date: datetime = strawberry.field(
        description="Window end: 24:00 of end, or the request time for a period (UTC instant)."
    )
    source: str | None = strawberry.field(description="The source filter, echoed.")
    ordered: bool = strawberry.field(description="Whether steps had to happen in order.")
    window_minutes: int | None = strawberry.field(
        description="The ordered funnel's window from the first step, echoed (null: none)."
    )


@strawberry.type(description="One logged-in customer's RFM figures.")
class RfmCustomer:
    visitor_id: str = strawberry.field(description="The customer's userId (email).")
    recency: int = strawberry.field(description="Whole days since the latest purchase.")
    frequency: int = strawberry.field(description="Distinct orders in the 90-day window.")
    monetary: float = strawberry.field(description="Σ price × quantity (2 decimals).")
    segment: RfmSegment = strawberry.field(description="VIP, LOYAL, AT_RISK or LOST.")
    segmento: str = strawberry.field(description="Segment name in Spanish.")


@strawberry.type(description="RFM segments over the 90 × 24 hours before the request.")
class Rfm:
    customers: list[RfmCustomer] = strawberry.field(
        description="Customers by recency, then visitorId."
    )
    start_date: datetime = strawberry.field(description="Window start.")
    end_date: datetime = strawberry.field(description="Window end: the request time.")


@strawberry.type(description="An anomaly worth an admin's attention.")
class Alert:
    type: AlertType = strawberry.field(description="The rule that fired.")
    severity: Severity = strawberry.field(description="CRITICAL, WARNING or INFO.")
    message: str = strawberry.field(description="Human-readable message in the requested lang.")
    timestamp: datetime = strawberry.field(description="The request time.")
    value: float | None = strawberry.field(description="The figure that fired the rule.")
    product_slug: str | None = strawberry.field(
        description="The product, for POPULAR_NO_CONVERSION only."
    )


@strawberry.type(description="A store and its settings (`docs/metrics.md`, Tenants).")
class Tenant:
    id: strawberry.ID = strawberry.field(description="The tenant id.")
    name: str = strawberry.field(description="Display name; the id when never set.")
    timezone: str = strawberry.field(
        description="IANA zone: the default zone of every view of this tenant."
    )
    currency: str = strawberry.field(description="ISO 4217 code, echoed by money figures.")
    rate_limit_per_minute: int = strawberry.field(
        description="Public events accepted per UTC minute; 0 = unlimited."
    )
    allowed_origins: list[str] = strawberry.field(
        description="Browser origins that may track for it; empty = any."
    )


@strawberry.type(description="A calendar day (in the query's time zone) and its visitors.")
class VisitorsDay:
    date: date = strawberry.field(description="Calendar day in the query's time zone.")
    visitors: int = strawberry.field(
        description="Distinct visitors (visitorId, else sessionId) with a page view that day."
    )


@strawberry.type(
    description="The landing page's week: from 00:00 of today − 6 days in the query's time "
    "zone to the request time (`docs/metrics.md`, landingStats). Bots excluded."
)
class LandingStats:
    start_date: datetime = strawberry.field(
        description="Start of the window (00:00 of today − 6 days, in the zone)."
    )
    end_date: datetime = strawberry.field(description="End of the window: the request time.")
    visitors_today: int = strawberry.field(
        description="Distinct visitors (visitorId, else sessionId) with a page view today."
    )
    visitors_week: int = strawberry.field(
        description="Distinct visitors with a page view in the window."
    )
    whatsapp_clicks: int = strawberry.field(description="WhatsApp clicks in the window.")
    call_clicks: int = strawberry.field(description="Call clicks in the window.")
    currency_toggles: int = strawberry.field(description="Currency toggles in the window.")
    qr_scans: int = strawberry.field(description="QR scans in the window.")
    product_clicks: int = strawberry.field(
        description="Product views (product_click, product_view, ...) in the window."
    )
    avg_time_on_page: float = strawberry.field(
        description="Mean metadata.seconds of time_on_page events in the window, counting "
        "only numbers ≥ 0 (seconds, 1 decimal; 0 when none)."
    )
    last_7_days: list[VisitorsDay] = strawberry.field(
        description="Visitors per day of the window: 7 days, oldest first, zero-filled."
    )


@strawberry.type(
    description="The landing page's day so far: from 00:00 today in the query's time zone to "
    "the request time. Bots excluded."
)
class TodayStats:
    visitors_today: int = strawberry.field(
        description="Distinct visitors (visitorId, else sessionId) with a page view today."
    )
    whatsapp_clicks: int = strawberry.field(description="WhatsApp clicks today.")
    qr_scans: int = strawberry.field(description="QR scans today.")
    products_viewed: int = strawberry.field(
        description="Product views (product_click, product_view, ...) today."
    )


@strawberry.type(description="One bucket of a series.")
class DataPoint:
    date: datetime = strawberry.field(description="The bucket's first instant in the range.")
    value: float = strawberry.field(description="The metric over the bucket.")


@strawberry.type(
    description="A metric per bucket of a range (`docs/metrics.md`, Metrics; Ranges and "
    "buckets). Bots excluded."
)
class MetricSeries:
    metric: Metric = strawberry.field(description="The metric asked for.")
    period: str | None = strawberry.field(
        description="The period asked for ('30d' when neither period nor dates were given); "
        "null for start/end dates."
    )
    granularity: Granularity = strawberry.field(description="The buckets' size.")
    start_date: datetime = strawberry.field(description="Range start (UTC instant, inclusive).")
    end_date: datetime = strawberry.field(
        description="Range end (exclusive): 24:00 of the last day, or the request time."
    )
    total: float = strawberry.field(
        description="Additive: the sum of the points; else computed over the whole range."
    )
    additive: bool = strawberry.field(description="True: total = sum of dataPoints.")
    unit: str = strawberry.field(description="'count', 'percent' or the tenant's currency code.")
    currency: str | None = strawberry.field(
        description="The tenant's currency (ISO 4217) for money metrics, else null."
    )
    data_points: list[DataPoint] = strawberry.field(
        description="One per bucket, oldest first; empty buckets are 0."
    )
    previous: MetricSeries | None = strawberry.field(
        description="The compared range, when compare is given."
    )
    change: float | None = strawberry.field(
        description="% change of total against previous.total, 1 decimal; null without a "
        "comparison or when previous.total is 0."
    )


@strawberry.type(description="A figure over the range, over the previous period, and the change.")
class KpiValue:
    value: float = strawberry.field(description="Over the range.")
    previous: float = strawberry.field(
        description="Over the previous period: as long, ending where the range starts."
    )
    change: float | None = strawberry.field(
        description="(value − previous) / previous × 100, 1 decimal; null when previous is 0."
    )


@strawberry.type(
    description="The store's headline figures over a range, each with the previous period "
    "(`docs/metrics.md`, overview). Bots excluded."
)
class Overview:
    report: strawberry.Private[OverviewReport]
    currency_code: strawberry.Private[str]

    @strawberry.field(description="Range start (UTC instant, inclusive).")
    def start_date(self) -> datetime:
        return self.report.window.start

    @strawberry.field(
        description="Range end (exclusive): 24:00 of the last day, or the request time."
    )
    def end_date(self) -> datetime:
        return self.report.window.end

    @strawberry.field(description="The tenant's currency (ISO 4217): the unit of money figures.")
    def currency(self) -> str:
        return self.currency_code

    @strawberry.field(description="Σ lineValue over purchase-role events (2 decimals).")
    async def revenue(self) -> KpiValue:
        return as_type(KpiValue, await self.report.kpi(Metric.REVENUE))

    @strawberry.field(description="Distinct orders of purchase-role events.")
    async def orders(self) -> KpiValue:
        return as_type(KpiValue, await self.report.kpi(Metric.ORDERS))

    @strawberry.field(description="revenue / orders (2 decimals; 0 without orders).")
    async def average_order_value(self) -> KpiValue:
        return as_type(KpiValue, await self.report.kpi(Metric.AVERAGE_ORDER_VALUE))

    @strawberry.field(
        description="Distinct sessions with a purchase / distinct sessions × 100 (1 decimal)."
    )
    async def conversion_rate(self) -> KpiValue:
        return as_type(KpiValue, await self.report.kpi(Metric.CONVERSION_RATE))

    @strawberry.field(description="Distinct visitors (visitorId, else sessionId).")
    async def visitors(self) -> KpiValue:
        return as_type(KpiValue, await self.report.kpi(Metric.VISITORS))


@strawberry.type(description="One product's figures over the range (`docs/metrics.md`, products).")
class ProductRow:
    slug: str = strawberry.field(description="Product slug.")
    name: str = strawberry.field(description="Its latest productName (the slug without one).")
    views: int = strawberry.field(description="product_view-role events.")
    add_to_cart: int = strawberry.field(description="add_to_cart-role events.")
    purchases: int = strawberry.field(description="purchase-role events.")
    units: int = strawberry.field(description="Σ quantity over its purchases.")
    revenue: float = strawberry.field(description="Σ lineValue over its purchases (2 decimals).")
    add_to_cart_rate: float = strawberry.field(
        description="addToCart / views × 100 (1 decimal; 0 without views)."
    )
    conversion_rate: float = strawberry.field(
        description="purchases / views × 100 (1 decimal; 0 without views)."
    )


@strawberry.type(description="Products with a view, cart or purchase in the range, by revenue.")
class ProductsReport:
    start_date: datetime = strawberry.field(description="Range start (UTC instant, inclusive).")
    end_date: datetime = strawberry.field(description="Range end (exclusive).")
    total_rows: int = strawberry.field(description="How many products in all (every page).")
    products: list[ProductRow] = strawberry.field(
        description="By revenue descending, then slug; limit rows from offset."
    )


@strawberry.type(description="Customers whose first purchase fell in one local month.")
class Cohort:
    cohort: date = strawberry.field(description="The month's first day.")
    customers: int = strawberry.field(description="How many customers it has.")
    retention: list[float] = strawberry.field(
        description="For k = 1, 2, ... up to the current month: % of them buying in the "
        "k-th month after (1 decimal)."
    )


@strawberry.type(
    description="Logged-in buyers of a range (`docs/metrics.md`, customers). First purchases "
    "and lifetime value are over all stored history."
)
class CustomersReport:
    start_date: datetime = strawberry.field(description="Range start (UTC instant, inclusive).")
    end_date: datetime = strawberry.field(description="Range end (exclusive).")
    new_customers: int = strawberry.field(
        description="userIds whose first purchase ever is in the range."
    )
    returning_customers: int = strawberry.field(
        description="userIds buying in the range whose first purchase is earlier."
    )
    lifetime_value: float = strawberry.field(
        description="Mean over userIds buying in the range of their Σ lineValue over all "
        "stored history (2 decimals)."
    )
    cohorts: list[Cohort] = strawberry.field(
        description="One per local month of a first purchase in the range, oldest first."
    )


@strawberry.type(description="One session source or campaign's figures over the range.")
class ChannelRow:
    key: str = strawberry.field(
        description="The session's source ('direct' without one) or campaign."
    )
    sessions: int = strawberry.field(description="Sessions attributed to it.")
    visitors: int = strawberry.field(description="Distinct visitors of those sessions.")
    orders: int = strawberry.field(description="Distinct orders of their purchases.")
    revenue: float = strawberry.field(description="Σ lineValue of their purchases (2 decimals).")
    conversion_rate: float = strawberry.field(
        description="Sessions with a purchase / sessions × 100 (1 decimal)."
    )


@strawberry.type(description="What WhatsApp cart clicks led to.")
class WhatsappAttribution:
    clicks: int = strawberry.field(description="whatsapp_cart_click-role events.")
    sessions: int = strawberry.field(description="Distinct sessions with one.")
    orders_after_click: int = strawberry.field(
        description="Distinct orders of purchases in such a session after its first click."
    )
    revenue_after_click: float = strawberry.field(
        description="Σ lineValue of those purchases (2 decimals)."
    )


@strawberry.type(
    description="Traffic sources, campaigns and WhatsApp over a range (`docs/metrics.md`, "
    "marketing). A session's source and campaign are its earliest event's that has one."
)
class MarketingReport:
    start_date: datetime = strawberry.field(description="Range start (UTC instant, inclusive).")
    end_date: datetime = strawberry.field(description="Range end (exclusive).")
    sources: list[ChannelRow] = strawberry.field(
        description="Per session source, by sessions descending, then key."
    )
    campaigns: list[ChannelRow] = strawberry.field(
        description="Per session campaign (sessions without one left out), by sessions."
    )
    whatsapp: WhatsappAttribution = strawberry.field(description="WhatsApp click attribution.")


@strawberry.type(description="One key of a breakdown.")
class BreakdownRow:
    key: str = strawberry.field(
        description="The key; '(none)' for events without the field, 'direct' or 'Direct' for "
        "sessions without a source or channel."
    )
    value: float = strawberry.field(description="The metric over the events with that key.")
    share: float = strawberry.field(description="value / total × 100 (1 decimal).")


@strawberry.type(
    description="A metric per key of a dimension over a range (`docs/metrics.md`, breakdown). "
    "Keys with none of the metric's events are left out."
)
class Breakdown:
    metric: Metric = strawberry.field(description="The metric asked for.")
    by: Dimension = strawberry.field(description="The dimension asked for.")
    start_date: datetime = strawberry.field(description="Range start (UTC instant, inclusive).")
    end_date: datetime = strawberry.field(description="Range end (exclusive).")
    total: float = strawberry.field(description="The metric over the whole range.")
    total_rows: int = strawberry.field(description="How many keys in all (every page).")
    rows: list[BreakdownRow] = strawberry.field(
        description="By value descending, then key; limit rows from offset."
    )


@strawberry.type(description="One stored event of a person (bot traffic is not exported).")
class Event:
    id: strawberry.ID = strawberry.field(description="The event's own id.")
    event_type: str = strawberry.field(description="Its type.")
    session_id: str = strawberry.field(description="Its session.")
    user_id: str | None = strawberry.field(description="The shopper's email, if logged in.")
    product_slug: str | None = strawberry.field(description="Product slug.")
    product_name: str | None = strawberry.field(description="Product name.")
    price: float | None = strawberry.field(description="Unit price.")
    quantity: int = strawberry.field(description="metadata.quantity, else 1.")
    order_id: str | None = strawberry.field(description="metadata.order_id.")
    metadata: JSON | None = strawberry.field(description="The metadata sent.")
    source: str | None = strawberry.field(description="Traffic source (null: direct).")
    error_message: str | None = strawberry.field(description="Detail of an error event.")
    created_at: datetime = strawberry.field(description="When it was stored (UTC).")
    visitor_id: str | None = strawberry.field(
        description="The visitor: a keyed hash of tenant, IP and user agent."
    )
    browser: str | None = strawberry.field(description="Browser, from the user agent.")
    os: str | None = strawberry.field(description="Operating system, from the user agent.")
    device: str | None = strawberry.field(description="desktop, mobile, tablet or other.")
    country: str | None = strawberry.field(description="ISO 3166 alpha-2, from the IP.")
    referrer: str | None = strawberry.field(description="The referrer.")
    page: str | None = strawberry.field(description="The page's path.")
    utm_source: str | None = strawberry.field(description="utm_source.")
    utm_medium: str | None = strawberry.field(description="utm_medium.")
    utm_campaign: str | None = strawberry.field(description="utm_campaign.")
    channel: str | None = strawberry.field(description="Paid, Email, Organic Search, ...")

    @classmethod
    def from_document(cls, doc: dict[str, object]) -> Event:
        fields = {name: doc.get(camel) for name, camel in EVENT_FIELDS.items()}
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            created_at=doc["createdAt"].replace(tzinfo=UTC),  # type: ignore[attr-defined]
            quantity=int(doc.get("quantity") or 1),  # type: ignore[call-overload]
            **fields,  # type: ignore[arg-type]
        )


# Event's plain fields: Python name → stored name.
EVENT_FIELDS: dict[str, str] = {
    "event_type": "eventType",
    "session_id": "sessionId",
    "user_id": "userId",
    "product_slug": "productSlug",
    "product_name": "productName",
    "price": "price",
    "order_id": "orderId",
    "metadata": "metadata",
    "source": "source",
    "error_message": "errorMessage",
    "visitor_id": "visitorId",
    "browser": "browser",
    "os": "os",
    "device": "device",
    "country": "country",
    "referrer": "referrer",
    "page": "page",
    "utm_source": "utmSource",
    "utm_medium": "utmMedium",
    "utm_campaign": "utmCampaign",
    "channel": "channel",
}


@strawberry.type(description="An event and the cursor that names its place.")
class EventEdge:
    cursor: str = strawberry.field(description="Pass as after to read on from here.")
    node: Event = strawberry.field(description="The event.")


@strawberry.type(description="Where a page ends (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More may follow (a page can be short when a filter is selective)."
    )
    end_cursor: str | None = strawberry.field(description="Pass as after for the next page.")


@strawberry.type(
    description="Stored events in (createdAt, id) order, a page at a time (Relay connection)."
)
class EventConnection:
    edges: list[EventEdge] = strawberry.field(description="This page's events.")
    page_info: PageInfo = strawberry.field(description="Where it ends.")
