"""Strict JSON at the edge: every way Python's parser is lenient is one JsonError."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from app import json_codec
from app.json_codec import MAX_DEPTH, MAX_NUMBER_CHARS, JsonError


@dataclass
class Row:
    n: int


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"query": "{ a }", "variables": {"n": -1.5e3, "ok": [true, false, null]}}', None),
        (nested(MAX_DEPTH), None),
        ('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', None),
        ('["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', None),
        ("9" * MAX_NUMBER_CHARS, None),
        ('"\\ud83d\\ude00"', "😀"),
        ('"\\ud800"', "\ud800"),  # decoded; where it is refused is the caller's rule
    ],
)
def test_strict_json_reads_what_json_reads(text: str, value: object) -> None:
    expected = json.loads(text) if value is None else value
    assert json_codec.decode(text.encode()) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'"\xff"', "not UTF-8 (byte 1)"),
        (b'"\xed\xa0\x80"', "not UTF-8 (byte 1)"),  # a surrogate encoded as if UTF-8
        ('"é"'.encode("utf-16"), "not UTF-8 (byte 0)"),
        (b"\xef\xbb\xbf{}", "Unexpected UTF-8 BOM (decode using utf-8-sig) (line 1, column 1)"),
        (nested(MAX_DEPTH + 1).encode(), "nested more than 32 levels deep"),
        (b"[" * 1000, "nested more than 32 levels deep"),
        (b'{"a":' * 1000 + b"1" + b"}" * 1000, "nested more than 32 levels deep"),
        (b"1" * 5000, "a number has more than 64 characters"),
        (b"[0." + b"1" * 5000 + b"]", "a number has more than 64 characters"),
        (b"1" * (MAX_NUMBER_CHARS + 1), "a number has more than 64 characters"),
        (b"[1e400]", "the number 1e400 is out of range"),
        (b"[-1e400]", "the number -1e400 is out of range"),
        (b'{"x": NaN}', "NaN is not JSON"),
        (b"Infinity", "Infinity is not JSON"),
        (b"[-Infinity]", "-Infinity is not JSON"),
        (b"", "Expecting value (line 1, column 1)"),
        (b'{ "not a JSON', "Unterminated string starting at (line 1, column 3)"),
        (b"[1,]", "Expecting value (line 1, column 4)"),
    ],
)
def test_lenient_inputs_are_one_json_error(body: bytes, message: str) -> None:
    with pytest.raises(JsonError) as raised:
        json_codec.decode(body)
    assert raised.value.message == message


def test_depth_counts_brackets_outside_strings_only() -> None:
    # 40 brackets inside strings, escaped quotes included, then exactly the limit.
    text = '["\\"' + "[" * 40 + '", ' + nested(MAX_DEPTH - 1) + "]"
    assert json_codec.decode(text) == ['"' + "[" * 40, json.loads(nested(MAX_DEPTH - 1))]
    too_deep = '["\\"' + "[" * 40 + '", ' + nested(MAX_DEPTH) + "]"
    with pytest.raises(JsonError):
        json_codec.decode(too_deep)


def test_lone_surrogates_are_found_and_pairs_are_not() -> None:
    assert json_codec.has_lone_surrogate("a\ud800")
    assert json_codec.has_lone_surrogate("\udfff")
    assert not json_codec.has_lone_surrogate("😀 é a")


def test_answers_are_utf8_even_when_they_echo_a_lone_surrogate() -> None:
    encoded = json_codec.encode({"message": "bad value 'a\ud800'", "ok": "é😀"})
    assert encoded == '{"message":"bad value \'a\\ud800\'","ok":"é😀"}'.encode()
    encoded.decode("utf-8")  # strict: valid UTF-8
    assert json.loads(encoded) == {"message": "bad value 'a\ud800'", "ok": "é😀"}


def test_the_encoder_writes_a_non_finite_float_as_null_as_json_stringify_does() -> None:
    value = {"a": float("nan"), "b": [float("inf"), -float("inf")], "c": 1.5}
    assert json_codec.encode(value) == b'{"a":null,"b":[null,null],"c":1.5}'


@pytest.mark.parametrize(
    "value",
    [
        # orjson's own answer: the same text as json.dumps
        {"a": "é😀", "b": [1, 2.5, None, True, False], "c": {"d": -0.1, "e": 2**63 - 1}},
        ['\u2028 \x1f "quoted" \\ back', 1e16, 2.5e300, 123456789.125, 1.0, -0.0],
        # refused by orjson, written by the standard library
        {"n": 2**64, "small": -(2**70)},
        {1: "integer key", 2.5: "float key", None: "null key", False: "bool key"},
        {"lone": "a\ud800b", "key\udfff": 1},
        [[[[]]]] * 3,
    ],
)
def test_the_encoder_answers_what_json_dumps_answers(value: object) -> None:
    encoded = json_codec.encode(value)
    assert json.loads(encoded) == json.loads(json_codec.dumps(value))
    assert encoded == json_codec.dumps(value).encode("utf-8", "backslashreplace")


def test_the_encoder_writes_small_floats_otherwise_the_same_numbers() -> None:
    assert json_codec.dumps([1e-7, 1e-5, 5e-324]) == "[1e-07,1e-05,5e-324]"
    assert json_codec.encode([1e-7, 1e-5, 5e-324]) == b"[1e-7,0.00001,5e-324]"
    assert json.loads(json_codec.encode([1e-7, 1e-5, 5e-324])) == [1e-7, 1e-5, 5e-324]


@pytest.mark.parametrize(
    "value", [datetime(2026, 1, 1, tzinfo=UTC), Row(1), {"row": [Row(2)]}, {1, 2}, b"bytes"]
)
def test_the_encoder_refuses_what_json_dumps_refuses(value: object) -> None:
    with pytest.raises(TypeError, match="is not JSON serializable"):
        json_codec.encode(value)


def _bounds_as_before(raw: bytes) -> str | None:
    """The bounds check as it was first written: strings cut out of the whole text,
    then every number run and the running depth counted. (It glued the number
    characters on either side of a string, ``9"x"9``, into one run: only invalid
    JSON has those side by side, and the check now keeps them apart.)"""
    if b'\\"' not in raw:
        outside = b" ".join(raw.split(b'"')[::2])
    else:
        outside = json_codec._STRING.sub("", raw.decode()).encode("utf-8", "surrogatepass")
    if json_codec._TOO_LONG in outside.translate(json_codec._NINES):
        return f"a number has more than {MAX_NUMBER_CHARS} characters"
    if json_codec._deepest(outside) > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep"
    return None


def test_the_bounds_check_answers_as_first_written() -> None:
    # Texts made of what the check looks at: brackets of both kinds (balanced or not,
    # inside strings or not), quotes, escapes, runs of number characters near the limit.
    import random

    draw = random.Random(20261206)
    pieces = ["[", "]", "{", "}", '"', '\\"', "\\\\", "1", "9" * 40, "e", ".", ",", "a", ":"]
    seen: dict[str | None, int] = {}
    for _ in range(6000):
        shape = draw.random()
        if shape < 0.3:  # nesting around a core, strings with brackets inside
            depth = draw.randrange(MAX_DEPTH - 3, MAX_DEPTH + 3)
            core = "".join(draw.choice(pieces) for _ in range(draw.randrange(12)))
            text = "[" * depth + f'"{core}"' + "]" * draw.randrange(depth + 1)
        else:
            text = "".join(draw.choice(pieces) for _ in range(draw.randrange(80)))
        raw = text.encode()
        try:
            json_codec._check_bounds(raw, text)
            got = None
        except JsonError as error:
            got = error.message
        expected = _bounds_as_before(raw)
        assert got == expected, text
        seen[expected] = seen.get(expected, 0) + 1
    assert len(seen) == 3 and min(seen.values()) > 100, seen  # all three answers, often


def test_an_escaped_quote_keeps_the_depth_check_on_brackets_alone() -> None:
    # With an escaped quote the strings are cut out by a regular expression; the depth
    # is then counted on the brackets alone, both kinds, at the limit and past it.
    for depth, refused in ((MAX_DEPTH, False), (MAX_DEPTH + 1, True)):
        inner = "[" * (depth - 1) + "1" + "]" * (depth - 1)
        text = '["\\"x", ' + inner + "]"
        assert json_codec._STRING.search(text)
        if refused:
            with pytest.raises(JsonError, match="nested more than"):
                json_codec.decode(text)
        else:
            assert json_codec.decode(text)[0] == '"x'
