"""metrics.dashboard_pipelines as data, and each pipeline run two ways.

The embedded store runs a pipeline's first ``$match`` from its own index and
the rest with mongomock's stages; the last test checks that this gives exactly
what plain mongomock's ``aggregate`` gives over the same documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import mongomock
import pytest

from core.clock import to_naive_utc
from core.vocabulary import EventType
from metrics.dashboard_pipelines import day_boundaries
from metrics.funnel import source_condition
from metrics.hourly import (
    Checkouts,
    LineValues,
    ProductActivity,
    SessionActivity,
    TypeCounts,
    WhatsappActivity,
)
from metrics.windows import DayWindow, dashboard_window
from storage.database import Pipeline
from storage.documents import EVENTS, EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, sets_sorted, store

UTC_WEEK = dashboard_window(NOW, ZoneInfo("UTC"))


def every_pipeline(window: DayWindow) -> dict[str, Pipeline]:
    tenant = "default"
    low, high = to_naive_utc(window.start), to_naive_utc(window.end)
    return {
        "line values": LineValues().pipeline(tenant, low, high),
        "type counts": TypeCounts().pipeline(tenant, low, high),
        "products": ProductActivity().pipeline(tenant, low, high),
        "sessions": SessionActivity().pipeline(tenant, low, high),
        "sessions of a source": SessionActivity(source_condition("google")).pipeline(
            tenant, low, high
        ),
        "sessions of direct": SessionActivity(source_condition("direct")).pipeline(
            tenant, low, high
        ),
        "whatsapp": WhatsappActivity().pipeline(tenant, low, high),
        "abandonment": Checkouts().pipeline(tenant, low, high),
    }


def test_boundaries_strictly_increase_when_now_is_midnight() -> None:
    window = dashboard_window(datetime(2026, 6, 15, tzinfo=UTC), ZoneInfo("UTC"))
    assert window.bucket_boundaries[-2:] == [datetime(2026, 6, 15)] * 2
    assert day_boundaries(window) == [datetime(2026, 6, 9) + timedelta(days=n) for n in range(7)]


def _stages(pipeline: Pipeline) -> Iterator[tuple[str, Any]]:
    for stage in pipeline:
        for name, spec in stage.items():
            yield name, spec
            if name == "$facet":
                for branch in spec.values():
                    yield from _stages(branch)


@pytest.mark.parametrize(("name", "pipeline"), every_pipeline(UTC_WEEK).items())
def test_one_indexed_match_first_then_no_match_and_scalar_group_keys(
    name: str, pipeline: Pipeline
) -> None:
    first = pipeline[0]["$match"]
    assert first["tenantId"] == "default"
    assert first["createdAt"] == UTC_WEEK.match_range
    later = list(_stages(pipeline[1:]))
    assert "$match" not in [stage for stage, _ in later]
    for stage, spec in later:
        if stage == "$group":
            key = spec["_id"]
            # a field path, null, or one operator expression; never a document of fields
            operator = isinstance(key, dict) and len(key) == 1 and next(iter(key)).startswith("$")
            assert key is None or isinstance(key, str) or operator


def mixed_store() -> list[EventDocument]:
    """Every type, with and without slugs, names, sources, users, over two tenants."""
    docs = []
    kinds = [*EventType, "newsletter_signup"]
    start = NOW - timedelta(days=8)
    for n in range(240):
        kind = kinds[n % len(kinds)]
        docs.append(
            event(
                kind,
                at=start + timedelta(minutes=53 * n, milliseconds=n),
                session=f"s{n % 17}",
                tenant="default" if n % 5 else "other",
                user=f"u{n % 3}@x" if n % 4 == 0 else None,
                slug=None if n % 6 == 0 else f"p{n % 7}",
                name=None if n % 3 == 0 else f"Product {n % 5}",
                price=(n % 9) * 1.5 if n % 2 else None,
                quantity=1 + n % 3,
                order=f"o{n % 4}" if n % 8 == 1 else None,
                source=[None, "google", "direct", "instagram"][n % 4],
            )
        )
    return docs


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
async def test_embedded_fast_path_answers_as_mongomock_does(
    database: EmbeddedDatabase, zone: str
) -> None:
    docs = mixed_store()
    await store(database, *docs)
    plain: Any = mongomock.MongoClient(tz_aware=False).db[EVENTS]
    plain.insert_many([dict(doc) for doc in docs])
    window = dashboard_window(NOW, ZoneInfo(zone))
    for name, pipeline in every_pipeline(window).items():
        fast = await database.run_pipeline(EVENTS, pipeline)
        slow = list(plain.aggregate(pipeline))
        assert sets_sorted(fast) == sets_sorted(slow), name
        assert fast, f"{name}: the store should give it something to count"
