"""Hanzo Commerce's analytics route (seed 003): ``POST /analytics/event``.

Hanzo's storefront and servers send ``{type, sessionId, customerId, properties,
context}`` with a bearer token. The route turns that into a ``trackEvent`` input and
runs it through the schema (the same validation, tenants, rate limit and context), and
only reshapes the answer:

* the tenant is the token's (its one ``tenant_id``), else ``default``;
* money (``properties.price``, ``properties.total``) is in the currency's minor units
  and is converted by the tenant currency's ISO 4217 exponent (cents → units);
* ``order.completed`` (and a refund, ``order.refunded``) is one order line whose price
  is ``properties.total`` (quantity 1, ``metadata.order_id`` = ``properties.orderId``);
  other types keep their own price and quantity; every other property stays in
  ``metadata``;
* ``context.ip``, ``context.userAgent`` and ``context.referrer`` are believed only from a
  caller whose token allows ingestion (``is_admin`` or ``ingest: true``: Hanzo's own
  servers); anyone else's come from the request itself, as for every public event;
* ``customerId`` is the shopper for such a caller (none: a guest; never the sender's own
  account); otherwise the shopper is the token's email, as for ``trackEvent``.

Answers: 200 ``{"status": "ok" | "duplicate_ignored" | "bot"}``; 400 ``{"error": ...,
"field": ...}``; 401 for a token that is present but invalid; 429 with ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.errors import json_response
from app.rest import FieldRoutes, json_object
from app.urban_store import error_response
from auth.tokens import ALL_TENANTS
from core.errors import BadUserInput, Unauthenticated
from core.roles import Role, types_of
from core.vocabulary import DEFAULT_TENANT
from metrics.context import MAX_USER_AGENT, RequestFacts
from metrics.ingest import checked_text, checked_url, storable
from metrics.tenants import currency_exponent

TRACK = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status } }"
PATH = "/analytics/event"
ORDER_COMPLETED = "order.completed"
ORDER_LINES = frozenset({ORDER_COMPLETED, *types_of(Role.REFUND)})
# Properties with a field of their own; the rest stay in metadata.
SLUG_KEYS = ("productSlug", "slug", "productId")
NAME_KEYS = ("productName", "name")


def _error(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return json_response(body, status=status)


class _Refused(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def _minor_to_major(value: Any, exponent: int, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Refused(f"{field} must be a number of minor units (cents)", field)
    scale: float = 10.0**exponent
    return round(float(value) / scale, exponent)


def _trusted_facts(facts: RequestFacts, extra: dict[str, Any]) -> RequestFacts:
    """The caller's facts with those Hanzo's own servers report for the shopper
    (``context.ip``, ``userAgent``, ``referrer``), each checked like a browser's."""
    ip, agent, referrer = extra.get("ip"), extra.get("userAgent"), extra.get("referrer")
    try:
        if isinstance(ip, str):
            ip = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        raise _Refused("context.ip must be an IP address", "context.ip") from None
    try:
        if isinstance(agent, str):
            agent = storable(agent[:MAX_USER_AGENT], "context.userAgent")
        if isinstance(referrer, str):
            referrer = checked_url(referrer, "context.referrer")
    except BadUserInput as error:
        raise _Refused(error.message, error.field or "context") from None
    return replace(
        facts,
        client_ip=ip if isinstance(ip, str) else facts.client_ip,
        user_agent=agent if isinstance(agent, str) else facts.user_agent,
        referer=referrer if isinstance(referrer, str) else facts.referer,
    )


class HanzoRoutes(FieldRoutes):
    def routes(self) -> list[Route]:
        return [Route(PATH, self.event, methods=["POST"])]

    async def event(self, request: Request) -> Response:
        body, problem = await json_object(request)
        if body is None:
            return _error(400, problem or "the body must be a JSON object")
        context = await self.context(request)
        trusted, tenant = False, DEFAULT_TENANT
        if context.authorization:
            try:
                identity = context.identity()
            except Unauthenticated as error:
                return json_response({"error": error.message, "reason": error.reason}, status=401)
            trusted = identity.may_ingest
            scope = sorted(identity.tenants - {ALL_TENANTS})
            tenant = scope[0] if len(scope) == 1 else DEFAULT_TENANT
        try:
            event = await self._event(body, context, tenant, trusted)
        except _Refused as error:
            return _error(400, error.message, error.field)
        if trusted:
            # Hanzo's servers name the shopper (none: a guest), never their own account;
            # anyone else's shopper is the token's email.
            customer = body.get("customerId")
            if isinstance(customer, int) and not isinstance(customer, bool):
                customer = str(customer)
            try:
                named = checked_text(customer, "customerId") if isinstance(customer, str) else None
            except BadUserInput as error:
                return _error(400, error.message, "customerId")
            context.shopper_named, context.shopper_override = True, named or None
        data, refused = await self.run(request, TRACK, {"e": event}, context_value=context)
        if refused is not None:
            return error_response(refused)
        return json_response({"status": str(data["status"]).lower()})

    async def _event(
        self, body: dict[str, Any], context: Any, tenant: str, trusted: bool
    ) -> dict[str, Any]:
        kind = body.get("type")
        if not isinstance(kind, str):
            raise _Refused("type is required: a Hanzo event type such as order.completed", "type")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise _Refused("properties must be an object", "properties")
        extra = body.get("context") or {}
        if not isinstance(extra, dict):
            raise _Refused("context must be an object", "context")
        exponent = currency_exponent((await context.tenants.get(tenant)).currency)
        metadata = dict(properties)
        event: dict[str, Any] = {"eventType": kind, "tenantId": tenant}
        if isinstance(body.get("sessionId"), str):
            event["sessionId"] = body["sessionId"]
        for key in SLUG_KEYS:
            if isinstance(properties.get(key), str):
                event["productSlug"] = properties[key]
                break
        for key in NAME_KEYS:
            if isinstance(properties.get(key), str):
                event["productName"] = properties[key]
                break
        order = properties.get("orderId", properties.get("order_id"))
        if order is not None:
            metadata["order_id"] = order
        # An order or a refund is one line of its total; anything else has its own price.
        converted = "total" if kind in ORDER_LINES else "price"
        if kind == ORDER_COMPLETED and "total" not in properties:
            raise _Refused("properties.total is required for order.completed", "properties.total")
        if converted in properties:
            field = f"properties.{converted}"
            event["price"] = _minor_to_major(properties[converted], exponent, field)
            metadata.pop(converted)
            if converted == "total":
                metadata["quantity"] = 1
        metadata.pop("orderId", None)
        if metadata:
            event["metadata"] = metadata
        if isinstance(extra.get("page"), dict) and isinstance(extra["page"].get("url"), str):
            event["url"] = extra["page"]["url"]
        if trusted:
            context.facts = _trusted_facts(context.facts, extra)
        elif isinstance(extra.get("referrer"), str):
            event["referrer"] = extra["referrer"]
        return event
