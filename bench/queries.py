"""The GraphQL documents the benchmark sends, and the load bodies built from them."""

from __future__ import annotations

import json
from typing import Any

from bench.load import SEQ

TRACK_EVENT = (
    "mutation Track($input: TrackEventInput!) { trackEvent(input: $input) { status sessionId } }"
)
TRACK_EVENTS = (
    "mutation TrackMany($events: [TrackEventInput!]!) "
    "{ trackEvents(events: $events) { index status error { code } } }"
)
IMPORT_EVENTS = (
    "mutation Import($events: [ImportEventInput!]!) "
    '{ importEvents(tenantId: "default", events: $events) { inserted duplicates } }'
)

# Every one of the 27 DashboardStats fields, every sub-field selected.
DASHBOARD_FULL = """
query Dashboard {
  dashboardStats(mode: TOTAL) {
    mode startDate endDate
    totalSales totalRevenue averageOrderValue
    topProducts { slug count }
    topViewedProducts { slug count }
    salesByDay { date count }
    eventsTimeline {
      date productView addToCart beginCheckout purchase
      checkoutStarted paymentInfoEntered orderCompleted
    }
    abandonmentRate
    eventCounts { productView addToCart beginCheckout purchase }
    conversionRates { visitToCart cartToCheckout checkoutToPurchase }
    checkoutStartedCount paymentInfoEnteredCount orderCompletedCount
    conversionCheckoutToPayment conversionPaymentToOrder
    errorCounts { paymentError checkoutError paymentConfirmationError addressError }
    errorsTimeline { date paymentError checkoutError paymentConfirmationError addressError }
    productPerformance {
      slug name views addToCart purchases purchasesUnits conversionRate
    }
    sessionStats { uniqueSessions avgEventsPerSession sessionsWithPurchase }
    retentionMetrics { repurchaseRate recurrentCustomers totalUniqueBuyers periodDays }
    trafficSources { source sessions }
    whatsappSessions whatsappPurchases whatsappSessionsList
  }
}
"""

# Every value of the schema's Metric enum (tests/test_bench_runner.py checks the list).
METRICS = (
    "REVENUE", "NET_REVENUE", "ORDERS", "AVERAGE_ORDER_VALUE", "CONVERSION_RATE", "VISITORS",
    "SESSIONS", "PAGEVIEWS", "PRODUCT_VIEWS", "ADD_TO_CARTS", "CHECKOUTS", "EVENTS",
    "NEW_CUSTOMERS", "RETURNING_CUSTOMERS",
)  # fmt: skip

ADMIN_QUERIES: dict[str, str] = {
    "dashboard_full": DASHBOARD_FULL,
    "dashboard_total_sales": "query { dashboardStats { totalSales } }",
    "funnel": "query { funnel { steps { step count } } }",
    "rfm": "query { rfm { customers { visitorId segment } } }",
    "alerts": "query { alerts { type message } }",
    # issue 10 target 6 and issue 11: long ranges and a 30-day daily series.
    "revenue_12m": (
        'query { metrics(metric: REVENUE, period: "12m") { total dataPoints { date value } } }'
    ),
    "visitors_12m": (
        'query { metrics(metric: VISITORS, period: "12m", granularity: MONTH) { total } }'
    ),
    # issue 11's speed targets: a breakdown, an ordered funnel and the overview over 30 days.
    "breakdown_source_30d": (
        "query { breakdown(metric: SESSIONS, by: SOURCE) { total rows { key value share } } }"
    ),
    "funnel_ordered_30d": (
        'query { funnel(period: "30d", ordered: true, steps: ["page_view", "product_view", '
        '"add_to_cart", "purchase"]) { steps { step count conversionFromPrevious } } }'
    ),
    "overview_30d": (
        "query { overview { revenue { value previous change } orders { value previous } "
        "averageOrderValue { value } conversionRate { value } visitors { value previous } } }"
    ),
    # issue 11 target 7: each metric as a 30-day daily series (the default range).
    # EVENTS counts one event type: the storefront's whatsapp_cart_click.
    **{
        f"{metric.lower()}_30d": (
            f"query {{ metrics(metric: {metric}"
            + (', eventType: "whatsapp_cart_click"' if metric == "EVENTS" else "")
            + ") { total dataPoints { date value } } }"
        )
        for metric in METRICS
    },
}

# What a storefront sends most: a product view from a campaign, with a little metadata.
LOAD_EVENT: dict[str, Any] = {
    "eventType": "product_view",
    "sessionId": f"load-{SEQ}",
    "productSlug": "black-tee-000",
    "productName": "Black Tee",
    "price": 89900.0,
    "source": "instagram",
    "metadata": {"list": "home-carousel", "position": 3},
}


def track_event_body() -> str:
    return json.dumps({"query": TRACK_EVENT, "variables": {"input": LOAD_EVENT}})


def track_events_body(batch: int) -> str:
    return json.dumps({"query": TRACK_EVENTS, "variables": {"events": [LOAD_EVENT] * batch}})
