"""The words of the domain: event types, count modes, severities, alert types, segments.

Pipelines and resolvers use these members, never bare strings. The GraphQL
enums in ``schema`` wrap the same classes.
"""

from __future__ import annotations

import re
from enum import StrEnum


class EventType(StrEnum):
    PAGE_VIEW = "page_view"
    PRODUCT_VIEW = "product_view"
    ADD_TO_CART = "add_to_cart"
    BEGIN_CHECKOUT = "begin_checkout"
    PURCHASE = "purchase"
    CHECKOUT_STARTED = "checkout_started"
    PAYMENT_INFO_ENTERED = "payment_info_entered"
    ORDER_COMPLETED = "order_completed"
    PAYMENT_ERROR = "payment_error"
    CHECKOUT_ERROR = "checkout_error"
    PAYMENT_CONFIRMATION_ERROR = "payment_confirmation_error"
    ADDRESS_ERROR = "address_error"
    WHATSAPP_CART_CLICK = "whatsapp_cart_click"
    WHATSAPP_PURCHASE = "whatsapp_purchase"


# Known types have roles in the fixed metrics (core.roles); any other type
# matching this pattern is a custom event: stored, ignored by the fixed metrics.
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")

ERROR_EVENT_TYPES: tuple[EventType, ...] = (
    EventType.PAYMENT_ERROR,
    EventType.CHECKOUT_ERROR,
    EventType.PAYMENT_CONFIRMATION_ERROR,
    EventType.ADDRESS_ERROR,
)

DEFAULT_TENANT = "default"
DIRECT_SOURCE = "direct"
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class CountMode(StrEnum):
    TOTAL = "TOTAL"
    UNIQUE = "UNIQUE"


class TrackStatus(StrEnum):
    OK = "OK"
    DUPLICATE_IGNORED = "DUPLICATE_IGNORED"
    BOT = "BOT"


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    WARNING = "WARNING"
    INFO = "INFO"


class AlertType(StrEnum):
    HIGH_ABANDONMENT = "HIGH_ABANDONMENT"
    POPULAR_NO_CONVERSION = "POPULAR_NO_CONVERSION"
    PAYMENT_ERRORS = "PAYMENT_ERRORS"
    CARTS_ABANDONED = "CARTS_ABANDONED"
    STUCK_SESSIONS = "STUCK_SESSIONS"
    ALL_CLEAR = "ALL_CLEAR"


class RfmSegment(StrEnum):
    VIP = "VIP"
    LOYAL = "LOYAL"
    AT_RISK = "AT_RISK"
    LOST = "LOST"


class Metric(StrEnum):
    """The figures a ``metrics`` series (or a breakdown) can show (docs/metrics.md, Metrics)."""

    REVENUE = "REVENUE"
    NET_REVENUE = "NET_REVENUE"
    ORDERS = "ORDERS"
    AVERAGE_ORDER_VALUE = "AVERAGE_ORDER_VALUE"
    CONVERSION_RATE = "CONVERSION_RATE"
    VISITORS = "VISITORS"
    SESSIONS = "SESSIONS"
    PAGEVIEWS = "PAGEVIEWS"
    PRODUCT_VIEWS = "PRODUCT_VIEWS"
    ADD_TO_CARTS = "ADD_TO_CARTS"
    CHECKOUTS = "CHECKOUTS"
    EVENTS = "EVENTS"
    NEW_CUSTOMERS = "NEW_CUSTOMERS"
    RETURNING_CUSTOMERS = "RETURNING_CUSTOMERS"


class Granularity(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


class Comparison(StrEnum):
    PREVIOUS_PERIOD = "PREVIOUS_PERIOD"
    PREVIOUS_YEAR = "PREVIOUS_YEAR"


class Dimension(StrEnum):
    SOURCE = "SOURCE"
    CHANNEL = "CHANNEL"
    CAMPAIGN = "CAMPAIGN"
    COUNTRY = "COUNTRY"
    DEVICE = "DEVICE"
    BROWSER = "BROWSER"
    OS = "OS"
    PAGE = "PAGE"
    PRODUCT = "PRODUCT"
    EVENT_TYPE = "EVENT_TYPE"
