"""dashboardStats: the week's KPIs (docs/metrics.md, dashboardStats).

``DashboardReport`` answers one request lazily: each method awaits only the
database pass(es) its figure needs, and each pass runs at most once per
report, however many fields share it and however concurrently they ask:

=============  =====================================================================
pass           fields
=============  =====================================================================
types          totalSales, salesByDay, averageOrderValue, eventsTimeline,
               checkoutStarted/paymentInfoEntered/orderCompletedCount,
               conversionCheckoutToPayment, conversionPaymentToOrder,
               eventCounts and conversionRates in TOTAL mode, errorCounts, errorsTimeline
revenue        totalRevenue, averageOrderValue
products       topProducts, topViewedProducts, productPerformance
sessions       sessionStats, trafficSources, eventCounts and conversionRates in UNIQUE
whatsapp       whatsappSessions, whatsappPurchases, whatsappSessionsList
abandonment    abandonmentRate (``metrics.abandonment``)
retention      retentionMetrics (``metrics.customers``, 90 × 24 h window)
=============  =====================================================================

Event types count by role (``core.roles``): ``purchase`` below means every type of
the purchase role (``purchase``, ``order.completed``), and so on for product_view,
add_to_cart, begin_checkout and whatsapp_cart_click; checkout_started,
payment_info_entered, order_completed and the error types are Urban Store types.

Window: 00:00 of (today − 6 days) in the query's zone to the request time
(``metrics.windows.dashboard_window``). Days are calendar days of that zone.

Every pass reads an hour summary (``metrics.summaries``): closed hours and
settled 5-minute slices from memory, the last minutes raw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from core.roles import Role
from core.vocabulary import ERROR_EVENT_TYPES, CountMode, EventType
from metrics import customers
from metrics import dashboard_passes as passes
from metrics.abandonment import Abandonment, abandonment
from metrics.dashboard_figures import (
    ConversionRates,
    DayCount,
    ErrorCounts,
    ErrorsTimelineDay,
    EventCounts,
    EventsTimelineDay,
    ProductCount,
    ProductPerformance,
    RetentionMetrics,
    SessionStats,
    TrafficSource,
)
from metrics.dashboard_pipelines import (
    FUNNEL_COUNT_ROLES,
    TIMELINE_GROUPS,
    TOP_PRODUCTS,
)
from metrics.rounding import average, bounded_count, money, percent, ratio
from metrics.windows import RETENTION_DAYS, DayWindow, dashboard_window
from storage.database import Database

T = TypeVar("T")
PERFORMANCE_ROWS = 10


class DashboardReport:
    """Lazy KPIs of one request: each method awaits only the pass it needs, once."""

    def __init__(
        self, database: Database, *, tenant: str, mode: CountMode, zone: ZoneInfo, now: datetime
    ) -> None:
        self.database = database
        self.tenant = tenant
        self.mode = mode
        self.zone = zone
        self.now = now
        self.window: DayWindow = dashboard_window(now, zone)
        self._passes: dict[str, asyncio.Future[Any]] = {}

    async def _once(self, name: str, run: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """The result of pass ``name``, started by the first caller and shared by all.

        The task is stored before anything awaits, so concurrent callers find it;
        ``shield`` keeps one cancelled caller from cancelling the others' pass.
        """
        task = self._passes.get(name)
        if task is None:
            task = self._passes[name] = asyncio.ensure_future(run())
        return cast(T, await asyncio.shield(task))

    # ---- passes --------------------------------------------------------------

    @property
    def _unique(self) -> bool:
        return self.mode == CountMode.UNIQUE

    async def _revenue(self) -> float:
        return await self._once(
            "revenue",
            lambda: passes.revenue(
                self.database, tenant=self.tenant, window=self.window, now=self.now
            ),
        )

    async def _type_counts(self) -> passes.TypeDayCounts:
        """Events per type and day: one pass serves the timeline and the errors."""
        return await self._once(
            "types",
            lambda: passes.type_day_counts(
                self.database, tenant=self.tenant, window=self.window, now=self.now
            ),
        )

    async def _timeline(self) -> passes.TypeDayCounts:
        """Per day: the four funnel roles (their types summed) and the checkout steps."""
        return (await self._type_counts()).folded(TIMELINE_GROUPS)

    async def _products(self) -> list[passes.ProductFigures]:
        return await self._once(
            "products",
            lambda: passes.products(
                self.database,
                tenant=self.tenant,
                window=self.window,
                unique=self._unique,
                now=self.now,
            ),
        )

    async def _sessions(self) -> passes.Sessions:
        return await self._once(
            "sessions",
            lambda: passes.sessions(
                self.database,
                tenant=self.tenant,
                window=self.window,
                unique=self._unique,
                now=self.now,
            ),
        )

    async def _whatsapp(self) -> passes.Whatsapp:
        return await self._once(
            "whatsapp",
            lambda: passes.whatsapp(
                self.database, tenant=self.tenant, window=self.window, now=self.now
            ),
        )

    async def _abandonment(self) -> Abandonment:
        return await self._once(
            "abandonment",
            lambda: abandonment(
                self.database,
                tenant=self.tenant,
                low=self.window.start,
                high=self.window.end,
                now=self.now,
            ),
        )

    async def _buyers(self) -> list[customers.Buyer]:
        return await self._once(
            "retention",
            lambda: customers.buyers(self.database, tenant=self.tenant, now=self.now),
        )

    # ---- sales ---------------------------------------------------------------

    async def _sales_per_day(self) -> tuple[int, ...]:
        return (await self._timeline()).day_counts(Role.PURCHASE)

    async def total_sales(self) -> int:
        """Number of ``purchase`` events in the window (an event is a line, not an order)."""
        return sum(await self._sales_per_day())

    async def total_revenue(self) -> float:
        """Σ price × quantity over the window's purchases (missing price = 0); money, 2 decimals."""
        return money(await self._revenue())

    async def average_order_value(self) -> float:
        """Revenue per purchase event in the window; money, 2 decimals; 0 without sales."""
        revenue, per_day = await asyncio.gather(self._revenue(), self._sales_per_day())
        return money(ratio(revenue, sum(per_day)))

    async def top_products(self) -> list[ProductCount]:
        """The 5 slugs with most units (Σ quantity) purchased in the window; ties by slug."""
        bought = [p for p in await self._products() if p.purchases > 0]
        ranked = sorted(bought, key=lambda p: (-p.purchases_units, p.slug))
        return [
            ProductCount(slug=p.slug, count=bounded_count(p.purchases_units))
            for p in ranked[:TOP_PRODUCTS]
        ]

    async def sales_by_day(self) -> list[DayCount]:
        """Purchase events per calendar day of the zone: 7 days, oldest first, zero-filled."""
        per_day = await self._sales_per_day()
        return [
            DayCount(date=day, count=count)
            for day, count in zip(self.window.days, per_day, strict=True)
        ]

    # ---- funnel and checkout -------------------------------------------------

    async def events_timeline(self) -> list[EventsTimelineDay]:
        """Per calendar day of the zone, events of the seven funnel and checkout types."""
        per_day = (await self._timeline()).per_day
        return [
            EventsTimelineDay(day, *(per_day[t][index] for t in TIMELINE_GROUPS))
            for index, day in enumerate(self.window.days)
        ]

    async def event_counts(self) -> EventCounts:
        """product_view, add_to_cart, begin_checkout, purchase in the window.

        TOTAL: events; UNIQUE: distinct sessions with at least one such event.
        """
        if self._unique:
            by_type = (await self._sessions()).sessions_by_type
            return EventCounts(*(by_type[t] for t in FUNNEL_COUNT_ROLES))
        timeline = await self._timeline()
        return EventCounts(*(timeline.total(t) for t in FUNNEL_COUNT_ROLES))

    async def conversion_rates(self) -> ConversionRates:
        """Step percentages of ``event_counts`` (same mode), 1 decimal; 0 over an empty step."""
        counts = await self.event_counts()
        return ConversionRates(
            visit_to_cart=percent(counts.add_to_cart, counts.product_view),
            cart_to_checkout=percent(counts.begin_checkout, counts.add_to_cart),
            checkout_to_purchase=percent(counts.purchase, counts.begin_checkout),
        )

    async def abandonment_rate(self) -> float:
        """% of identifiers (userId, else sessionId) with a begin_checkout in the window
        and no purchase in it, among those with a begin_checkout; 1 decimal."""
        return (await self._abandonment()).rate

    async def checkout_started_count(self) -> int:
        """``checkout_started`` events in the window."""
        return (await self._timeline()).total(EventType.CHECKOUT_STARTED)

    async def payment_info_entered_count(self) -> int:
        """``payment_info_entered`` events in the window."""
        return (await self._timeline()).total(EventType.PAYMENT_INFO_ENTERED)

    async def order_completed_count(self) -> int:
        """``order_completed`` events in the window."""
        return (await self._timeline()).total(EventType.ORDER_COMPLETED)

    async def conversion_checkout_to_payment(self) -> float:
        """payment_info_entered / checkout_started events × 100, 1 decimal."""
        timeline = await self._timeline()
        return percent(
            timeline.total(EventType.PAYMENT_INFO_ENTERED),
            timeline.total(EventType.CHECKOUT_STARTED),
        )

    async def conversion_payment_to_order(self) -> float:
        """order_completed / payment_info_entered events × 100, 1 decimal."""
        timeline = await self._timeline()
        return percent(
            timeline.total(EventType.ORDER_COMPLETED),
            timeline.total(EventType.PAYMENT_INFO_ENTERED),
        )

    # ---- errors --------------------------------------------------------------

    async def error_counts(self) -> ErrorCounts:
        """Events of the four error types in the window."""
        errors = await self._type_counts()
        return ErrorCounts(*(errors.total(t) for t in ERROR_EVENT_TYPES))

    async def errors_timeline(self) -> list[ErrorsTimelineDay]:
        """Per calendar day of the zone, events of the four error types."""
        errors = await self._type_counts()
        return [
            ErrorsTimelineDay(day, *(errors.day_counts(t)[index] for t in ERROR_EVENT_TYPES))
            for index, day in enumerate(self.window.days)
        ]

    # ---- products ------------------------------------------------------------

    async def top_viewed_products(self) -> list[ProductCount]:
        """The 5 most viewed slugs of the window; ties by slug.

        TOTAL: product_view events; UNIQUE: distinct sessions viewing the slug.
        """
        viewed = [p for p in await self._products() if p.views > 0]
        return [ProductCount(slug=p.slug, count=p.views) for p in viewed[:TOP_PRODUCTS]]

    async def product_performance(self) -> list[ProductPerformance]:
        """Up to 10 slugs with a product_view, add_to_cart or purchase, by views desc, slug.

        views, addToCart, purchases: events (TOTAL) or distinct sessions (UNIQUE);
        purchasesUnits: Σ quantity; conversionRate: purchases / views × 100, 1
        decimal; name: the latest non-null productName of the slug's events in
        the window, else the slug.
        """
        return [
            ProductPerformance(
                slug=p.slug,
                name=p.name,
                views=p.views,
                add_to_cart=p.add_to_cart,
                purchases=p.purchases,
                purchases_units=bounded_count(p.purchases_units),
                conversion_rate=percent(p.purchases, p.views),
            )
            for p in (await self._products())[:PERFORMANCE_ROWS]
        ]

    # ---- sessions and sources ------------------------------------------------

    async def session_stats(self) -> SessionStats:
        """Distinct sessions with any event in the window, events per session (1
        decimal), and distinct sessions with a purchase."""
        sessions = await self._sessions()
        return SessionStats(
            unique_sessions=sessions.sessions,
            avg_events_per_session=average(sessions.events, sessions.sessions),
            sessions_with_purchase=sessions.buying_sessions,
        )

    async def traffic_sources(self) -> list[TrafficSource]:
        """Sessions per source, most first, ties by source.

        A session takes the source of its earliest event in the window that has
        one, else ``direct`` (an explicit ``direct`` is the same source).
        """
        by_source = (await self._sessions()).sessions_by_source
        ranked = sorted(by_source.items(), key=lambda item: (-item[1], item[0]))
        return [TrafficSource(source=source, sessions=count) for source, count in ranked]

    async def whatsapp_sessions(self) -> int:
        """Distinct sessions with a ``whatsapp_cart_click`` in the window."""
        return (await self._whatsapp()).clicking_sessions

    async def whatsapp_purchases(self) -> int:
        """Distinct sessions with a ``whatsapp_purchase`` in the window."""
        return (await self._whatsapp()).buying_sessions

    async def whatsapp_sessions_list(self) -> list[str]:
        """The 10 sessions whose latest ``whatsapp_cart_click`` is most recent, newest
        first; equal times by session id."""
        return list((await self._whatsapp()).latest_clickers)

    # ---- retention -----------------------------------------------------------

    async def retention_metrics(self) -> RetentionMetrics:
        """Repeat buying over the 90 × 24 hours before the request (not the week).

        Over purchases with a userId: buyers = distinct userIds; recurrent = those
        with ≥ 2 distinct orders (order_id, else the purchase event itself);
        repurchaseRate = recurrent / buyers × 100, 1 decimal.
        """
        buyers = await self._buyers()
        recurrent = sum(1 for buyer in buyers if buyer.orders >= 2)
        return RetentionMetrics(
            repurchase_rate=percent(recurrent, len(buyers)),
            recurrent_customers=recurrent,
            total_unique_buyers=len(buyers),
            period_days=RETENTION_DAYS,
        )
