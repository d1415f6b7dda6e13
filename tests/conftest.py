"""Shared fixtures: an embedded store per test, event builders, schema execution."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId
from mongomock_motor import AsyncMongoMockClient

from app.http import create_app
from auth.tokens import issue_token
from core.settings import Settings, load_settings
from schema import build_schema
from schema.context import Context
from storage.database import MongoDatabase
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from storage.indexes import event_indexes

with warnings.catch_warnings():
    # Starlette 1.x would rather drive its test client with httpx2; httpx still works.
    warnings.simplefilter("ignore")
    # For the tests that drive the app with its lifespan and WebSockets.
    from starlette.testclient import TestClient, WebSocketTestSession  # noqa: F401

SECRET = "test-secret-0123456789abcdef0123456789"
# A fixed "now" for hand-computed expectations: Monday 2026-06-15 12:00 UTC.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
REAL_MONGODB_URL = os.environ.get("MONGODB_URL")


@pytest.fixture(params=["mongomock", pytest.param("mongodb", marks=pytest.mark.mongodb)])
async def mongo(request: pytest.FixtureRequest) -> AsyncIterator[MongoDatabase]:
    """A fresh database on mongomock-motor, and on the real MongoDB of MONGODB_URL
    (skipped without it)."""
    name = f"analytics_test_{uuid.uuid4().hex[:12]}"
    if request.param == "mongomock":
        database = MongoDatabase(AsyncMongoMockClient(tz_aware=False), name)
    else:
        if not REAL_MONGODB_URL:
            pytest.skip("MONGODB_URL is not set: no real MongoDB to test against")
        database = MongoDatabase.connect(REAL_MONGODB_URL, name)
    await database.ensure_indexes(event_indexes(retention_days=365))
    yield database
    await database._client.drop_database(name)
    await database.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"DATA_DIR": str(tmp_path / "data"), "JWT_SECRET": SECRET})


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[EmbeddedDatabase]:
    db = await EmbeddedDatabase.open(tmp_path / "store", fsync_seconds=0, retention_days=365)
    yield db
    await db.close()


def event(
    event_type: str,
    *,
    at: datetime,
    session: str = "s1",
    tenant: str = "default",
    user: str | None = None,
    slug: str | None = None,
    name: str | None = None,
    price: float | None = None,
    quantity: int = 1,
    order: str | None = None,
    source: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> EventDocument:
    """A stored event document, as ingest would build it (for storage-level tests)."""
    meta = dict(metadata or {})
    if quantity != 1:
        meta["quantity"] = quantity
    if order is not None:
        meta["order_id"] = order
    return EventDocument(
        _id=ObjectId(),
        tenantId=tenant,
        eventType=event_type,
        sessionId=session,
        userId=user,
        productSlug=slug,
        productName=name,
        price=price,
        quantity=quantity,
        orderId=order,
        metadata=meta or None,
        source=None if source == "direct" else source,
        errorMessage=None,
        dedupeKey=f"test:{ObjectId()}",
        createdAt=at.astimezone(UTC).replace(tzinfo=None),
    )


async def store(database: EmbeddedDatabase, *docs: EventDocument) -> None:
    stored = await database.insert_events(list(docs), retire_before=None)
    assert all(stored)


def token(
    *, admin: bool = True, tenant: str | None = None, email: str = "admin@example.com"
) -> str:
    # Signed at the real time: pyjwt checks exp against the wall clock, not NOW.
    return issue_token(SECRET, email=email, admin=admin, tenant=tenant)


@dataclass
class Run:
    """Run GraphQL through the schema with a context at a fixed request time."""

    database: EmbeddedDatabase
    settings: Settings

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        now: datetime = NOW,
        authorization: str | None = "admin",
    ) -> Any:
        if authorization == "admin":
            authorization = f"Bearer {token(tenant='*')}"
        context = Context(
            database=self.database,
            settings=self.settings,
            jwt_secret=SECRET,
            now=now,
            authorization=authorization,
        )
        return await SCHEMA.execute(query, variable_values=variables, context_value=context)


SCHEMA = build_schema()


@pytest.fixture
def run(database: EmbeddedDatabase, settings: Settings) -> Run:
    return Run(database, settings)


@pytest.fixture
async def client(
    settings: Settings, database: EmbeddedDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole ASGI app in process, on the test's embedded store."""
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


Builder = Callable[..., EventDocument]


SET_FIELDS = ("types", "sessions", "orders")


def sets_sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with the arrays of ``$addToSet`` (``SET_FIELDS``) sorted: their order is
    unspecified, on MongoDB as in mongomock and the embedded engine."""
    return [
        {key: sorted(value) if key in SET_FIELDS else value for key, value in row.items()}
        for row in rows
    ]


def cost(requested: int = 0, remaining: int | None = None) -> dict[str, Any]:
    """An answer's ``extensions`` when it spent ``requested`` points of the query budget
    and ``remaining`` are left (None: it spent from no budget), schema.cost."""
    return {"cost": {"requested": requested, "budgetRemaining": remaining}}


# The extensions of an answer that cost nothing (tracking, __typename, errors before execution).
FREE = cost()


def record_writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """From now on, the bytes of every ``os.write`` in order (each still written)."""
    writes: list[bytes] = []
    real_write = os.write

    def recording(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording)
    return writes
