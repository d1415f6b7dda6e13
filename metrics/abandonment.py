"""Checkout abandonment (docs/metrics.md: dashboardStats ``abandonmentRate``, HIGH_ABANDONMENT).

Counted over *identifiers* (``userId`` if not null, else ``sessionId``), so a
logged-in shopper who begins checkout on the phone and buys on the laptop is
one identifier that did not abandon. The dashboard passes its calendar window
and the alert rule its rolling 24 hours; both read the same numbers from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.roles import Role, in_roles, role_flag
from metrics.filters import PEOPLE
from metrics.rounding import percent
from storage.database import Database, Pipeline
from storage.documents import EVENTS


@dataclass(frozen=True, slots=True)
class Abandonment:
    """Identifiers that began checkout, those of them that did not buy, and the percentage."""

    checkouts: int
    abandoned: int
    rate: float


# Index (tenantId, eventType, createdAt); the begin_checkout and purchase roles'
# types; createdAt from match_range ($gte start, $lt end, UTC instants). Two
# groups: per identifier first (did it check out, did it buy), then one document
# of totals; the second group sees one row per identifier, not per event.
def abandonment_pipeline(*, tenant: str, match_range: dict[str, datetime]) -> Pipeline:
    match = {
        "$match": {
            "tenantId": tenant,
            "createdAt": match_range,
            "eventType": in_roles([Role.BEGIN_CHECKOUT, Role.PURCHASE]),
            **PEOPLE,
        }
    }
    per_identifier = {
        "$group": {
            "_id": {"$ifNull": ["$userId", "$sessionId"]},
            "checkedOut": {"$max": role_flag(Role.BEGIN_CHECKOUT)},
            "purchased": {"$max": role_flag(Role.PURCHASE)},
        }
    }
    totals = {
        "$group": {
            "_id": None,
            "checkouts": {"$sum": "$checkedOut"},
            # checkedOut 1 and purchased 0: began checkout, never bought.
            "abandoned": {"$sum": {"$cond": [{"$gt": ["$checkedOut", "$purchased"]}, 1, 0]}},
        }
    }
    return [match, per_identifier, totals]


async def abandonment(
    database: Database, *, tenant: str, match_range: dict[str, datetime]
) -> Abandonment:
    """Checkout abandonment of ``tenant`` in ``match_range``.

    checkouts = identifiers with a ``begin_checkout`` (role) in the range;
    abandoned = those of them with no ``purchase`` (role) in the range; rate = abandoned /
    checkouts × 100, 1 decimal, 0 without checkouts. The range is a
    ``createdAt`` condition of UTC instants (``window.match_range``): start
    inclusive, end exclusive; it carries no zone of its own.
    """
    rows = await database.run_pipeline(
        EVENTS, abandonment_pipeline(tenant=tenant, match_range=match_range)
    )
    if not rows:
        return Abandonment(checkouts=0, abandoned=0, rate=0.0)
    checkouts, abandoned = int(rows[0]["checkouts"]), int(rows[0]["abandoned"])
    return Abandonment(checkouts=checkouts, abandoned=abandoned, rate=percent(abandoned, checkouts))
