"""Snapshots of format 2 (rows before ``createdAt`` became an int and ``_id`` and the key
one bytes object) still load, as the very same documents, and are rewritten in format 3.

``tests/data/events-v2.snapshot`` was written by ``storage.embedded.journal.write_rows``
at commit 8ba8f9a (format 2) from ``documents()`` below, sorted by ``createdAt``.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from bson import ObjectId
from bson.int64 import Int64

from storage.embedded.journal import SNAPSHOT_MAGIC, SNAPSHOT_VERSION, header
from storage.embedded.store import SNAPSHOT, EmbeddedDatabase

FIXTURE = Path(__file__).parent / "data" / "events-v2.snapshot"
AT = datetime(2026, 6, 1, 9, 30, 15, 123456)


def documents() -> list[dict[str, Any]]:
    """One event of each kind of key and value a row treats apart."""

    def doc(n: int, event_type: str, key: str, **fields: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "tenantId": "default",
            "eventType": event_type,
            "sessionId": f"s{n % 3}",
            "userId": None,
            "productSlug": None,
            "productName": None,
            "price": None,
            "quantity": 1,
            "orderId": None,
            "metadata": None,
            "source": None,
            "errorMessage": None,
            "dedupeKey": key,
            "createdAt": AT.replace(minute=n),
            "_id": ObjectId(f"6650a0b0{n:016x}"),
        }
        base.update(fields)
        return base

    return [
        doc(1, "page_view", "import:" + "0123456789abcdef" * 4, source="google"),
        doc(2, "product_view", "auto:" + "fedcba9876543210" * 2, productSlug="tee", price=19.9),
        doc(
            3,
            "purchase",
            "live:clé ✓",
            userId="u1",
            price=0.0,
            quantity=2,
            orderId="o1",
            metadata={"order_id": "o1", "quantity": 2, "at": AT, "big": Int64(1 << 40)},
        ),
        doc(4, "add_to_cart", "live:k#retired:6650a0b00000000000000004", errorMessage="x"),
        doc(5, "page_view", "import:" + "AB" * 32, tenantId="other"),
        doc(6, "page_view", "", createdAt=AT.replace(minute=1)),  # a tie with the first
        {**doc(7, "page_view", "auto:short"), "visitorId": "v" * 45, "country": "PT"},
    ]


def by_time(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(docs, key=lambda d: (d["tenantId"], d["createdAt"]))


def typed(docs: list[dict[str, Any]]) -> list[list[tuple[str, type, Any]]]:
    return [[(k, type(v), v) for k, v in d.items()] for d in docs]


async def test_a_format_2_snapshot_loads_as_the_same_documents(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURE, tmp_path / SNAPSHOT)
    expected = typed(by_time(documents()))
    database = await EmbeddedDatabase.open(tmp_path, retention_days=3650)
    assert typed(by_time(list(database.documents()))) == expected
    # Its keys are taken: storing the same events again stores nothing.
    assert await database.insert_events(documents(), retire_before=None) == [False] * 7
    await database.close()
    # Rewritten in the current format at start-up, and read back the same.
    assert (tmp_path / SNAPSHOT).read_bytes().startswith(header(SNAPSHOT_MAGIC, SNAPSHOT_VERSION))
    reopened = await EmbeddedDatabase.open(tmp_path, retention_days=3650)
    assert typed(by_time(list(reopened.documents()))) == expected
    assert await reopened.insert_events(documents(), retire_before=None) == [False] * 7
    await reopened.close()
