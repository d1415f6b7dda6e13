"""The metadata check sized in one walk (``metrics.ingest._plain_size``) answers as the
encoder-based check it replaced: same size, same result, same error, on generated and
hostile values."""

from __future__ import annotations

import json
import math
import random
from collections import OrderedDict
from typing import Any

import pytest

from core.errors import BadUserInput
from metrics import ingest
from metrics.ingest import (
    INT64_MAX,
    INT64_MIN,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    _check_metadata_keys,
    _lone_surrogates,
    _metadata,
    _plain_size,
)
from metrics.lines import MAX_QUANTITY

ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def reference(value: Any, field: str) -> tuple[dict[str, Any] | None, int, str | None]:
    """``_metadata`` as it was before ``_plain_size``: encode, measure, then check keys."""
    if value is None:
        return None, 1, None
    if not isinstance(value, dict):
        raise BadUserInput("metadata must be a JSON object", field=field)
    try:
        size = len(ENCODER.encode(value).encode())
    except UnicodeEncodeError:
        raise _lone_surrogates(field) from None
    except (TypeError, ValueError):
        raise BadUserInput("metadata must be a JSON object", field=field) from None
    if size > MAX_METADATA_BYTES:
        raise BadUserInput(
            f"metadata must be at most {MAX_METADATA_BYTES} bytes serialized", field=field
        )
    _check_metadata_keys(value, field)
    quantity = value.get("quantity", 1)
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 1 <= quantity <= MAX_QUANTITY
    ):
        raise BadUserInput(
            f"metadata.quantity must be an integer from 1 to {MAX_QUANTITY:,}",
            field=f"{field}.quantity",
        )
    order_id = value.get("order_id")
    if order_id is not None and (isinstance(order_id, bool) or not isinstance(order_id, str | int)):
        raise BadUserInput(
            "metadata.order_id must be a string or an integer", field=f"{field}.order_id"
        )
    return value, quantity, None if order_id is None else str(order_id)


def outcome(check: Any, value: Any) -> Any:
    try:
        return ("ok", check(value, "input.metadata"))
    except BadUserInput as error:
        return ("error", error.code, error.message, error.field)
    except RecursionError:
        return ("recursion",)


def encoded_size(value: Any) -> int | None:
    try:
        return len(ENCODER.encode(value).encode())
    except (UnicodeEncodeError, TypeError, ValueError, RecursionError):
        return None


def assert_same(value: Any) -> None:
    assert outcome(_metadata, value) == outcome(reference, value), repr(value)[:300]
    size = _plain_size(value)
    if size is not None:
        assert size == encoded_size(value), repr(value)[:300]


# Characters the encoder escapes, writes as several bytes, or storage refuses.
ALPHABET = [
    *"az09 -_~/",
    '"',
    "\\",
    "$",
    ".",
    "\x00",
    "\x01",
    "\x08",
    "\t",
    "\n",
    "\x0c",
    "\r",
    "\x1f",
    "\x7f",
    "\x80",
    "é",
    "ß",
    "\u2028",
    "\u2029",
    "\ufeff",
    "中",
    "\U0001f600",
    "\ud800",
    "\udfff",
    "\U0010ffff",
]
SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    7,
    10**6,
    INT64_MAX,
    INT64_MIN,
    INT64_MAX + 1,
    INT64_MIN - 1,
    10**30,
    0.0,
    -0.0,
    1.5,
    1e16,
    1e-7,
    5e-324,
    1.7976931348623157e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    "",
]


def text(rng: random.Random, longest: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def key(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.03:
        return rng.choice([1, 2.5, None, True, (1, 2)])  # not strings: the encoder's call
    if roll < 0.6:
        return "".join(rng.choice("abcdefgh_") for _ in range(rng.randint(1, 8)))
    return text(rng, 8)


def value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth < 11 and roll < 0.2:
        return {key(rng): value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    if depth < 11 and roll < 0.3:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.32:
        return rng.choice([(1, "a"), {1, 2}, b"bytes", object(), OrderedDict(a=1), 1j])
    if roll < 0.6:
        return rng.choice(SCALARS)
    if roll < 0.7:
        return rng.randint(-(2**70), 2**70)
    if roll < 0.8:
        return rng.uniform(-1e6, 1e6)
    return text(rng)


def test_generated_values_answer_as_the_encoder_based_check() -> None:
    rng = random.Random(20261204)
    for _ in range(20_000):
        item = {key(rng): value(rng, 1) for _ in range(rng.randint(0, 5))}
        if rng.random() < 0.3:
            item["quantity"] = rng.choice([1, 3, 0, 1.0, True, "2", MAX_QUANTITY, None])
        if rng.random() < 0.3:
            item["order_id"] = rng.choice([77, "A-1", None, 1.5, False, [1]])
        assert_same(item)


def nested(depth: int, leaf: Any, *, as_list: bool = False) -> Any:
    for _ in range(depth):
        leaf = [leaf] if as_list else {"d": leaf}
    return leaf


def sized(total: int) -> dict[str, str]:
    """A one-key object of exactly ``total`` bytes serialized ({"b":"x..."} is 8 + n)."""
    return {"b": "x" * (total - 8)}


HOSTILE: list[Any] = [
    None,
    [],
    "text",
    1,
    {},
    {"": ""},
    {"a": {}},
    {"a": []},
    {"a": [[], {}]},
    sized(MAX_METADATA_BYTES),
    sized(MAX_METADATA_BYTES + 1),
    {"b": "é" * 2044},  # 4 + 2 + 2 + 4088 bytes: at the limit in UTF-8
    {"b": "é" * 2045},
    {"b": "\x00" * 681},  # escaped: 6 bytes each
    {"b": "\x00" * 682},
    {"b": '"' * 2044},
    {"b": '"' * 2045},
    {"b": "\U0001f600" * 1022},
    {"b": "\U0001f600" * 1023},
    {"b": "\ud800"},
    {"\ud800": 1},
    {"b": "x" * 5000, "c": "\ud800"},  # too big and a surrogate: the surrogate is found first
    {"b": "x" * 5000, "$c": 1},  # too big and a bad key: too big
    {"b": "x" * 5000, "c": 2**64},
    {"b": "x" * 5000, "c": float("nan")},
    {"b": "x" * 5000, "c": object()},
    {"$a": "\ud800"},
    {"$a": object()},
    {"a.b": 1},
    {"a\x00": 1},
    {"$": 1},
    {"a$": 1},
    {"ok": {"$in": 1}},
    {"ok": [{"a.b": 1}]},
    {1: "int key"},
    {None: "null key"},
    {True: "bool key"},
    {2.5: "float key"},
    {(1, 2): "tuple key"},
    {"t": (1, 2)},
    {"t": {1, 2}},
    {"t": b"x"},
    {"t": OrderedDict(a=1)},
    OrderedDict(a=1),
    {"n": INT64_MAX},
    {"n": INT64_MIN},
    {"n": INT64_MAX + 1},
    {"n": INT64_MIN - 1},
    {"n": 10**5000},  # beyond str()'s digit limit: the encoder's ValueError
    {"f": float("nan")},
    {"f": float("inf")},
    {"f": -0.0},
    {"f": 1e300 * 10},
    {"q": True},
    {"q": False},
    {"quantity": 2, "order_id": "x"},
    {"quantity": 0},
    {"order_id": True},
    nested(MAX_METADATA_DEPTH, 1),
    nested(MAX_METADATA_DEPTH + 1, 1),
    nested(MAX_METADATA_DEPTH, {}),
    nested(MAX_METADATA_DEPTH - 1, [1]),
    nested(MAX_METADATA_DEPTH, [1]),
    {"l": nested(MAX_METADATA_DEPTH - 1, 1, as_list=True)},
    {"l": nested(MAX_METADATA_DEPTH, 1, as_list=True)},
    {"l": nested(MAX_METADATA_DEPTH, [], as_list=True)},
    {"deep": nested(50, "x")},
    {"deep": nested(5000, "x")},  # the encoder's own recursion limit
]


@pytest.mark.parametrize("metadata", HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_values_answer_as_the_encoder_based_check(metadata: Any) -> None:
    assert_same(metadata)


def test_cycles_answer_as_the_encoder_based_check() -> None:
    looped: dict[str, Any] = {"a": 1}
    looped["self"] = looped
    listed: list[Any] = []
    listed.append(listed)
    for metadata in (looped, {"l": listed}):
        assert _plain_size(metadata) is None
        assert_same(metadata)


def test_plain_values_are_sized_in_one_walk() -> None:
    for metadata in (
        {"list": "home-carousel", "position": 3},
        {"quantity": 2, "order_id": "A-17", "note": 'say "hi"\n', "price": 1.25},
        {"tags": ["a", "é", "\U0001f600"], "more": {"x": None, "y": [True, False]}},
    ):
        assert _plain_size(metadata) == encoded_size(metadata)
    assert ingest._plain_size({"a": math.inf}) is None
