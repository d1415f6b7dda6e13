"""Alert rules (docs/metrics.md, alerts): rolling windows before the request time.

Each rule is one database pass (``metrics.alert_rules`` builds the pipelines,
``metrics.abandonment`` the checkout one); the passes are independent, so they
run concurrently. Rules are reported in docs/metrics.md order; when none fires the
answer is a single ALL_CLEAR. Messages come in English and Spanish.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from core.clock import to_aware_utc
from core.vocabulary import AlertType, Severity
from metrics import alert_rules as rules
from metrics.abandonment import Abandonment, abandonment
from metrics.windows import rolling
from storage.database import Database

MESSAGES: dict[str, dict[AlertType, str]] = {
    "en": {
        AlertType.HIGH_ABANDONMENT: "Checkout abandonment of {rate:.1f}% in the last 24h "
        "({abandoned} of {checkouts} checkouts)",
        AlertType.POPULAR_NO_CONVERSION: 'Product "{slug}" had {views} unique views '
        "without any purchase in 7 days",
        AlertType.PAYMENT_ERRORS: "{n} payment errors detected in the last hour",
        AlertType.CARTS_ABANDONED: "{n} carts did not start checkout in the last 6h",
        AlertType.STUCK_SESSIONS: "{n} sessions with more than 15 events in 24h "
        "without completing a purchase",
        AlertType.ALL_CLEAR: "No anomalies detected at this time.",
    },
    "es": {
        AlertType.HIGH_ABANDONMENT: "Tasa de abandono del {rate:.1f}% en las últimas 24h "
        "({abandoned} de {checkouts} checkouts)",
        AlertType.POPULAR_NO_CONVERSION: 'Producto "{slug}" tuvo {views} vistas únicas '
        "sin ninguna compra en 7 días",
        AlertType.PAYMENT_ERRORS: "Se detectaron {n} errores de pago en la última hora",
        AlertType.CARTS_ABANDONED: "{n} carritos no iniciaron checkout en las últimas 6h",
        AlertType.STUCK_SESSIONS: "{n} sesiones con más de 15 eventos en 24h sin completar compra",
        AlertType.ALL_CLEAR: "No se detectaron anomalías en este momento.",
    },
}


@dataclass(frozen=True, slots=True)
class AlertResult:
    type: AlertType
    severity: Severity
    message: str
    timestamp: datetime  # aware UTC: the request time
    value: float | None
    product_slug: str | None


async def alerts(database: Database, *, tenant: str, now: datetime, lang: str) -> list[AlertResult]:
    """The alerts of ``tenant`` at ``now``, messages in ``lang`` ("en" or "es").

    Windows are rolling, in UTC instants (start inclusive, end exclusive) — no
    calendar days, so no zone. In order, each rule that fires adds alerts:

    * HIGH_ABANDONMENT (CRITICAL), last 24 h: ≥ 3 identifiers began checkout and
      the dashboard's abandonment rate (%, 1 decimal) is > 70; value = rate.
    * POPULAR_NO_CONVERSION (WARNING), last 7 × 24 h: one per slug viewed by
      > 10 distinct sessions and never purchased; by views desc, then slug;
      value = distinct viewing sessions.
    * PAYMENT_ERRORS (CRITICAL), last hour: ≥ 1 payment_error; value = events.
    * CARTS_ABANDONED (WARNING), last 6 h: ≥ 5 sessions with add_to_cart and no
      begin_checkout; value = those sessions.
    * STUCK_SESSIONS (INFO), last 24 h: ≥ 1 session with > 15 events (any type)
      and no purchase; value = those sessions.

    None fires: a single ALL_CLEAR (INFO, value null). Five pipelines, run
    concurrently.
    """
    texts = MESSAGES[lang]
    day = rolling(now, hours=rules.ABANDONMENT_HOURS)
    checkout, unconverted, payment_errors, carts, stuck = await asyncio.gather(
        abandonment(database, tenant=tenant, low=day.start, high=day.end, now=now),
        rules.unconverted_products(database, tenant=tenant, now=now),
        rules.payment_errors(database, tenant=tenant, now=now),
        rules.abandoned_carts(database, tenant=tenant, now=now),
        rules.stuck_sessions(database, tenant=tenant, now=now),
    )
    timestamp = to_aware_utc(now)

    def alert(
        kind: AlertType,
        severity: Severity,
        value: float | None,
        product_slug: str | None = None,
        **words: object,
    ) -> AlertResult:
        return AlertResult(
            type=kind,
            severity=severity,
            message=texts[kind].format(**words),
            timestamp=timestamp,
            value=value,
            product_slug=product_slug,
        )

    fired: list[AlertResult] = []
    if _high_abandonment(checkout):
        fired.append(
            alert(
                AlertType.HIGH_ABANDONMENT,
                Severity.CRITICAL,
                checkout.rate,
                rate=checkout.rate,
                abandoned=checkout.abandoned,
                checkouts=checkout.checkouts,
            )
        )
    for product in unconverted:
        fired.append(
            alert(
                AlertType.POPULAR_NO_CONVERSION,
                Severity.WARNING,
                float(product.views),
                product_slug=product.slug,
                slug=product.slug,
                views=product.views,
            )
        )
    if payment_errors >= rules.MIN_PAYMENT_ERRORS:
        fired.append(
            alert(
                AlertType.PAYMENT_ERRORS, Severity.CRITICAL, float(payment_errors), n=payment_errors
            )
        )
    if carts >= rules.MIN_ABANDONED_CARTS:
        fired.append(alert(AlertType.CARTS_ABANDONED, Severity.WARNING, float(carts), n=carts))
    if stuck >= rules.MIN_STUCK_SESSIONS:
        fired.append(alert(AlertType.STUCK_SESSIONS, Severity.INFO, float(stuck), n=stuck))
    return fired or [alert(AlertType.ALL_CLEAR, Severity.INFO, None)]


def _high_abandonment(checkout: Abandonment) -> bool:
    # The rate compared is the dashboard's, already rounded to 1 decimal, so an
    # alert never shows "70.0%" as being above 70.
    return (
        checkout.checkouts >= rules.MIN_ABANDONMENT_CHECKOUTS
        and checkout.rate > rules.MAX_ABANDONMENT_RATE
    )
