"""The query budget (schema.cost, core.budget): each admin field's declared cost, the
``extensions.cost`` of every answer, and a refilling per-token, per-tenant budget that
refuses an operation before it runs. Through the real ASGI app, on a clock of the test's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import core.budget
from app.http import create_app
from core.budget import QueryBudgets
from core.errors import ConfigError
from core.settings import load_settings
from schema import build_schema
from schema.cost import field_cost
from storage.embedded import EmbeddedDatabase
from tests.conftest import FREE, SECRET, cost, event, store, token

GRAPHQL_RESPONSE = "application/graphql-response+json"
DASHBOARD = "{ dashboardStats { mode } }"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(core.budget, "monotonic", fake)
    return fake


async def client_with(
    tmp_path: Path, database: EmbeddedDatabase, **env: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings({"DATA_DIR": str(tmp_path / "data"), "JWT_SECRET": SECRET, **env})
    transport = httpx.ASGITransport(app=create_app(settings, database=database))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def small(
    tmp_path: Path, database: EmbeddedDatabase, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    """Budgets of 10 points that refill 1 point a second."""
    async for http in client_with(
        tmp_path, database, QUERY_BUDGET_POINTS="10", QUERY_BUDGET_REFILL_PER_SECOND="1"
    ):
        yield http


async def ask(
    client: httpx.AsyncClient,
    query: str,
    *,
    bearer: str | None = None,
    accept: str = GRAPHQL_RESPONSE,
    variables: dict[str, Any] | None = None,
) -> httpx.Response:
    headers = {"Accept": accept}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


def spent(response: httpx.Response) -> tuple[int, int | None]:
    found = response.json()["extensions"]["cost"]
    return found["requested"], found["budgetRemaining"]


# ---------------------------------------------------------------- declared costs


def test_every_admin_field_declares_its_cost_in_the_sdl_and_its_description() -> None:
    schema = build_schema()
    graphql = schema._schema
    sdl = str(schema)
    assert "directive @cost(points: Int!) on FIELD_DEFINITION" in sdl
    declared = {}
    for root in (graphql.query_type, graphql.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            admin = "@admin" in str(field.ast_node) or "Admin only." in (field.description or "")
            if not admin:
                assert field_cost(field) == 0, name
                continue
            points = field_cost(field)
            unit = "point" if points == 1 else "points"
            assert (field.description or "").endswith(
                f"Cost: {points} {unit} of the query budget."
            ), name
            declared[name] = points
    # A raw scan of events costs more than a pass over summaries; imports spend nothing.
    assert declared["events"] == declared["rfm"] == 10
    assert declared["metrics"] == 2 and declared["dashboardStats"] == 3
    assert declared["importEvents"] == 0 and declared["tenants"] == 1
    assert len(declared) == 16


# ---------------------------------------------------------------- budgets, in isolation


def test_a_budget_refills_per_second_up_to_its_capacity() -> None:
    clock = Clock()
    budgets = QueryBudgets(10, 2, clock=clock)
    assert budgets.spend({"a": 7}) == core.budget.Spending(True, 3)
    refused = budgets.spend({"a": 8})  # holds 3, short of 5 at 2 a second: 2.5 s → 3
    assert refused == core.budget.Spending(False, 3, 3)
    clock.now += 2.5
    assert budgets.spend({"a": 8}) == core.budget.Spending(True, 0)
    clock.now += 1000
    assert budgets.level("a") == 10  # never above capacity


def test_spending_from_several_budgets_is_all_or_none() -> None:
    clock = Clock()
    budgets = QueryBudgets(10, 1, clock=clock)
    budgets.spend({"a": 9})
    refused = budgets.spend({"a": 2, "b": 2})
    assert (refused.granted, refused.remaining, refused.retry_after) == (False, 1, 1)
    assert budgets.level("b") == 10  # b paid nothing for the refused operation
    granted = budgets.spend({"a": 1, "b": 4})
    assert (granted.granted, granted.remaining) == (True, 0)  # the lowest of the two


def test_full_budgets_are_forgotten_first_then_the_least_recently_used() -> None:
    clock = Clock()
    budgets = QueryBudgets(10, 1, clock=clock, max_budgets=10)
    for key in range(10):
        budgets.spend({key: 5})
    clock.now += 5  # 0..9 are full again
    budgets.spend({"x": 10})
    assert len(budgets) == 1  # 11 held: the ten full ones were forgotten
    budgets.spend({"y": 10})
    budgets.spend({"z": 10})
    for key in range(20, 28):
        budgets.spend({key: 10})
    # 11 held, none full: the least recently used go, down to 9.
    assert len(budgets) == 9
    assert budgets.level("x") == 10 and budgets.level("y") == 10  # forgotten: full again
    assert budgets.level("z") == 0 and budgets.level(27) == 0


def test_the_settings_refuse_a_negative_budget(tmp_path: Path) -> None:
    base = {"DATA_DIR": str(tmp_path), "JWT_SECRET": SECRET}
    with pytest.raises(ConfigError, match="QUERY_BUDGET_POINTS"):
        load_settings({**base, "QUERY_BUDGET_POINTS": "-1"})
    with pytest.raises(ConfigError, match="QUERY_BUDGET_REFILL_PER_SECOND"):
        load_settings({**base, "QUERY_BUDGET_REFILL_PER_SECOND": "nan"})
    assert not load_settings({**base, "QUERY_BUDGET_POINTS": "0"}).query_budget
    assert load_settings(base).query_budget


# ---------------------------------------------------------------- extensions.cost


async def test_the_cost_is_each_response_key_once_with_fragments_and_skip(
    small: httpx.AsyncClient, clock: Clock
) -> None:
    admin = token(tenant="*")
    twice = "{ dashboardStats { mode } dashboardStats { totalSales } }"  # merged: runs once
    assert spent(await ask(small, twice, bearer=admin)) == (3, 7)
    clock.now += 100
    document = """query($off: Boolean!) {
      a: dashboardStats { mode } b: dashboardStats { mode }
      ...F
      ... on Query { tenants { id } }
      alerts @skip(if: true) { type }
      funnel @include(if: $off) { steps { step } }
    }
    fragment F on Query { landingStats { visitorsToday } todayStats { visitorsToday } ...F2 }
    fragment F2 on Query { tenants { id } }"""
    # 3 + 3 + 2 + 1 from the default tenant's budget, 1 (tenants, once: one response key)
    # from the token's every-tenant budget; alerts and funnel left out.
    response = await ask(small, document, bearer=admin, variables={"off": False})
    assert response.status_code == 200, response.text
    assert spent(response) == (10, 1)


async def test_public_answers_and_errors_before_execution_cost_nothing(
    small: httpx.AsyncClient,
) -> None:
    track = 'mutation { trackEvent(input: {eventType: "page_view"}) { status } }'
    for _ in range(2):  # the second answer comes from the tracking fast path
        tracked = await ask(small, track)
        assert tracked.json() == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}
    syntax = await ask(small, "{ dashboardStats { mode }", bearer=token(tenant="*"))
    assert syntax.status_code == 400 and syntax.json()["extensions"] == FREE
    coercion = await ask(
        small, "query($t: ID) { dashboardStats(tenantId: $t) { mode } }",
        bearer=token(tenant="*"), variables={"t": {"no": 1}},
    )  # fmt: skip
    assert coercion.status_code == 400 and coercion.json()["extensions"] == FREE
    # Nothing was spent: the whole budget is still there.
    assert spent(await ask(small, DASHBOARD, bearer=token(tenant="*"))) == (3, 7)


async def test_a_field_its_permission_refuses_spends_nothing(small: httpx.AsyncClient) -> None:
    anonymous = await ask(small, DASHBOARD)
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert spent(anonymous) == (3, None)
    shopper = await ask(small, DASHBOARD, bearer=token(admin=False))
    assert shopper.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    outside = token(tenant="shop1")
    elsewhere = await ask(small, '{ dashboardStats(tenantId: "shop2") { mode } }', bearer=outside)
    assert elsewhere.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert spent(elsewhere) == (3, None)
    hostile = await ask(
        small, "query($t: ID) { dashboardStats(tenantId: $t) { mode } }",
        bearer=outside, variables={"t": "x" * 5000},
    )  # fmt: skip
    assert hostile.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert spent(hostile) == (3, None)
    mine = await ask(small, '{ dashboardStats(tenantId: "shop1") { mode } }', bearer=outside)
    assert spent(mine) == (3, 7)


# ---------------------------------------------------------------- refusals


async def test_over_budget_is_refused_before_it_runs_with_retry_after(
    small: httpx.AsyncClient, clock: Clock, database: EmbeddedDatabase
) -> None:
    admin = token(tenant="*")
    rfm = await ask(small, "{ rfm { customers { visitorId } } }", bearer=admin)
    assert rfm.json() == {"data": {"rfm": {"customers": []}}, "extensions": cost(10, 0)}
    clock.now += 1.5  # 1.5 points back: dashboardStats (3) needs 1.5 s more → 2
    refused = await ask(small, DASHBOARD, bearer=admin)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    body = refused.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 2}
    assert "costs 3 points" in error["message"] and "in 2 s" in error["message"]
    assert body["extensions"] == cost(3, 1)
    # application/json: the same answer with 200 (GraphQL over HTTP), and Retry-After.
    legacy = await ask(small, DASHBOARD, bearer=admin, accept="application/json")
    assert (legacy.status_code, legacy.headers["retry-after"]) == (200, "2")
    assert legacy.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # The refusals spent nothing: after 1.5 s more the budget holds 3 exactly.
    clock.now += 1.5
    assert spent(await ask(small, DASHBOARD, bearer=admin)) == (3, 0)


async def test_budgets_are_per_token_and_per_tenant(small: httpx.AsyncClient) -> None:
    both = token(tenant="*")
    for tenant in ("shop1", "shop1", "shop1"):
        query = f'{{ dashboardStats(tenantId: "{tenant}") {{ mode }} }}'
        assert (await ask(small, query, bearer=both)).status_code == 200
    shop1 = '{ dashboardStats(tenantId: "shop1") { mode } }'
    assert (await ask(small, shop1, bearer=both)).status_code == 429  # 1 point left
    shop2 = await ask(small, '{ dashboardStats(tenantId: "shop2") { mode } }', bearer=both)
    assert spent(shop2) == (3, 7)
    other_token = token(tenant="*", email="other@example.com")
    assert spent(await ask(small, shop1, bearer=other_token)) == (3, 7)
    # One document reading two tenants: each pays its part; the lowest balance is shown.
    two = (
        '{ a: dashboardStats(tenantId: "shop2") { mode } '
        'b: rfm(tenantId: "shop3") { customers { visitorId } } }'
    )
    assert spent(await ask(small, two, bearer=both)) == (13, 0)
    # shop1 is short, so nothing runs and the every-tenant budget (tenants) pays nothing.
    refused = await ask(small, "{ tenants { id } " + shop1[1:], bearer=both)
    assert refused.status_code == 429 and spent(refused) == (4, 1)
    assert spent(await ask(small, "{ tenants { id } }", bearer=both)) == (1, 9)


async def test_an_operation_costing_more_than_a_budget_holds_is_bad_input(
    small: httpx.AsyncClient,
) -> None:
    query = "{ a: rfm { customers { visitorId } } b: events { pageInfo { hasNextPage } } }"
    response = await ask(small, query, bearer=token(tenant="*"))
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "costs 20 points" in error["message"] and "at most 10" in error["message"]
    assert spent(await ask(small, DASHBOARD, bearer=token(tenant="*"))) == (3, 7)


async def test_no_budget_when_it_is_off(tmp_path: Path, database: EmbeddedDatabase) -> None:
    async for off in client_with(tmp_path, database, QUERY_BUDGET_POINTS="0"):
        for _ in range(3):
            response = await ask(
                off, "{ rfm { customers { visitorId } } }", bearer=token(tenant="*")
            )
            assert response.json()["extensions"] == cost(10, None)


# ---------------------------------------------------------------- other routes


async def test_a_csv_download_pays_once_and_the_next_one_waits(
    small: httpx.AsyncClient, database: EmbeddedDatabase, clock: Clock
) -> None:
    start = datetime(2026, 6, 10, tzinfo=UTC)
    await store(
        database,
        *(
            event("page_view", at=start + timedelta(seconds=i), session=f"s{i}")
            for i in range(2500)
        ),
    )
    headers = {"Authorization": f"Bearer {token(tenant='*')}"}
    path = "/export/events.csv?start=2026-06-10&end=2026-06-10"
    whole = await small.get(path, headers=headers)
    assert whole.status_code == 200
    assert len(whole.text.splitlines()) == 2501  # three pages, for 10 points
    again = await small.get(path, headers=headers)
    assert again.status_code == 429 and again.headers["retry-after"] == "10"
    assert again.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 10}
    clock.now += 10
    assert (await small.get(path, headers=headers)).status_code == 200


async def test_a_rest_view_over_budget_answers_429(small: httpx.AsyncClient, clock: Clock) -> None:
    headers = {"Authorization": f"Bearer {token()}"}
    path = "/api/analytics/rfm/"
    assert (await small.get(path, headers=headers)).status_code == 200
    refused = await small.get(path, headers=headers)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "10"
