"""Parsing and validation are cached across requests (most of a small request's cost)."""

from __future__ import annotations

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from schema.schema import CACHE_SIZE
from tests.conftest import Run

QUERY = "mutation($i: TrackEventInput!) { trackEvent(input: $i) { status } }"


async def test_a_repeated_query_is_parsed_and_validated_once(run: Run) -> None:
    parse, validate = _get_parse_cache(CACHE_SIZE), _get_validate_cache(CACHE_SIZE)
    variables = {"i": {"eventType": "page_view", "sessionId": "cache-test"}}
    first = await run(QUERY, variables)
    assert first.errors is None
    parsed, validated = parse.cache_info(), validate.cache_info()
    for _ in range(3):
        assert (await run(QUERY, variables)).errors is None
    assert parse.cache_info().hits == parsed.hits + 3
    assert validate.cache_info().hits == validated.hits + 3
    assert validate.cache_info().misses == validated.misses
