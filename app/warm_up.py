"""After start-up, the admin page's default views are computed once, in the background.

Hour summaries (``metrics.summaries``) live in the process: after a restart every
view's first run reads its whole range (seconds to tens of seconds on a year of a
busy shop, in a forked reader). So, ``WARM_UP_DELAY_SECONDS`` after the store
opens, the views the admin page opens with (its default range, 30 days, in each
store's own zone) run once for ``default`` and each configured store, one query at
a time: a store owner opening the page afterwards finds them warm, and one opening
it meanwhile shares the reads under way (``summaries.SharedReads``).

The queries go through the schema like any request, as an admin of every store
whose token this process signs for itself and never hands out, with no query
budget. A failing query is logged and the next one runs; the task stops with the
server. ``WARM_UP_VIEWS=false`` turns it off.
"""

from __future__ import annotations

import asyncio
import logging

from strawberry import Schema

from auth.tokens import issue_token
from core.clock import utcnow
from core.settings import Settings
from core.vocabulary import DEFAULT_TENANT
from metrics.tenants import TenantDirectory
from schema.context import Context
from storage.database import Database

log = logging.getLogger(__name__)

WARM_UP_DELAY_SECONDS = 5.0
_KPI = "{ value previous change }"
_ROW = "{ key sessions orders revenue conversionRate }"
_SERIES = "{ total dataPoints { value } previous { total dataPoints { value } } }"
# The views the admin page opens with (app/admin/static/js/panels), over their
# default range, each asking for a field of every pass its panel reads.
QUERIES = (
    f"query ($t: ID) {{ overview(tenantId: $t) {{ revenue {_KPI} orders {_KPI} "
    f"averageOrderValue {_KPI} conversionRate {_KPI} visitors {_KPI} }} }}",
    f"query ($t: ID) {{ revenue: metrics(tenantId: $t, metric: REVENUE, "
    f"compare: PREVIOUS_PERIOD) {_SERIES} orders: metrics(tenantId: $t, metric: ORDERS, "
    f"compare: PREVIOUS_PERIOD) {_SERIES} }}",
    f"query ($t: ID) {{ marketing(tenantId: $t) {{ sources {_ROW} campaigns {_ROW} "
    "whatsapp { clicks sessions ordersAfterClick revenueAfterClick } } }",
    "query ($t: ID) { breakdown(tenantId: $t, metric: SESSIONS, by: CHANNEL) { total } }",
    "query ($t: ID) { funnel(tenantId: $t) { steps { count } } }",
    "query ($t: ID) { products(tenantId: $t) { totalRows products { revenue } } }",
    "query ($t: ID) { customers(tenantId: $t) { newCustomers lifetimeValue "
    "cohorts { retention } } }",
    "query ($t: ID) { dashboardStats(tenantId: $t) { eventCounts { purchase } "
    "conversionRates { visitToCart } abandonmentRate } }",
    "query ($t: ID) { rfm(tenantId: $t) { customers { segment } } }",
    "query ($t: ID) { alerts(tenantId: $t) { type } }",
)


async def warm_up(
    schema: Schema,
    database: Database,
    settings: Settings,
    *,
    secret: str,
    tenants: TenantDirectory,
    delay: float | None = None,
) -> int:
    """Run ``QUERIES`` for ``default`` and each configured store, after ``delay``
    seconds (``WARM_UP_DELAY_SECONDS``); how many answered without errors."""
    await asyncio.sleep(WARM_UP_DELAY_SECONDS if delay is None else delay)
    try:
        configured = await tenants.all()
    except Exception:  # the store unreachable: the views warm up when first asked for
        log.exception("warming the views up: the stores could not be listed")
        return 0
    stores = [DEFAULT_TENANT, *(t.id for t in configured if t.id != DEFAULT_TENANT)]
    token = issue_token(secret, email="warm-up@localhost", admin=True, tenant="*")
    answered = 0
    for store in stores:
        for query in QUERIES:
            context = Context(
                database=database,
                settings=settings,
                jwt_secret=secret,
                now=utcnow(),
                authorization=f"Bearer {token}",
                tenant_directory=tenants,
            )
            try:
                result = await schema.execute(
                    query, variable_values={"t": store}, context_value=context
                )
            except Exception:
                log.exception("warming the views of %r up failed", store)
                continue
            if result.errors:
                log.warning("warming the views of %r up: %s", store, result.errors[0].message)
            else:
                answered += 1
    log.info("views warmed up: %d queries answered, stores %s", answered, ", ".join(stores))
    return answered
