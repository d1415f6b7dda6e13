"""landingStats and todayStats through the schema: shapes, the tenant's zone, access."""

from __future__ import annotations

import pytest

from storage.embedded import EmbeddedDatabase
from tests.conftest import Run, store, token
from tests.test_metrics_landing import TENANT, fixture

LANDING = """query($t: ID, $z: String) { landingStats(tenantId: $t, timezone: $z) {
  startDate endDate visitorsToday visitorsWeek whatsappClicks callClicks currencyToggles
  qrScans productClicks avgTimeOnPage last7Days { date visitors } } }"""
TODAY = """query($t: ID, $z: String) { todayStats(tenantId: $t, timezone: $z) {
  visitorsToday whatsappClicks qrScans productsViewed } }"""
UPSERT = """mutation($id: ID!, $input: TenantInput!) {
  upsertTenant(id: $id, input: $input) { timezone } }"""

BOGOTA_WEEK = {
    "startDate": "2026-06-09T05:00:00+00:00",
    "endDate": "2026-06-15T12:00:00+00:00",
    "visitorsToday": 1,
    "visitorsWeek": 3,
    "whatsappClicks": 3,
    "callClicks": 1,
    "currencyToggles": 2,
    "qrScans": 1,
    "productClicks": 3,
    "avgTimeOnPage": 31.8,
    "last7Days": [
        {"date": "2026-06-09", "visitors": 1},
        {"date": "2026-06-10", "visitors": 0},
        {"date": "2026-06-11", "visitors": 0},
        {"date": "2026-06-12", "visitors": 0},
        {"date": "2026-06-13", "visitors": 0},
        {"date": "2026-06-14", "visitors": 2},
        {"date": "2026-06-15", "visitors": 1},
    ],
}
BOGOTA_TODAY = {"visitorsToday": 1, "whatsappClicks": 1, "qrScans": 1, "productsViewed": 2}


async def test_landing_and_today_stats_in_the_query_zone(
    run: Run, database: EmbeddedDatabase
) -> None:
    await store(database, *fixture())
    variables = {"t": TENANT, "z": "America/Bogota"}
    week = await run(LANDING, variables)
    assert week.errors is None
    assert week.data == {"landingStats": BOGOTA_WEEK}
    today = await run(TODAY, variables)
    assert today.data == {"todayStats": BOGOTA_TODAY}


async def test_the_tenant_zone_is_the_default(run: Run, database: EmbeddedDatabase) -> None:
    await store(database, *fixture())
    utc = await run(LANDING, {"t": TENANT})
    assert utc.data["landingStats"]["startDate"] == "2026-06-09T00:00:00+00:00"
    assert utc.data["landingStats"]["visitorsToday"] == 2  # s3 at 04:59 UTC is today in UTC
    # An integer id (seed 004) names the same tenant as its decimal string.
    changed = await run(UPSERT, {"id": 42, "input": {"timezone": "America/Bogota"}})
    assert changed.errors is None
    assert (await run(LANDING, {"t": TENANT})).data == {"landingStats": BOGOTA_WEEK}
    assert (await run(TODAY, {"t": TENANT})).data == {"todayStats": BOGOTA_TODAY}


@pytest.mark.parametrize("query", [LANDING, TODAY])
async def test_admins_of_the_tenant_only(run: Run, query: str) -> None:
    anonymous = await run(query, {"t": TENANT}, authorization=None)
    assert anonymous.errors[0].extensions["code"] == "UNAUTHENTICATED"
    other = await run(query, {"t": TENANT}, authorization=f"Bearer {token(tenant='43')}")
    assert other.errors[0].extensions["code"] == "FORBIDDEN"
    shopper = await run(query, {"t": TENANT}, authorization=f"Bearer {token(admin=False)}")
    assert shopper.errors[0].extensions["code"] == "FORBIDDEN"
    scoped = await run(query, {"t": TENANT}, authorization=f"Bearer {token(tenant=TENANT)}")
    assert scoped.errors is None
    bad_zone = await run(query, {"t": TENANT, "z": "Mars/Olympus"})
    assert bad_zone.errors[0].extensions["code"] == "BAD_USER_INPUT"
