"""trackEvent(s) and importEvents answer and store the same through the fast path and
through strawberry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import strawberry
from strawberry.extensions.field_extension import FieldExtension

from auth.tokens import issue_token
from core.settings import Settings
from schema import build_schema
from schema.context import Context
from schema.fast_path import serve_with_coerced_arguments
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


IMPORT = """mutation($events: [ImportEventInput!]!, $t: ID) {
  importEvents(events: $events, tenantId: $t) { inserted duplicates } }"""


def imported(session: str, minutes: int, **fields: Any) -> dict[str, Any]:
    """An ImportEventInput ``minutes`` before NOW (2026-06-15 12:00 UTC)."""
    at = datetime(2026, 6, 15, 12, 0, tzinfo=UTC) - timedelta(minutes=minutes)
    return {"eventType": "page_view", "sessionId": session, "createdAt": at.isoformat(), **fields}


GOOD = [
    imported(
        "a",
        60,
        eventType="purchase",
        userId="ana@shop.co",
        productSlug="tee",
        price=19.5,
        metadata={"quantity": 2, "order_id": 7},
        idempotencyKey="k1",
        country="CO",
        utmSource="news",
    ),
    imported("a", 60, eventType="purchase", idempotencyKey="k1"),  # the same key
    imported("b", 30, source="direct"),
    imported("b", 30, source="direct"),  # the same content, so the same derived key
]


def bearer(**claims: Any) -> str:
    return f"Bearer {issue_token(SECRET, email='ops@shop.co', **claims)}"


async def import_answers(
    tmp_path: Path, settings: Settings, calls: list[tuple[str | None, dict[str, Any]]]
) -> list[tuple[list[Any], list[dict[str, Any]]]]:
    """Per path (fast, plain): each call's (data, errors) and then the stored documents."""
    answers = []
    for fast_paths in (True, False):
        database = await EmbeddedDatabase.open(tmp_path / f"import-{fast_paths}", fsync_seconds=0)
        schema = build_schema(fast_paths=fast_paths)
        outcomes = []
        for authorization, variables in calls:
            context = Context(
                database=database,
                settings=settings,
                jwt_secret=SECRET,
                now=NOW,
                authorization=authorization,
            )
            result = await schema.execute(IMPORT, variable_values=variables, context_value=context)
            errors = [(e.message, e.path, e.extensions) for e in result.errors or []]
            outcomes.append((result.data, errors))
        stored = sorted(
            ({k: v for k, v in doc.items() if k != "_id"} for doc in database.documents()),
            key=lambda doc: (doc["sessionId"], doc["dedupeKey"]),
        )
        answers.append((outcomes, stored))
        await database.close()
    assert answers[0] == answers[1]
    return answers


def error_of(outcome: tuple[Any, list[Any]]) -> tuple[Any, dict[str, Any]]:
    data, errors = outcome
    ((_, path, extensions),) = errors
    assert data is None and path == ["importEvents"]
    return extensions["code"], extensions


async def test_import_paths_agree_on_access(tmp_path: Path, settings: Settings) -> None:
    shop2 = bearer(admin=True, tenant="shop2")
    calls: list[tuple[str | None, dict[str, Any]]] = [
        (None, {"events": GOOD}),
        ("Bearer not-a-token", {"events": GOOD}),
        (bearer(), {"events": GOOD, "t": "shop2"}),  # a shopper's token
        (shop2, {"events": GOOD}),  # no tenantId: default, outside shop2's scope
        (shop2, {"events": GOOD, "t": "shop3"}),
        (shop2, {"events": GOOD, "t": "bad tenant"}),
    ]
    ((outcomes, stored), _) = await import_answers(tmp_path, settings, calls)
    assert [error_of(o)[0] for o in outcomes] == [
        "UNAUTHENTICATED",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "FORBIDDEN",
        "FORBIDDEN",
        "BAD_USER_INPUT",
    ]
    assert [message for _, ((message, _, _),) in outcomes[3:5]] == [
        "the token's tenant scope does not include 'default'",
        "the token's tenant scope does not include 'shop3'",
    ]
    assert error_of(outcomes[5])[1] == {"code": "BAD_USER_INPUT", "field": "tenantId"}
    assert stored == []


async def test_import_paths_agree_on_items(tmp_path: Path, settings: Settings) -> None:
    admin = bearer(admin=True, tenant="*")
    shop2 = bearer(admin=True, tenant="shop2")
    bad = [*GOOD[:3], imported("c", -5), GOOD[3]]  # events[3] is 5 minutes ahead of NOW
    calls: list[tuple[str | None, dict[str, Any]]] = [
        (admin, {"events": bad, "t": "shop2"}),
        (admin, {"events": [imported("d", i) for i in range(1001)]}),
        (admin, {"events": [GOOD[0], {**GOOD[2], "metadata": {"quantity": 0}}]}),
        (shop2, {"events": GOOD, "t": "shop2"}),
        (admin, {"events": GOOD, "t": "shop2"}),  # again: all four already stored
        (admin, {"events": [imported("e", 1)]}),  # tenantId omitted: default
        (admin, {"events": [imported(f"f{i}", i + 1) for i in range(1000)]}),
    ]
    ((outcomes, stored), _) = await import_answers(tmp_path, settings, calls)
    assert [error_of(o)[1] for o in outcomes[:3]] == [
        {"code": "BAD_USER_INPUT", "field": "events[3].createdAt"},
        {"code": "BAD_USER_INPUT", "field": "events"},
        {"code": "BAD_USER_INPUT", "field": "events[1].metadata.quantity"},
    ]
    assert outcomes[0][1][0][0] == "createdAt must be in the past"
    assert outcomes[1][1][0][0] == "at most 1000 events per call, got 1001"
    assert [data for data, _ in outcomes[3:]] == [
        {"importEvents": {"inserted": 2, "duplicates": 2}},
        {"importEvents": {"inserted": 0, "duplicates": 4}},
        {"importEvents": {"inserted": 1, "duplicates": 0}},
        {"importEvents": {"inserted": 1000, "duplicates": 0}},
    ]
    assert len(stored) == 2 + 1 + 1000  # a and b in shop2, e, f0..f999
    # Nothing from the rejected calls (sessions c, d, and a's default-tenant copy).
    assert {d["sessionId"] for d in stored} & {"c", "d"} == set()
    a, b, e = (next(d for d in stored if d["sessionId"] == s) for s in "abe")
    assert {k: a[k] for k in ("tenantId", "eventType", "userId", "productSlug", "price")} == {
        "tenantId": "shop2",
        "eventType": "purchase",
        "userId": "ana@shop.co",
        "productSlug": "tee",
        "price": 19.5,
    }
    assert (a["quantity"], a["orderId"], a["dedupeKey"], a["country"]) == (
        2,
        "7",
        "import:k1",
        "CO",
    )
    assert a["createdAt"] == datetime(2026, 6, 15, 11, 0)
    assert (b["tenantId"], b["source"], b["userId"], b["createdAt"]) == (
        "shop2",
        None,
        None,
        datetime(2026, 6, 15, 11, 30),
    )
    assert b["dedupeKey"].startswith("import:") and len(b["dedupeKey"]) == len("import:") + 64
    assert (e["tenantId"], e["createdAt"]) == ("default", datetime(2026, 6, 15, 11, 59))


def test_fast_path_refuses_other_field_extensions() -> None:
    class Upper(FieldExtension):  # would see mappings where it expects converted inputs
        async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
            return (await next_(source, info, **kwargs)).upper()

    @strawberry.type
    class Query:
        @strawberry.field(extensions=[Upper()])
        async def echo(self, text: str) -> str:
            return text

    async def handler(context: Any, text: str) -> str:
        return text

    with pytest.raises(TypeError, match=r"Query\.echo"):
        serve_with_coerced_arguments(strawberry.Schema(query=Query), "Query", "echo", handler)
