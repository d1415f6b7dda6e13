"""storage.embedded.rows: an event as a row, read back as the very same document."""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum

import pytest
from bson import ObjectId

from storage.embedded import rows
from tests.conftest import NOW, event

IMPORT_KEY = "import:" + "0123456789abcdef" * 4
AUTO_KEY = "auto:" + "fedcba9876543210" * 2


@pytest.mark.parametrize(
    "key",
    [
        IMPORT_KEY,
        AUTO_KEY,
        "live:client-key-1",
        "import:" + "AB" * 32,
        "auto:short",
        "",
        "live:clé ✓\ud800",
    ],
    ids=["import", "auto", "client", "uppercase hex", "short", "empty", "not ascii"],
)
def test_a_row_reads_back_as_the_same_document_in_the_same_order(key: str) -> None:
    doc = dict(event("purchase", at=NOW, slug="tee", price=19.9, quantity=2, order="o1"))
    doc["dedupeKey"] = key
    doc["visitorId"] = "v" * 45  # a context field, after the others
    row = rows.to_row(doc)
    back = rows.as_doc(row)
    assert back == doc
    assert [(k, type(v)) for k, v in back.items()] == [(k, type(v)) for k, v in doc.items()]
    assert (rows.tenant(row), rows.event_type(row), rows.dedupe_key(row)) == (
        "default",
        "purchase",
        key,
    )
    assert rows.created(row) == doc["createdAt"]
    assert rows.event_id(row) == doc["_id"]


def test_derived_keys_are_kept_as_their_digest_and_client_keys_as_utf8() -> None:
    assert rows.encode_key(IMPORT_KEY) == b"\x00" + bytes.fromhex(IMPORT_KEY[7:])
    assert rows.encode_key(AUTO_KEY) == b"\x01" + bytes.fromhex(AUTO_KEY[5:])
    for kept in ("live:" + "0" * 64, "import:" + "A" * 64, "import:" + "0" * 63, "x", "é"):
        assert rows.encode_key(kept) == b"\x02" + kept.encode()
        assert rows.decode_key(rows.encode_key(kept)) == kept
    assert rows.decode_key(rows.encode_key(IMPORT_KEY)) == IMPORT_KEY


def test_created_at_is_kept_as_microseconds_and_read_back_as_the_datetime() -> None:
    doc = dict(event("page_view", at=NOW, session="s"))
    for at in (datetime(2026, 6, 1, 9, 30, 15, 123456), datetime.min, datetime.max):
        doc["createdAt"] = at
        row = rows.to_row(doc)
        assert rows.created_us(row) == rows.micros(at) and type(rows.created_us(row)) is int
        assert rows.created(row) == at and rows.as_doc(row)["createdAt"] == at
    assert rows.micros(datetime(1970, 1, 1)) == 0
    assert rows.micros(datetime(1970, 1, 1, 0, 0, 1, 5)) == 1_000_005
    assert rows.micros(NOW) == rows.micros(NOW.replace(tzinfo=None))  # aware: as naive UTC


def test_nulls_take_no_slot_and_rows_are_far_smaller_than_dicts() -> None:
    page = dict(event("page_view", at=NOW, session="s1"))
    page["dedupeKey"] = IMPORT_KEY
    row = rows.to_row(page)
    nulls = sum(value is None for value in page.values())
    # userId, productSlug, productName, price, orderId, metadata, source, errorMessage
    assert nulls == 8
    # The key in the ident, tenant and type in the shape, the shape last.
    assert len(row) == len(page) - nulls - 2
    assert sys.getsizeof(row) * 2 < sys.getsizeof(page)
    # _id and key in one bytes object: smaller than the key's text alone.
    assert sys.getsizeof(rows.ident(row)) < sys.getsizeof(IMPORT_KEY) * 0.7
    assert sys.getsizeof(rows.created_us(row)) < sys.getsizeof(page["createdAt"])
    assert rows.as_doc(row) == page


def test_rows_of_one_shape_share_it_and_their_strings() -> None:
    first = dict(event("product_view", at=NOW, session="shared-session", slug="tee"))
    second = dict(event("product_view", at=NOW, session="shared-session", slug="tee"))
    first["sessionId"] = "".join(["shared-", "session"])  # equal, not the same object
    a, b = rows.to_row(first), rows.to_row(second)
    assert a[-1] is b[-1]
    session = a[-1].stored.index("sessionId")
    assert a[session] is b[session]


def test_a_retired_key_makes_a_new_row() -> None:
    doc = dict(event("page_view", at=datetime(2026, 6, 1), session="s"))
    doc["dedupeKey"] = "live:k"
    row = rows.to_row(doc)
    retired = rows.with_key(row, "live:k#retired:" + str(doc["_id"]))
    assert rows.dedupe_key(row) == "live:k"
    assert rows.as_doc(retired) == {**doc, "dedupeKey": "live:k#retired:" + str(doc["_id"])}
    assert isinstance(rows.event_id(retired), ObjectId)


def test_a_shape_holds_its_rows_tenant_and_type_while_there_is_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = dict(event("page_view", at=NOW, session="s", tenant="shape-room"))
    row = rows.to_row(doc)
    assert row[-1].tenant_value == "shape-room" and "tenantId" not in row[-1].stored
    assert len(row) == len(doc) - 8 - 2  # no slot for nulls, the key, tenant or type
    # Once too many tenants and types, the rows hold them (a shape shared by all).
    monkeypatch.setattr(rows, "_MAX_FOLDED", 0)
    crowded = [dict(event(t, at=NOW, session="s", tenant=f"shape-full-{t}")) for t in "ab"]
    a, b = (rows.to_row(d) for d in crowded)
    assert a[-1] is b[-1] and a[-1].tenant_value is None
    assert [rows.as_doc(r) for r in (a, b)] == crowded
    assert (rows.tenant(b), rows.event_type(b)) == ("shape-full-b", "b")
    assert (rows.tenant(row), rows.event_type(row)) == ("shape-room", "page_view")


def test_a_str_subclass_tenant_or_type_comes_back_as_itself() -> None:
    class Kind(StrEnum):
        PAGE_VIEW = "page_view"

    plain = dict(event("page_view", at=NOW, session="s"))
    enum = {**plain, "eventType": Kind.PAGE_VIEW}
    back = [rows.as_doc(rows.to_row(d)) for d in (plain, enum, plain)]
    assert [type(d["eventType"]) for d in back] == [str, Kind, str]
    assert back == [plain, enum, plain]
