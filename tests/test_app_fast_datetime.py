"""The fast path reads a plain DateTime text (``app.graphql_fast.PLAIN_DATETIME``) with
``datetime.fromisoformat``; these tests hold it to the scalar's own coercion: the same
value (fields and tzinfo) or the same refusal, for every text of the pattern's
language and for the texts just outside it."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from graphql import GraphQLError, GraphQLScalarType

from app.graphql_fast import PLAIN_DATETIME, Declined, _input_coercion
from schema import build_schema


@pytest.fixture(scope="module")
def scalar() -> GraphQLScalarType:
    found = build_schema()._schema.type_map["DateTime"]
    assert isinstance(found, GraphQLScalarType)
    return found


def outcome_of(coerce: Any, text: Any) -> Any:
    """What a coercion gives: the value's fields, its tzinfo's class and text, or a refusal."""
    try:
        value = coerce(text)
    except (Declined, ValueError, TypeError, GraphQLError):
        return "refused"
    if not isinstance(value, datetime):
        return ("not a datetime", value)
    zone = value.tzinfo
    return value.replace(tzinfo=None), type(zone), repr(zone), value.utcoffset()


def scalars_own(scalar: GraphQLScalarType) -> Any:
    def coerce(text: Any) -> Any:
        value = scalar.coerce_input_value(text)
        if value is None:
            raise ValueError
        return value

    return coerce


def texts(count: int) -> list[str]:
    """Texts of the pattern: every part drawn from its whole range (so months 00-99,
    days 00-99, February 29 of any year), fractions of 1 to 6 digits, any offset."""
    draw = random.Random(20261206)

    def two(high: int) -> str:
        return f"{draw.randrange(high):02d}"

    found = []
    for _ in range(count):
        wide = draw.random() < 0.3  # else a real calendar day
        year = f"{draw.randrange(10000):04d}" if wide else f"{draw.randrange(1900, 2100):04d}"
        month = two(100) if wide else f"{draw.randrange(1, 13):02d}"
        day = two(100) if wide else f"{draw.randrange(1, 32):02d}"
        text = f"{year}-{month}-{day}T{two(24)}:{two(60)}:{two(60)}"
        if draw.random() < 0.6:
            text += "." + "".join(str(draw.randrange(10)) for _ in range(draw.randrange(1, 7)))
        zone = draw.random()
        if zone < 0.4:
            text += "Z"
        elif zone < 0.9:
            text += f"{draw.choice('+-')}{two(24)}:{two(60)}"
        found.append(text)
    return found


EDGES = [
    "2026-03-01T10:00:00.123Z",
    "2026-03-01T10:00:00Z",
    "2026-03-01T10:00:00",
    "2026-03-01T10:00:00+00:00",
    "2026-03-01T10:00:00-00:00",
    "2026-03-01T10:00:00+05:30",
    "2026-03-01T10:00:00-03:45",
    "2026-03-01T10:00:00+23:59",
    "2026-03-01T10:00:00.000001-23:59",
    "2024-02-29T23:59:59.999999Z",
    "2025-02-29T00:00:00Z",  # no such day: the scalar's refusal
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: both keep the wall time
    "9999-12-31T23:59:59-01:00",
    "2026-04-31T00:00:00Z",
]
# Just outside the pattern: the scalar reads or refuses these itself.
OUTSIDE = [
    "2026-03-01T24:00:00Z",
    "2026-03-01T10:00:60Z",
    "2026-03-01t10:00:00z",
    "2026-03-01 10:00:00Z",
    "20260301T100000Z",
    "2026-03-01T10:00:00.1234567Z",
    "2026-03-01T10:00:00+0530",
    "2026-03-01T10:00:00+05",
    "2026-03-01T10:00:00+05:30:15",
    "2026-03-01T10:00:00+24:00",
    "2026-03-01T10:00:00Z\n",
    "٢٠٢٦-03-01T10:00:00Z",
    "2026-W09-1T10:00:00Z",
    "2026-03-01",
    "",
    "yesterday",
    1700000000,
    ["2026-03-01T10:00:00Z"],
]


def test_the_pattern_is_the_shapes_it_says() -> None:
    assert PLAIN_DATETIME.fullmatch("2026-03-01T10:00:00.123456+05:30")
    for text in OUTSIDE:
        assert not (isinstance(text, str) and PLAIN_DATETIME.fullmatch(text)), text


def test_plain_texts_coerce_to_the_scalars_own_value(scalar: GraphQLScalarType) -> None:
    fast = _input_coercion(scalar)
    own = scalars_own(scalar)
    assert fast is not None
    read = refused = 0
    for text in EDGES + texts(20_000):
        assert PLAIN_DATETIME.fullmatch(text), text
        expected = outcome_of(own, text)
        assert outcome_of(fast, text) == expected, text
        if expected == "refused":
            refused += 1
        else:
            read += 1
    assert read > 10_000 and refused > 1_000  # both sides of the language are exercised


def test_other_values_go_to_the_scalar(scalar: GraphQLScalarType) -> None:
    fast = _input_coercion(scalar)
    own = scalars_own(scalar)
    assert fast is not None
    for value in OUTSIDE:
        assert outcome_of(fast, value) == outcome_of(own, value), value


def test_the_value_is_the_scalars_with_the_same_zone_object(scalar: GraphQLScalarType) -> None:
    fast = _input_coercion(scalar)
    assert fast is not None
    text = "2026-03-01T10:00:00.5+05:30"
    mine, theirs = fast(text), scalar.coerce_input_value(text)
    assert mine == theirs and repr(mine) == repr(theirs)
    assert mine.tzinfo is theirs.tzinfo or mine.tzinfo == theirs.tzinfo
    assert fast("2026-03-01T10:00:00Z").tzinfo is fast("2026-03-02T11:00:00Z").tzinfo
