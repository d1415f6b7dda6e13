"""products (docs/metrics.md, "overview, products, customers, marketing"): per product slug
over a range, its views, carts, purchases, units, revenue and rates, by revenue."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime

from core.errors import BadUserInput
from metrics import dashboard_passes as passes
from metrics import summaries
from metrics.hourly import ProductRevenue
from metrics.ranges import Range
from metrics.rounding import money, percent
from storage.database import Database

MAX_LIMIT = 100
MAX_OFFSET = 10_000


@dataclass(frozen=True, slots=True)
class ProductRow:
    slug: str
    name: str
    views: int
    add_to_cart: int
    purchases: int
    units: int
    revenue: float
    add_to_cart_rate: float
    conversion_rate: float


@dataclass(frozen=True, slots=True)
class ProductsReport:
    start_date: datetime
    end_date: datetime
    total_rows: int
    products: list[ProductRow]


def check_page(limit: int, offset: int) -> None:
    """A page of rows as a view can answer it: 1–100 rows from an offset of at most 10,000."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadUserInput(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise BadUserInput(f"offset must be from 0 to {MAX_OFFSET}", field="offset")


async def products_report(
    database: Database, *, tenant: str, window: Range, limit: int, offset: int, now: datetime
) -> ProductsReport:
    """Slugs with a product_view, add_to_cart or purchase (roles) in ``window``.

    views, addToCart, purchases: events of those roles; units: Σ quantity of
    purchases; revenue: Σ lineValue of purchases (2 decimals); addToCartRate and
    conversionRate: addToCart and purchases over views × 100 (1 decimal, 0 without
    views); name: the latest productName (the slug without one). By revenue
    descending, then slug; ``limit`` rows from ``offset``, ``totalRows`` all of them.
    """
    check_page(limit, offset)
    figures, lines = await asyncio.gather(
        passes.products(database, tenant=tenant, window=window, unique=False, now=now),
        summaries.over_range(
            database, ProductRevenue(), tenant=tenant, low=window.start, high=window.end, now=now
        ),
    )
    rows = [
        ProductRow(
            slug=product.slug,
            name=product.name,
            views=product.views,
            add_to_cart=product.add_to_cart,
            purchases=product.purchases,
            units=product.purchases_units,
            revenue=money(math.fsum(lines.get(product.slug, ()))),
            add_to_cart_rate=percent(product.add_to_cart, product.views),
            conversion_rate=percent(product.purchases, product.views),
        )
        for product in figures
    ]
    rows.sort(key=lambda row: (-row.revenue, row.slug))
    return ProductsReport(
        start_date=window.start,
        end_date=window.end,
        total_rows=len(rows),
        products=rows[offset : offset + limit],
    )
