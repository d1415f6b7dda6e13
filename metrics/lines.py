"""An order line as every metric counts it, within the bounds ingest enforces.

``lineValue(e) = price × quantity(e)`` (``docs/metrics.md``, Events). Ingest refuses a
price above ``MAX_PRICE`` and a quantity above ``MAX_QUANTITY``; pipelines still cap
what they read at the same bounds, so a document stored before the bounds existed
(or written by another tool) counts as the largest accepted line instead of breaking
a view: sums stay finite (≤ 10^18 per line) and exact enough to round.
"""

from __future__ import annotations

from typing import Any

MAX_PRICE = 10**12
MAX_QUANTITY = 10**6

# $ifNull first: $min ignores nulls, so a missing field must get its default before
# the cap (a missing quantity is 1, a missing price 0: docs/metrics.md, Events).
QUANTITY: dict[str, Any] = {"$min": [{"$ifNull": ["$quantity", 1]}, MAX_QUANTITY]}
PRICE: dict[str, Any] = {"$min": [{"$ifNull": ["$price", 0]}, MAX_PRICE]}
LINE_VALUE: dict[str, Any] = {"$multiply": [PRICE, QUANTITY]}
