"""The landing-page REST routes (seed 004) its pages and admin panel already call.

Like ``app.urban_store``, each route runs its GraphQL field through the schema (the
same validation, ``@admin`` permission, rate limit and metrics) and only reshapes the
answer: snake_case keys, ``{"success": true, ...}``, and on failure
``{"success": false, "message": ...}`` with the statuses seed 004's clients expect.

=====================================  =======================================  ======
route                                  GraphQL field                            access
=====================================  =======================================  ======
POST /api/analytics/track              trackEvent                               public
GET  /api/analytics/{tenantId}         landingStats(tenantId, timezone)         admin
GET  /api/analytics/{tenantId}/today   todayStats(tenantId, timezone)           admin
=====================================  =======================================  ======

``{tenantId}`` never matches the Urban Store routes' names (``track``,
``dashboard-stats``, ``funnel``, ``rfm``, ``alerts``), so ``/api/analytics/funnel``
still redirects to ``/api/analytics/funnel/`` rather than reading a tenant "funnel".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import json_codec
from app.errors import json_response
from app.rest import FieldRoutes
from app.urban_store import PREFIX, snake

# The seven event types of seed 004's pages.
LANDING_TYPES = (
    "pageview",
    "product_click",
    "click_whatsapp",
    "click_call",
    "click_toggle_currency",
    "time_on_page",
    "qr_scan",
)
URBAN_STORE_NAMES = ("track", "dashboard-stats", "funnel", "rfm", "alerts")
# The tenant id pattern's length; also spares str() of a huge int (ValueError past
# 4,300 digits).
TENANT_LIMIT = 10**64
DIGITS = re.compile(r"^[0-9]{1,64}$")
INVALID = "Invalid data"
# Where the schema's field names come from in a landing body.
BODY_FIELD = {
    "eventType": "event_type",
    "tenantId": "tenant_id",
    "sessionId": "metadata.session_id",
    "timezone": "timezone",
}
STATUS_OF_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "RATE_LIMITED": 429}
STATUS_OF_CODE.update(BAD_USER_INPUT=422)
RETRY_AFTER_DEFAULT = 60  # the budget is per UTC minute

TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status } }"
LANDING = """query($t: ID, $z: String) { landingStats(tenantId: $t, timezone: $z) {
  visitorsToday visitorsWeek whatsappClicks callClicks currencyToggles qrScans
  avgTimeOnPage last7Days { date visitors } } }"""
TODAY = """query($t: ID, $z: String) { todayStats(tenantId: $t, timezone: $z) {
  visitorsToday whatsappClicks qrScans productsViewed } }"""


class LandingTenant(StringConvertor):
    """A path segment that is not one of the Urban Store routes' names."""

    regex = "(?!(?:" + "|".join(map(re.escape, URBAN_STORE_NAMES)) + ")(?:/|$))[^/]+"


register_url_convertor("landing_tenant", LandingTenant())


def _invalid(errors: Mapping[str, list[str]]) -> Response:
    return json_response({"success": False, "message": INVALID, "errors": dict(errors)}, status=422)


def _field(graphql_field: str | None) -> str:
    """``input.metadata.seconds`` → ``metadata.seconds``; ``input.sessionId`` →
    ``metadata.session_id`` (where a landing body carries it)."""
    parts = (graphql_field or "").split(".")
    if parts[0] in ("input", "e"):
        parts = parts[1:]
    if not parts or not parts[0]:
        return "body"
    head = BODY_FIELD.get(parts[0], snake(parts[0]))
    return ".".join([head, *parts[1:]])


def failure(error: GraphQLError) -> Response:
    """The seed's answer for a GraphQL error."""
    extensions = error.extensions or {}
    code = extensions.get("code", "INTERNAL_SERVER_ERROR")
    status = STATUS_OF_CODE.get(code, 500)
    if status == 422:
        return _invalid({_field(extensions.get("field")): [error.message]})
    if status == 429:
        retry = extensions.get("retryAfter", RETRY_AFTER_DEFAULT)
        body = {"success": False, "message": "Rate limit exceeded"}
        return json_response(body, status=429, headers={"Retry-After": str(retry)})
    message = error.message if status != 500 else "Internal server error"
    return json_response({"success": False, "message": message}, status=status)


def _tenant_id(value: Any) -> str | None:
    """An integer ≥ 0, or its decimal digits as text, as the tenant's decimal string."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < TENANT_LIMIT:
        return str(value)
    if isinstance(value, str) and DIGITS.fullmatch(value):
        return str(int(value))
    return None


def track_input(body: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The trackEvent input of a landing body, and its errors by field (seed 004's names).

    Fields other than tenant_id, event_type and metadata are ignored, as the seed did.
    """
    if not isinstance(body, dict):
        return {}, {"body": ["The body must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    tenant = _tenant_id(body.get("tenant_id"))
    if body.get("tenant_id") is None:
        errors["tenant_id"] = ["The tenant id field is required."]
    elif tenant is None:
        errors["tenant_id"] = ["The tenant id must be an integer."]
    event_type = body.get("event_type")
    if event_type is None:
        errors["event_type"] = ["The event type field is required."]
    elif event_type not in LANDING_TYPES:
        errors["event_type"] = ["The selected event type is invalid."]
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        errors["metadata"] = ["The metadata must be an object."]
    session = metadata.get("session_id") if isinstance(metadata, dict) else None
    if session is not None and not isinstance(session, str):
        errors["metadata.session_id"] = ["The metadata.session_id must be a string."]
    event: dict[str, Any] = {"eventType": event_type, "tenantId": tenant, "metadata": metadata}
    if session is not None:
        event["sessionId"] = session
    return event, errors


def _stats(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "visitors_today": data["visitorsToday"],
        "visitors_week": data["visitorsWeek"],
        "whatsapp_clicks": data["whatsappClicks"],
        "call_clicks": data["callClicks"],
        "currency_toggles": data["currencyToggles"],
        "qr_scans": data["qrScans"],
        "avg_time_on_page": data["avgTimeOnPage"],
        "last_7_days": data["last7Days"],
    }


class LandingRoutes(FieldRoutes):
    def routes(self) -> list[Route]:
        """After the Urban Store routes (see the module docstring)."""
        return [
            Route(f"{PREFIX}/track", self.track, methods=["POST"]),
            Route(f"{PREFIX}/{{tenant_id:landing_tenant}}", self.landing_stats, methods=["GET"]),
            Route(f"{PREFIX}/{{tenant_id:landing_tenant}}/today", self.today, methods=["GET"]),
        ]

    async def _run(
        self, request: Request, query: str, variables: Mapping[str, Any]
    ) -> tuple[Any, Response | None]:
        data, error = await self.run(request, query, variables)
        return data, None if error is None else failure(error)

    async def track(self, request: Request) -> Response:
        try:
            body = json_codec.decode(await request.body())
        except json_codec.JsonError as error:
            return _invalid({"body": [f"The body must be a JSON object: {error}"]})
        event, errors = track_input(body)
        if errors:
            return _invalid(errors)
        _, refused = await self._run(request, TRACK, {"e": event})
        # Stored, a duplicate and bot traffic alike: the seed's pages need only to know
        # the call was taken.
        return refused or json_response({"success": True})

    def _view_variables(self, request: Request) -> dict[str, Any]:
        tenant = request.path_params["tenant_id"]
        # The seed's tenant ids are integers: /api/analytics/007 is tenant 7, as tracking has it.
        return {
            "t": _tenant_id(tenant) or tenant,
            "z": request.query_params.get("timezone") or None,
        }

    async def landing_stats(self, request: Request) -> Response:
        data, refused = await self._run(request, LANDING, self._view_variables(request))
        return refused or json_response({"success": True, "data": _stats(data)})

    async def today(self, request: Request) -> Response:
        data, refused = await self._run(request, TODAY, self._view_variables(request))
        if refused is not None:
            return refused
        return json_response(
            {
                "success": True,
                "visitors_today": data["visitorsToday"],
                "whatsapp_clicks": data["whatsappClicks"],
                "qr_scans": data["qrScans"],
                "products_viewed": data["productsViewed"],
            }
        )
