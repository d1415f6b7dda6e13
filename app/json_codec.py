"""JSON at the HTTP edge: a strict decoder for what clients send, a safe encoder for answers.

Python's ``json.loads`` is lenient where a public endpoint cannot be: it reads
``NaN``/``Infinity``, turns ``1e999`` into ``inf``, raises ``ValueError`` (not
``JSONDecodeError``) past int()'s 4,300-digit limit, ``RecursionError`` near
1,000 levels of nesting, and guesses UTF-16/32 from bytes. ``decode`` refuses
all of those with one ``JsonError``, in time linear in the body's size.

JSON's ``"\\ud800"`` escapes can still produce lone surrogates, which UTF-8
(and so BSON) cannot carry: ``has_lone_surrogate`` finds them, and callers
decide where they are refused (``app.graphql_request``).

Answers are written by orjson (a long admin answer in a twentieth of the
standard library's time); the standard library writes what orjson refuses
(see ``encode`` for the two ways the text differs from ``json.dumps``).
"""

from __future__ import annotations

import json
import math
import operator
import re
from itertools import accumulate, count
from typing import Any, NoReturn

import orjson

MAX_DEPTH = 32
"""Nesting of arrays and objects; a trackEvents body with metadata at its own limit is 13."""
MAX_NUMBER_CHARS = 64
"""Characters of one number literal; a float64 needs at most 24."""

# A string token, escapes included. Possessive quantifiers never backtrack, and
# the optional closing quote lets an unterminated string end the match: one
# linear pass whatever the text.
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)
# Outside strings, only a number has these characters side by side: mapped to
# "9" (all else to " "), a run of 65 nines is a literal over the limit.
_NUMBER_CHARS = b"-+.eE0123456789"
_NINES = bytes(ord("9") if byte in _NUMBER_CHARS else ord(" ") for byte in range(256))
_TOO_LONG = b"9" * (MAX_NUMBER_CHARS + 1)
_TWO_PER_OPENING = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_NOT_BRACKETS_OR_QUOTES = bytes(set(range(256)) - set(b'[]{}"'))
_ONE_KIND = bytes.maketrans(b"{}", b"[]")  # _deepest counts either kind alike
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonError(ValueError):
    """The text is not strict JSON; ``message`` says where or why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _deepest(text: bytes) -> int:
    """The deepest nesting of brackets in ``text``, in C (no Python step per byte)."""
    steps = text.translate(_TWO_PER_OPENING, _NOT_BRACKETS)
    # 2 per opening bracket, 0 per closing one: after i brackets the depth is
    # the sum of the first i steps minus i.
    deepest: int = max(map(operator.sub, accumulate(steps), count(1)), default=0)
    return deepest


def _even_pieces(raw: bytes, between: bytes = b"") -> bytes:
    """What lies outside strings in ``raw`` when no quote in it is escaped: every '"'
    then opens or closes a string, so the pieces between quotes alternate (C speed).
    ``between`` goes where each string was (a space keeps the number characters on
    either side of a string apart)."""
    return between.join(raw.split(b'"')[::2])


def _check_bounds(raw: bytes, text: str) -> None:
    """Refuse a number literal over ``MAX_NUMBER_CHARS`` or nesting over ``MAX_DEPTH``,
    outside strings: exact for valid JSON, and never hiding a bracket or digit that
    json.loads would meet before failing."""
    if b'\\"' in raw:
        outside = _STRING.sub("", text).encode("utf-8", "surrogatepass")
        too_long = _TOO_LONG in outside.translate(_NINES)
        brackets = outside.translate(None, _NOT_BRACKETS)
    else:
        # A run of number characters is looked for in the whole text first (inside a
        # string it is rare; then outside strings only), and the strings are cut out of
        # the brackets and quotes alone: a 100-event trackEvents body takes ~55 µs
        # where cutting them out of the whole text and counting took ~110.
        too_long = _TOO_LONG in raw.translate(_NINES) and _TOO_LONG in _even_pieces(
            raw, b" "
        ).translate(_NINES)
        # Two quotes side by side toggle in and out of a string with nothing between:
        # dropping them leaves every other character on its side.
        quotes_and_brackets = raw.translate(None, _NOT_BRACKETS_OR_QUOTES)
        brackets = _even_pieces(quotes_and_brackets.replace(b'""', b""))
    if too_long:
        raise JsonError(f"a number has more than {MAX_NUMBER_CHARS} characters")
    if not _shallow(brackets) and _deepest(brackets) > MAX_DEPTH:
        raise JsonError(f"nested more than {MAX_DEPTH} levels deep")


def _shallow(brackets: bytes) -> bool:
    """True if ``brackets`` (brackets alone) is balanced and at most ``MAX_DEPTH`` deep;
    False says nothing (``_deepest`` decides). Each round drops every innermost pair, so
    a balanced text of depth d is gone after d rounds; a few replaces, each in C."""
    pairs = brackets.translate(_ONE_KIND)
    for _ in range(MAX_DEPTH):
        if not pairs:
            return True
        pairs = pairs.replace(b"[]", b"")
    return not pairs


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError(f"the number {text} is out of range")
    return value


def _constant(name: str) -> NoReturn:
    raise JsonError(f"{name} is not JSON")


# What json.loads(text, parse_float=_finite, parse_constant=_constant) builds on every call.
_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_constant)


def decode(body: bytes | str) -> Any:
    """The value of a strict JSON text (RFC 8259, UTF-8), or ``JsonError``."""
    if isinstance(body, bytes):
        raw = body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonError(f"not UTF-8 (byte {error.start})") from None
    else:
        text = body
        raw = body.encode("utf-8", "surrogatepass")
    _check_bounds(raw, text)
    try:
        if text.startswith("\ufeff"):  # as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise JsonError(f"{error.msg} (line {error.lineno}, column {error.colno})") from None


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` holds U+D800–U+DFFF alone (paired escapes decode to one character)."""
    return _SURROGATE.search(text) is not None


# What json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# builds on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: object) -> str:
    """Compact JSON text, non-ASCII (lone surrogates included) left as it is."""
    return _ENCODER.encode(value)


# Dataclasses and datetimes are no JSON to json.dumps: orjson must not write them either.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def encode(value: object) -> bytes:
    """Compact UTF-8 JSON, as ``json.dumps`` writes it, with two differences.

    * A float that is not finite (NaN, ±Infinity: never in a GraphQL answer, whose
      Float serializer refuses them) is written ``null``, as JavaScript's
      ``JSON.stringify`` writes it, rather than failing the whole answer.
    * A float below 1e-4 is written ``1e-7`` (not ``1e-07``), or ``0.00001`` (not
      ``1e-05``): the same number.

    orjson writes it (a long admin answer in a twentieth of the standard library's
    time); what orjson refuses (a lone surrogate, an integer past 64 bits, a key that
    is not a string, a type JSON has no word for) is written by the standard library,
    which raises for the last. A lone surrogate (an echoed input in an error message,
    say) is written as its ``\\udXXX`` escape rather than failing the response.
    """
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        # Surrogates only ever appear inside string literals, where the backslash
        # escape Python writes for them is exactly JSON's.
        return dumps(value).encode("utf-8", "backslashreplace")
