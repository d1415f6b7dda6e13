"""app.warm_up: the admin page's default views computed once after start-up."""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app import warm_up as warming
from app.http import create_app
from core.clock import utcnow
from core.settings import Settings, load_settings
from metrics import summaries
from metrics.tenants import TenantChanges, TenantDirectory
from schema import build_schema
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import SECRET, TestClient, event, store

TYPES = ("page_view", "product_view", "add_to_cart", "begin_checkout", "purchase")


def history(tenant: str, seed: int) -> list[EventDocument]:
    """Sessions over the last 40 days (the default range and some of the one before)."""
    rng = random.Random(seed)
    now = utcnow()
    docs = []
    for number in range(120):
        at = now - timedelta(days=40) + timedelta(seconds=rng.randrange(40 * 86400 - 900))
        for step in TYPES[: rng.randint(1, len(TYPES))]:
            docs.append(
                event(step, at=at, session=f"{tenant}-{number}", tenant=tenant, slug="tee",
                      price=10.0, order=f"o{number}" if step == "purchase" else None,
                      user="ana@x" if step == "purchase" else None)
            )  # fmt: skip
            at += timedelta(seconds=rng.randrange(1, 120))
    return docs


async def warmed(database: EmbeddedDatabase, settings: Settings) -> int:
    return await warming.warm_up(
        build_schema(),
        database,
        settings,
        secret=SECRET,
        tenants=TenantDirectory(database, settings),
        delay=0,
    )


async def test_the_default_views_of_each_store_are_warm_afterwards(
    tmp_path: Path, settings: Settings
) -> None:
    views = len(warming.QUERIES)
    ran: list[int] = []
    for warm in (False, True):
        database = await EmbeddedDatabase.open(tmp_path / f"warm-{warm}", fsync_seconds=0)
        await store(database, *history("default", 1), *history("shop", 2))
        await TenantDirectory(database, settings).upsert("shop", TenantChanges(name="Shop"))
        if warm:
            assert await warmed(database, settings) == 2 * views  # default and shop
            assert len(summaries.cache_of(database)) > 0
        cache = summaries.cache_of(database)
        before = cache.misses
        assert await warmed(database, settings) == 2 * views  # the page, opened now
        ran.append(cache.misses - before)
        await database.close()
    cold, warm = ran
    # Warm, the views find their hours and spans kept (a slice that settled
    # between the two runs may be new): cold, they computed hundreds.
    assert cold > 1000 and warm <= cold / 100, ran


async def test_a_failing_query_is_logged_and_the_rest_run(
    database: EmbeddedDatabase,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = 'query ($t: ID) { funnel(tenantId: $t, steps: ["only_one"]) { steps { count } } }'
    monkeypatch.setattr(warming, "QUERIES", (broken, *warming.QUERIES[:2]))
    with caplog.at_level(logging.WARNING, logger="app.warm_up"):
        assert await warmed(database, settings) == 2
    assert "warming the views of 'default' up" in caplog.text


async def test_a_store_that_cannot_list_its_tenants_is_logged_not_raised(
    database: EmbeddedDatabase,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def down() -> None:
        raise ConnectionError("no server")

    monkeypatch.setattr(database, "tenants", down)
    with caplog.at_level(logging.ERROR, logger="app.warm_up"):
        assert await warmed(database, settings) == 0
    assert "the stores could not be listed" in caplog.text


def wait_for(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("enabled", [True, False])
def test_the_server_warms_up_after_start_unless_told_not_to(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    enabled: bool,
) -> None:
    monkeypatch.setattr(warming, "WARM_UP_DELAY_SECONDS", 0.05)
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "JWT_SECRET": SECRET,
            "WARM_UP_VIEWS": "true" if enabled else "false",
        }
    )
    assert settings.warm_up_views is enabled
    with (
        caplog.at_level(logging.INFO, logger="app.warm_up"),
        TestClient(create_app(settings)) as client,
    ):
        assert client.get("/healthz").status_code == 200
        done = wait_for(lambda: "views warmed up" in caplog.text, 10 if enabled else 0.5)
    assert done is enabled
    if enabled:
        assert f"{len(warming.QUERIES)} queries answered, stores default" in caplog.text
