"""metrics.customer_report: new and returning buyers, lifetime value and cohorts, hand-counted.

    u1  purchase 05-20 10.00      purchase 07-02 20.00
    u2  purchase 06-05  5.00      purchase 08-01 03:00 UTC 7.00 (07-31 in Bogotá)
    u3  purchase 06-20  1.00      purchase 08-03  2.00
    anonymous purchase 06-10 50.00 (no userId: not a customer)

Range: 2026-06-01 to 07-31 (dates); now 2026-08-10 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from metrics.customer_report import Cohort, customers_report
from metrics.ranges import parse_range
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import event, store

NOW = datetime(2026, 8, 10, 12, tzinfo=UTC)


def bought(user: str | None, month: int, day: int, price: float, hour: int = 12) -> EventDocument:
    at = datetime(2026, month, day, hour, tzinfo=UTC)
    return event("purchase", at=at, session=f"{user}-{month}-{day}", user=user, price=price)


@pytest.mark.parametrize(
    ("zone", "retention"),
    [
        ("UTC", [0.0, 100.0]),  # July: only u1 (not of the cohort); August: u2 and u3
        ("America/Bogota", [50.0, 50.0]),  # u2's 08-01 03:00 UTC is 07-31 in Bogotá
    ],
)
async def test_new_returning_lifetime_value_and_cohorts(
    database: EmbeddedDatabase, zone: str, retention: list[float]
) -> None:
    await store(
        database,
        bought("u1", 5, 20, 10.0),
        bought("u1", 7, 2, 20.0),
        bought("u2", 6, 5, 5.0),
        bought("u2", 8, 1, 7.0, hour=3),
        bought("u3", 6, 20, 1.0),
        bought("u3", 8, 3, 2.0),
        bought(None, 6, 10, 50.0),
    )
    window = parse_range(
        None, date(2026, 6, 1), date(2026, 7, 31), now=NOW, zone=ZoneInfo(zone), retention_days=365
    )
    report = await customers_report(database, tenant="default", window=window, now=NOW)
    # Buyers in the range: u2 and u3 (first purchase in it: new), u1 (first in May:
    # returning). Lifetime: u1 30, u2 12, u3 3 → 15.
    assert (report.new_customers, report.returning_customers) == (2, 1)
    assert report.lifetime_value == 15.0
    # One cohort, June (u2, u3); retention for July, then August (the current month).
    assert report.cohorts == [Cohort(cohort=date(2026, 6, 1), customers=2, retention=retention)]


async def test_no_buyers_no_cohorts(database: EmbeddedDatabase) -> None:
    window = parse_range("30d", None, None, now=NOW, zone=ZoneInfo("UTC"), retention_days=365)
    report = await customers_report(database, tenant="default", window=window, now=NOW)
    assert (report.new_customers, report.returning_customers, report.lifetime_value) == (0, 0, 0.0)
    assert report.cohorts == []
