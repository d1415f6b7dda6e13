"""The parameters of a GraphQL-over-HTTP request, read strictly from a POST body or a GET URL.

Anything that is not a well-formed request is an ``HttpError(400)`` here, before
GraphQL sees it: a body that is not strict JSON (``app.json_codec``), not an
object (an array is a batch, which this server does not take), a missing or
mistyped parameter, invalid UTF-8 in the URL, or a lone surrogate anywhere but
inside a variable's value. Variable values are left to the fields that read
them, so one bad item of ``trackEvents`` is reported in its own result while
the others are stored (ingest refuses lone surrogates naming the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from app import json_codec
from app.errors import HttpError

PARAMETERS = ("query", "operationName", "variables", "extensions")
MAX_QUERY_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    query: str
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None


def _bad(message: str) -> HttpError:
    return HttpError(400, message)


def _json(text: str | bytes, what: str) -> Any:
    try:
        return json_codec.decode(text)
    except json_codec.JsonError as error:
        raise _bad(f"{what}: {error.message}") from None


def _refuse_surrogates(text: str, what: str) -> None:
    if json_codec.has_lone_surrogate(text):
        raise _bad(f"{what} holds a lone surrogate (\\ud800-\\udfff), which is not Unicode text")


def _from_parameters(
    query: object, operation_name: object, variables: object, extensions: object
) -> GraphQLRequest:
    if query is None:
        raise _bad("the request has no query parameter")
    if not isinstance(query, str):
        raise _bad("query must be a string")
    if len(query) > MAX_QUERY_CHARS:
        # Lexing costs CPU on the one event loop (~0.1-0.2 s a MiB) before any
        # token limit applies; no real query comes near this.
        raise _bad(f"query must be at most {MAX_QUERY_CHARS:,} characters")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _bad("operationName must be a string or null")
    if variables is not None and not isinstance(variables, dict):
        raise _bad("variables must be an object or null")
    if extensions is not None and not isinstance(extensions, dict):
        raise _bad("extensions must be an object or null")
    _refuse_surrogates(query, "query")
    if operation_name is not None:
        _refuse_surrogates(operation_name, "operationName")
    for name in variables or ():
        _refuse_surrogates(name, "a variable name")
    if extensions:
        # Written with the surrogates as they are, so any one in a key or value shows.
        _refuse_surrogates(json_codec.dumps(extensions), "extensions")
    return GraphQLRequest(query, operation_name, variables, extensions)


def from_body(body: bytes) -> GraphQLRequest:
    """The request in a POST body of ``application/json``."""
    data = _json(body, "the body is not strict JSON")
    if isinstance(data, list):
        raise _bad("batching is not supported: send one operation per request")
    if not isinstance(data, dict):
        raise _bad("the body must be a JSON object")
    for key in data:
        _refuse_surrogates(key, "a key of the body")
    return _from_parameters(*(data.get(name) for name in PARAMETERS))


def _decode_component(raw: bytes) -> str:
    # WHATWG URLSearchParams: '+' is a space, then percent-decoding (a '%' not
    # followed by two hex digits stays as it is), then UTF-8, here strictly.
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the query string is not UTF-8 once percent-decoded") from None


def query_parameters(query_string: bytes) -> dict[str, str]:
    """The GraphQL parameters of a GET URL's query string, decoded."""
    found: dict[str, str] = {}
    for pair in query_string.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = _decode_component(raw_name)
        if name not in PARAMETERS:
            continue  # e.g. a cache buster: not ours to judge
        if name in found:
            raise _bad(f"{name} is given more than once")
        found[name] = _decode_component(raw_value)
    return found


def from_query_parameters(found: Mapping[str, str]) -> GraphQLRequest:
    """The request in a GET URL (``query_parameters``); variables and extensions are JSON."""
    variables, extensions = (
        _json(found[name], f"{name} is not strict JSON") if found.get(name) else None
        for name in ("variables", "extensions")
    )
    # An empty operationName means none (GraphQL over HTTP, GET).
    operation_name = found.get("operationName") or None
    return _from_parameters(found.get("query"), operation_name, variables, extensions)
