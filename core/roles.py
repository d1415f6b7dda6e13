"""Roles of event types: the one table that lets every fixed metric read three vocabularies.

A role is what an event *means* to the metrics (a page view, a purchase, a refund); a type
is what a storefront sends. Urban Store, Hanzo (seed 003) and the landing page (seed 004)
name the same roles differently, so a fixed metric never matches a bare type: it matches
``types_of(role)`` (``eventType: {$in: [...]}``, which the embedded engine's per-type index
answers) and folds per-type rows into per-role counts with ``role_of``.

The table is docs/metrics.md "Roles of event types"; a type not in it has no role (a custom
event, or an Urban Store type only its own figures read, such as ``checkout_started``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from core.vocabulary import EventType


class Role(StrEnum):
    PAGE_VIEW = "page_view"
    PRODUCT_VIEW = "product_view"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    BEGIN_CHECKOUT = "begin_checkout"
    PURCHASE = "purchase"
    PAYMENT_CAPTURED = "payment_captured"
    REFUND = "refund"
    WHATSAPP_CART_CLICK = "whatsapp_cart_click"
    CALL_CLICK = "call_click"
    CURRENCY_TOGGLE = "currency_toggle"
    TIME_ON_PAGE = "time_on_page"
    QR_SCAN = "qr_scan"


# Columns in order: Urban Store type, Hanzo type, landing type (absent ones left out).
# The Urban Store type comes first so a one-type role reads as before.
ROLE_TYPES: Mapping[Role, tuple[str, ...]] = MappingProxyType(
    {
        Role.PAGE_VIEW: (EventType.PAGE_VIEW.value, "page.viewed", "pageview"),
        Role.PRODUCT_VIEW: (EventType.PRODUCT_VIEW.value, "product.viewed", "product_click"),
        Role.ADD_TO_CART: (EventType.ADD_TO_CART.value, "cart.item_added"),
        Role.REMOVE_FROM_CART: ("remove_from_cart", "cart.item_removed"),
        Role.BEGIN_CHECKOUT: (EventType.BEGIN_CHECKOUT.value, "checkout.started"),
        Role.PURCHASE: (EventType.PURCHASE.value, "order.completed"),
        Role.PAYMENT_CAPTURED: ("payment.captured",),
        Role.REFUND: ("order.refunded",),
        Role.WHATSAPP_CART_CLICK: (EventType.WHATSAPP_CART_CLICK.value, "click_whatsapp"),
        Role.CALL_CLICK: ("click_call",),
        Role.CURRENCY_TOGGLE: ("click_toggle_currency",),
        Role.TIME_ON_PAGE: ("time_on_page",),
        Role.QR_SCAN: ("qr_scan",),
    }
)

_ROLE_OF: Mapping[str, Role] = MappingProxyType(
    {event_type: role for role, types in ROLE_TYPES.items() for event_type in types}
)


def types_of(role: Role) -> tuple[str, ...]:
    """The event types that play ``role``, Urban Store's first."""
    return ROLE_TYPES[role]


def types_of_roles(roles: Iterable[Role]) -> list[str]:
    """The event types of several roles, in role order: the list for an ``$in`` match."""
    return [event_type for role in roles for event_type in ROLE_TYPES[role]]


def role_of(event_type: str) -> Role | None:
    """The role ``event_type`` plays, or None for a type outside the table."""
    return _ROLE_OF.get(event_type)


def in_role(role: Role) -> dict[str, list[str]]:
    """The ``eventType`` condition of a ``$match`` for every type of ``role``."""
    return {"$in": list(ROLE_TYPES[role])}


def in_roles(roles: Iterable[Role]) -> dict[str, list[str]]:
    """The ``eventType`` condition of a ``$match`` for every type of several roles."""
    return {"$in": types_of_roles(roles)}


def role_flag(role: Role, field: str = "$eventType") -> dict[str, Any]:
    """1 when ``field`` is a type of ``role``, else 0 (an aggregation expression)."""
    return {"$cond": [{"$in": [field, list(ROLE_TYPES[role])]}, 1, 0]}


def role_expression(roles: Sequence[Role], field: str = "$eventType") -> Any:
    """The role of ``field`` among ``roles`` (its name), else ``field`` itself.

    Nested ``$cond`` of ``$in``, not ``$switch``: the embedded engine compiles both
    operators (mongomock would parse ``$switch`` per document), MongoDB runs either.
    A role's name is its Urban Store type, so Urban Store events keep their type.
    Used in group keys where sessions must be distinct per role, not per type.
    """
    expression: Any = field
    for role in reversed(roles):
        expression = {"$cond": [{"$in": [field, list(ROLE_TYPES[role])]}, role.value, expression]}
    return expression
