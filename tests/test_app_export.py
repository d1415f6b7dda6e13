"""GET /export/events.csv through the real ASGI app: the same range, filters and access as
the events connection, streamed across pages, quoted and guarded against formulas."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.export_routes import COLUMNS, cell
from storage.embedded import EmbeddedDatabase
from tests.conftest import event, store, token
from tests.test_metrics_series import shop

DAYS = "start=2026-06-10&end=2026-06-12"


async def download(
    client: httpx.AsyncClient, query: str, bearer: str | None = None
) -> httpx.Response:
    bearer = token(tenant="*") if bearer is None else bearer
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return await client.get(f"/export/events.csv?{query}", headers=headers)


def table(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_a_range_as_csv(client: httpx.AsyncClient, database: EmbeddedDatabase) -> None:
    await store(database, *shop())
    response = await download(client, DAYS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="events.csv"'
    assert response.text.splitlines()[0] == ",".join(COLUMNS)
    rows = table(response)
    assert [(r["sessionId"], r["eventType"]) for r in rows] == [
        ("s1", "page_view"),
        ("s1", "product_view"),
        ("s1", "purchase"),
        ("s1", "purchase"),
        ("s2", "page_view"),
        ("s2", "purchase"),
        ("s3", "page_view"),
        ("s3", "purchase"),
        ("s3", "order.refunded"),
    ]
    purchase = rows[2]
    assert (purchase["price"], purchase["quantity"], purchase["orderId"]) == ("10.0", "2", "o1")
    assert purchase["createdAt"] == "2026-06-10T09:10:00+00:00"
    assert purchase["metadata"] == '{"quantity":2,"order_id":"o1"}'
    assert purchase["userId"] == "ana@x" and purchase["visitorId"] == "v1"
    google = table(await download(client, f"{DAYS}&source=google"))
    assert len(google) == 4
    purchases = table(await download(client, f"{DAYS}&eventType=purchase"))
    assert [r["price"] for r in purchases] == ["10.0", "5.0", "7.5", "3.0"]


async def test_many_pages_stream_in_order_without_repeats(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    start = datetime(2026, 6, 10, tzinfo=UTC)
    docs = [
        event("page_view", at=start + timedelta(seconds=n // 3), session=f"p{n}")
        for n in range(2_500)
    ]
    await store(database, *docs)
    rows = table(await download(client, DAYS))
    assert len(rows) == 2_500
    assert len({row["id"] for row in rows}) == 2_500
    times = [row["createdAt"] for row in rows]
    assert times == sorted(times)


async def test_formulas_are_shown_not_run_and_odd_text_round_trips(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    names = ['=HYPERLINK("http://evil")', "+1", "-2", "@cmd", 'comma, "quote"\nnewline', "ñandú ☃"]
    at = datetime(2026, 6, 10, 9, tzinfo=UTC)
    await store(
        database,
        *(
            event("product_view", at=at, session=f"x{i}", slug="a", name=n)
            for i, n in enumerate(names)
        ),
    )
    rows = table(await download(client, DAYS))
    assert sorted(row["productName"] for row in rows) == sorted(cell(n) for n in names)
    assert '\'=HYPERLINK("http://evil")' in [row["productName"] for row in rows]
    assert 'comma, "quote"\nnewline' in [row["productName"] for row in rows]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        (f"{DAYS}&color=red", 400, "BAD_REQUEST"),
        (f"{DAYS}&source=a&source=b", 400, "BAD_REQUEST"),
        ("period=7d&start=2026-06-10", 400, "BAD_USER_INPUT"),
        ("period=forever", 400, "BAD_USER_INPUT"),
        ("start=yesterday", 400, "BAD_USER_INPUT"),
        ("timezone=Mars/Olympus", 400, "BAD_USER_INPUT"),
    ],
)
async def test_bad_parameters_are_answered_before_any_csv(
    client: httpx.AsyncClient, query: str, status: int, code: str
) -> None:
    response = await download(client, query)
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("bearer", "status"),
    [
        ("", 401),  # no token
        ("not-a-jwt", 401),
        (None, 200),  # the fixture's admin of every tenant
    ],
)
async def test_admins_only(client: httpx.AsyncClient, bearer: str | None, status: int) -> None:
    response = await download(client, DAYS, bearer=bearer)
    assert response.status_code == status, response.text


async def test_a_token_of_another_tenant_is_forbidden(client: httpx.AsyncClient) -> None:
    response = await download(client, DAYS, bearer=token(tenant="shop2"))
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
