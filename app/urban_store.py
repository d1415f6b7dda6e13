"""The Urban Store REST routes its storefronts and admin pages already call.

Each route runs its GraphQL field through the same schema (and so the same
validation, ``@admin`` permission, metrics and fast paths) and only reshapes the
answer: snake_case keys, the statuses Urban Store's clients expect, and
``{"error": message}`` on failure (with ``field`` naming a bad input, snake_case).

======================================  =================================  ==========
route                                   GraphQL field                      access
======================================  =================================  ==========
POST /api/analytics/track/              trackEvent                         public
GET  /api/analytics/dashboard-stats/    dashboardStats(mode)               admin
GET  /api/analytics/funnel/             funnel(start, end, source)         admin
GET  /api/analytics/rfm/                rfm                                admin
GET  /api/analytics/alerts/             alerts(lang)                       admin
======================================  =================================  ==========
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.errors import json_response
from app.rest import FieldRoutes, json_object

PREFIX = "/api/analytics"
# Plain decimal digits only: float() would also take "1_000", "١٢", "nan" and "1e999".
PRICE_TEXT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,6})?")
STATUS_OF_CODE = {
    "BAD_USER_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
}
TRACK_FIELDS = (
    "event_type",
    "session_id",
    "tenant_id",
    "product_slug",
    "product_name",
    "price",
    "metadata",
    "source",
    "error_message",
    "idempotency_key",
    "url",
    "referrer",
)
TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status sessionId } }"
DASHBOARD_FIELDS = """mode startDate endDate totalSales totalRevenue averageOrderValue
  topProducts { slug count } topViewedProducts { slug count } salesByDay { date count }
  eventsTimeline { date productView addToCart beginCheckout purchase checkoutStarted
    paymentInfoEntered orderCompleted }
  abandonmentRate eventCounts { productView addToCart beginCheckout purchase }
  conversionRates { visitToCart cartToCheckout checkoutToPurchase }
  checkoutStartedCount paymentInfoEnteredCount orderCompletedCount
  conversionCheckoutToPayment conversionPaymentToOrder
  errorCounts { paymentError checkoutError paymentConfirmationError addressError }
  errorsTimeline { date paymentError checkoutError paymentConfirmationError addressError }
  productPerformance { slug name views addToCart purchases purchasesUnits conversionRate }
  sessionStats { uniqueSessions avgEventsPerSession sessionsWithPurchase }
  retentionMetrics { repurchaseRate recurrentCustomers totalUniqueBuyers periodDays }
  trafficSources { source sessions } whatsappSessions whatsappPurchases whatsappSessionsList"""
DASHBOARD = (
    "query($m: CountMode!, $t: ID) { dashboardStats(mode: $m, tenantId: $t) { "
    + DASHBOARD_FIELDS
    + " } }"
)
FUNNEL = """query($s: Date, $e: Date, $src: String, $t: ID) {
  funnel(start: $s, end: $e, source: $src, tenantId: $t) {
    steps { step count } startDate endDate source } }"""
RFM = """query($t: ID) { rfm(tenantId: $t) {
  customers { visitorId recency frequency monetary segment segmento } startDate endDate } }"""
ALERTS = """query($t: ID, $l: String!) { alerts(tenantId: $t, lang: $l) {
  type severity message value productSlug timestamp } }"""

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake(key): snake_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


def _error(
    status: int, message: str, field: str | None = None, reason: str | None = None
) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    if reason is not None:  # why a token was refused (UNAUTHENTICATED)
        body["reason"] = reason
    return json_response(body, status=status)


def _field_name(graphql_field: str | None) -> str | None:
    """``input.productSlug`` → ``product_slug``, ``input.metadata.quantity`` →
    ``metadata.quantity``."""
    if not graphql_field:
        return None
    parts = graphql_field.split(".")
    if parts[0] in ("input", "e"):
        parts = parts[1:]
    return ".".join(snake(part) for part in parts) or None


def error_response(error: GraphQLError) -> Response:
    """A GraphQL error as Urban Store's clients read one: ``{"error", "field"?,
    "reason"?}`` with the status of its code (and ``Retry-After`` when rate limited)."""
    extensions = error.extensions or {}
    status = STATUS_OF_CODE.get(extensions.get("code", "INTERNAL_SERVER_ERROR"), 500)
    response = _error(
        status, error.message, _field_name(extensions.get("field")), extensions.get("reason")
    )
    if status == 429:
        response.headers["Retry-After"] = str(extensions.get("retryAfter", 60))
    return response


class UrbanStoreRoutes(FieldRoutes):
    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/track/", self.track, methods=["POST"]),
            Route(f"{PREFIX}/dashboard-stats/", self.dashboard_stats, methods=["GET"]),
            Route(f"{PREFIX}/funnel/", self.funnel, methods=["GET"]),
            Route(f"{PREFIX}/rfm/", self.rfm, methods=["GET"]),
            Route(f"{PREFIX}/alerts/", self.alerts, methods=["GET"]),
        ]

    async def _run(
        self, request: Request, query: str, variables: Mapping[str, Any]
    ) -> tuple[Any, Response | None]:
        """The field's data, or the error response the REST clients expect."""
        data, error = await self.run(request, query, variables)
        return data, None if error is None else error_response(error)

    # ---- tracking ------------------------------------------------------------

    async def track(self, request: Request) -> Response:
        body, problem = await json_object(request)
        if body is None:
            return _error(400, problem or "the body must be a JSON object")
        if "event_type" not in body:
            return _error(400, "event_type is required", "event_type")
        # Fields the route does not know (a client's timestamp, say) are left out, as the
        # Urban Store API did: its clients send more than it reads.
        event = {
            camel(name): value
            for name, value in body.items()
            if name in TRACK_FIELDS and value is not None
        }
        price = event.get("price")
        if isinstance(price, str):  # Urban Store's forms send prices as text: "19.90"
            if not PRICE_TEXT.fullmatch(price.strip()):
                return _error(400, "price must be a number", "price")
            event["price"] = float(price)
        data, failure = await self._run(request, TRACK, {"e": event})
        if failure is not None:
            return failure
        if data["status"] == "DUPLICATE_IGNORED":
            return json_response({"status": "duplicate_ignored"}, status=200)
        return json_response({"status": "ok"}, status=201)

    # ---- admin views ---------------------------------------------------------

    async def dashboard_stats(self, request: Request) -> Response:
        mode = request.query_params.get("mode", "total").upper()
        if mode not in ("TOTAL", "UNIQUE"):
            return _error(400, "mode must be 'total' or 'unique'", "mode")
        variables = {"m": mode, "t": request.query_params.get("tenant_id")}
        data, failure = await self._run(request, DASHBOARD, variables)
        return failure or json_response(snake_keys(data))

    async def funnel(self, request: Request) -> Response:
        query = request.query_params
        variables = {
            "s": query.get("start") or None,
            "e": query.get("end") or None,
            "src": query.get("source") or None,
            "t": query.get("tenant_id"),
        }
        data, failure = await self._run(request, FUNNEL, variables)
        if failure is not None:
            return failure
        return json_response(
            {
                "funnel": data["steps"],
                "start_date": data["startDate"],
                "end_date": data["endDate"],
                "source": data["source"],
            }
        )

    async def rfm(self, request: Request) -> Response:
        data, failure = await self._run(request, RFM, {"t": request.query_params.get("tenant_id")})
        if failure is not None:
            return failure
        return json_response(
            {
                "rfm": snake_keys(data["customers"]),
                "start_date": data["startDate"],
                "end_date": data["endDate"],
            }
        )

    async def alerts(self, request: Request) -> Response:
        variables = {
            "t": request.query_params.get("tenant_id"),
            "l": request.query_params.get("lang", "en"),
        }
        data, failure = await self._run(request, ALERTS, variables)
        if failure is not None:
            return failure
        alerts = [
            {
                **snake_keys(alert),
                "type": alert["type"].lower(),
                "severity": alert["severity"].lower(),
            }
            for alert in data
        ]
        return json_response({"alerts": alerts})
