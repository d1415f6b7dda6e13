"""trackEvent(s) answer and store the same through the fast path and through strawberry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auth.tokens import issue_token
from core.settings import Settings
from schema import build_schema
from schema.context import Context
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, SECRET

QUERY = """mutation($events: [TrackEventInput!]!) {
  trackEvents(events: $events) { index status sessionId error { code message field } } }"""

EVENTS: list[dict[str, Any]] = [
    {
        "eventType": "purchase",
        "sessionId": "a",
        "tenantId": "shop2",
        "productSlug": "tee",
        "productName": "Tee",
        "price": 19.5,
        "metadata": {"quantity": 2, "order_id": 7},
        "source": "direct",
        "idempotencyKey": "k1",
    },
    {"eventType": "purchase", "sessionId": "a", "tenantId": "shop2", "idempotencyKey": "k1"},
    {"eventType": "Not Valid", "sessionId": "b"},
    {"eventType": "page_view", "sessionId": "c", "tenantId": "bad tenant"},
    {
        "eventType": "payment_error",
        "sessionId": "d",
        "errorMessage": "card declined",
        "metadata": {"quantity": 0},
    },
    {
        "eventType": "add_to_cart",
        "sessionId": "e",
        "productSlug": "cap",
        "productName": "Cap",
        "price": 0,
        "metadata": {"color": "red"},
        "source": "instagram",
        "errorMessage": "none",
        "idempotencyKey": "k2",
    },
]


async def answer(
    tmp_path: Path, settings: Settings, name: str, *, fast_paths: bool
) -> tuple[Any, list[Any]]:
    database = await EmbeddedDatabase.open(tmp_path / name, fsync_seconds=0)
    try:
        context = Context(
            database=database,
            settings=settings,
            jwt_secret=SECRET,
            now=NOW,
            authorization=f"Bearer {issue_token(SECRET, email='ana@shop.co')}",
        )
        result = await build_schema(fast_paths=fast_paths).execute(
            QUERY, variable_values={"events": EVENTS}, context_value=context
        )
        stored = sorted(
            ({k: v for k, v in doc.items() if k != "_id"} for doc in database.documents()),
            key=lambda doc: doc["sessionId"],
        )
        return result, stored
    finally:
        await database.close()


async def test_both_paths_agree(tmp_path: Path, settings: Settings) -> None:
    fast, fast_stored = await answer(tmp_path, settings, "fast", fast_paths=True)
    plain, plain_stored = await answer(tmp_path, settings, "plain", fast_paths=False)
    assert fast.errors is None and plain.errors is None
    assert fast.data == plain.data
    for stored in (fast_stored, plain_stored):  # auto keys are random by design
        for doc in stored:
            if doc["dedupeKey"].startswith("auto:"):
                doc["dedupeKey"] = "auto"
    assert fast_stored == plain_stored
    items = fast.data["trackEvents"]
    assert [i["status"] for i in items] == ["OK", "DUPLICATE_IGNORED", None, None, None, "OK"]
    assert [i["error"] and i["error"]["field"] for i in items] == [
        None,
        None,
        "events[2].eventType",
        "events[3].tenantId",
        "events[4].metadata.quantity",
        None,
    ]
    assert [
        (d["sessionId"], d["tenantId"], d["userId"], d["quantity"], d["orderId"], d["source"])
        for d in fast_stored
    ] == [
        ("a", "shop2", "ana@shop.co", 2, "7", None),
        ("e", "default", "ana@shop.co", 1, None, "instagram"),
    ]
    assert {
        k: fast_stored[1][k]
        for k in (
            "productSlug",
            "productName",
            "price",
            "metadata",
            "errorMessage",
            "dedupeKey",
            "eventType",
        )
    } == {
        "productSlug": "cap",
        "productName": "Cap",
        "price": 0.0,
        "metadata": {"color": "red"},
        "errorMessage": "none",
        "dedupeKey": "live:k2",
        "eventType": "add_to_cart",
    }


SINGLE = "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status sessionId } }"


async def test_track_event_paths_agree(tmp_path: Path, settings: Settings) -> None:
    answers = []
    for fast_paths in (True, False):
        database = await EmbeddedDatabase.open(tmp_path / str(fast_paths), fsync_seconds=0)
        context = Context(database=database, settings=settings, jwt_secret=SECRET, now=NOW)
        schema = build_schema(fast_paths=fast_paths)
        results = [
            await schema.execute(SINGLE, variable_values={"e": e}, context_value=context)
            for e in EVENTS
        ]
        stored = [
            {k: v for k, v in doc.items() if k not in ("_id", "dedupeKey")}
            for doc in database.documents()
        ]
        answers.append(
            ([(r.data, [e.extensions for e in r.errors or []]) for r in results], stored)
        )
        await database.close()
    assert answers[0] == answers[1]
    outcomes, stored = answers[0]
    assert [data for data, _ in outcomes] == [
        {"trackEvent": {"status": "OK", "sessionId": "a"}},
        {"trackEvent": {"status": "DUPLICATE_IGNORED", "sessionId": "a"}},
        None,
        None,
        None,
        {"trackEvent": {"status": "OK", "sessionId": "e"}},
    ]
    assert [errors for _, errors in outcomes][2:5] == [
        [{"code": "BAD_USER_INPUT", "field": "input.eventType"}],
        [{"code": "BAD_USER_INPUT", "field": "input.tenantId"}],
        [{"code": "BAD_USER_INPUT", "field": "input.metadata.quantity"}],
    ]
    assert [(d["sessionId"], d["userId"], d["source"]) for d in stored] == [
        ("a", None, None),
        ("e", None, "instagram"),
    ]
