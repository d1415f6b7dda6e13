"""The document cache (schema.caches): a repeated query is parsed and validated once, and
what the cache holds stays under its byte cap, counted as what each document really keeps."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from typing import Any

import pytest
import strawberry
from graphql import DocumentNode, parse

from schema import caches
from schema.caches import CachedDocument, DocumentCache, document_bytes
from schema.limits import MAX_TOKENS, OneOperation, ValidationRules
from tests.conftest import SCHEMA, Run

QUERY = "mutation($i: TrackEventInput!) { trackEvent(input: $i) { status } }"


def schema_cache() -> DocumentCache:
    return next(e for e in SCHEMA.extensions if isinstance(e, DocumentCache))


def count_validations(monkeypatch: pytest.MonkeyPatch) -> list[DocumentNode]:
    validated: list[DocumentNode] = []
    real = caches.validate

    def counting(schema: Any, document: DocumentNode, rules: Any) -> Any:
        validated.append(document)
        return real(schema, document, rules)

    monkeypatch.setattr(caches, "validate", counting)
    return validated


async def test_a_repeated_query_is_parsed_and_validated_once(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, validated = schema_cache(), count_validations(monkeypatch)
    variables = {"i": {"eventType": "page_view", "sessionId": "cache-test"}}
    query = QUERY + " # parsed-once"  # a text no other test sends
    assert (await run(query, variables)).errors is None
    hits, misses = cache.hits, cache.misses
    for _ in range(3):
        assert (await run(query, variables)).errors is None
    assert (cache.hits, cache.misses) == (hits + 3, misses)
    assert len(validated) == 1


async def test_a_refused_document_is_kept_with_its_errors(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated = count_validations(monkeypatch)
    for _ in range(3):
        result = await run("{ refusedTwice }")
        assert [e.message for e in result.errors] == [
            "Cannot query field 'refusedTwice' on type 'Query'."
        ]
    assert len(validated) == 1


async def test_a_syntax_error_is_not_kept(run: Run) -> None:
    cache = schema_cache()
    entries = list(cache.entries)
    for _ in range(2):
        result = await run("{ never kept")
        assert [e.extensions["code"] for e in result.errors] == ["BAD_USER_INPUT"]
    assert list(cache.entries) == entries


def entry(size: int) -> CachedDocument:
    return CachedDocument(parse("{ __typename }"), size)


def test_the_cache_stays_under_its_byte_cap_and_evicts_the_least_recent() -> None:
    cache = DocumentCache(max_entries=10, max_bytes=1000, max_entry_bytes=400)
    for key, size in enumerate([300, 300, 300, 300, 401, 100, 1, 400, 250]):
        cache.put(key, entry(size))
        assert cache.size == sum(size for _, size in cache.entries.values()) <= 1000
        if key == 3:
            assert list(cache.entries) == [1, 2, 3]  # 0 made room for 3
            assert cache.get(1) is not None  # 1 is now the most recent
    # 401 is over the entry cap; 2 and 3 made room for 400, then 1 for 250.
    assert [(key, size) for key, (_, size) in cache.entries.items()] == [
        (5, 100),
        (6, 1),
        (7, 400),
        (8, 250),
    ]
    assert cache.size == 751


def test_the_cache_holds_at_most_its_entry_count() -> None:
    cache = DocumentCache(max_entries=3, max_bytes=10**9)
    for key in range(10):
        cache.put(key, entry(1))
    assert list(cache.entries) == [7, 8, 9]
    assert cache.size == 3


def test_a_resized_entry_is_counted_once() -> None:
    cache = DocumentCache(max_entries=3, max_bytes=1000)
    kept = entry(100)
    cache.put("k", kept)
    kept.document_size = 300  # as validation errors add to an entry
    cache.put("k", kept)
    assert (cache.size, list(cache.entries)) == (300, ["k"])


def dense(tokens: int) -> str:
    """Many small tokens: the most nodes per byte."""
    return "{ " + " ".join(f"a{i}: __typename" for i in range(tokens // 3)) + " }"


@pytest.mark.parametrize(
    "query",
    [
        dense(MAX_TOKENS - 2),
        '{ __type(name: "' + "x" * 100_000 + '") { name } }',
        # One escape makes the value four bytes a character, the source staying ASCII.
        '{ __type(name: "' + "x" * 100_000 + '\\u{1F600}") { name } }',
        '{ __type(name: """' + "line\n" * 20_000 + '""") { name } }',
        "{ __typename } #" + "x" * 100_000,
        "{ __typename }" + " " * 100_000 + "# \U0001f600",
    ],
    ids=["tokens", "string", "escaped-string", "block-string", "comment", "blank-astral"],
)
def test_the_estimate_covers_what_a_document_keeps(query: str) -> None:
    tracemalloc.start()
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = document_bytes(query, document)
    actual = kept + sys.getsizeof(query)
    assert actual <= estimate <= 3 * actual


@strawberry.type
class Other:
    @strawberry.field
    def other(self) -> int:
        return 1


async def test_a_validation_is_reused_only_for_the_same_schema() -> None:
    # A schema built from another's extension list shares its cache, as bench/floors.py does.
    other = strawberry.Schema(query=Other, extensions=list(SCHEMA.extensions))
    assert (await other.execute("{ other }")).data == {"other": 1}
    refused = await SCHEMA.execute("{ other }")
    assert [e.message for e in refused.errors] == ["Cannot query field 'other' on type 'Query'."]
    assert (await other.execute("{ other }")).data == {"other": 1}


async def test_the_schema_cache_keeps_big_documents_out() -> None:
    cache = DocumentCache(max_bytes=2_000_000, max_entry_bytes=500_000)
    schema = strawberry.Schema(query=Other, extensions=[ValidationRules, cache, OneOperation])
    queries = [f"{{ other @skip(if: false) }} # {i} {'x' * 100_000}" for i in range(30)]
    for query in queries:
        assert (await schema.execute(query)).data == {"other": 1}
        assert cache.size <= 2_000_000
    # ~209 KB each: the text, the comment's value, 13 tokens; 9 fit in 2 MB.
    assert [key[0] for key in cache.entries] == queries[-9:]
    big = "{ other } # " + "x" * 600_000
    assert (await schema.execute(big)).data == {"other": 1}
    assert all(key[0] != big for key in cache.entries)


def test_what_the_cache_lets_go_is_counted_and_collected() -> None:
    cache = DocumentCache(max_entries=2, max_entry_bytes=500, garbage_bytes=1000)
    cache.put("too big", entry(600))
    assert (cache.dropped, cache.collections) == (600, 0)
    for key in ("a", "b", "c"):  # "a" is evicted for "c"
        cache.put(key, entry(300))
    assert (cache.dropped, cache.collections) == (900, 0)
    cache.put("d", entry(300))  # evicts "b": 1,200 let go, a collection
    assert (cache.dropped, cache.collections) == (0, 1)


async def test_documents_let_go_do_not_wait_for_pythons_own_collections() -> None:
    cache = DocumentCache(max_entry_bytes=100_000, garbage_bytes=1_000_000)
    schema = strawberry.Schema(query=Other, extensions=[ValidationRules, cache, OneOperation])
    marker = "{ other } # let go"
    gc.collect()
    gc.disable()  # only the cache's collections run
    try:
        for i in range(40):  # ~400 KB each: too big to keep
            assert (await schema.execute(f"{marker} {i} " + "x" * 200_000)).data == {"other": 1}
        alive = [
            document
            for document in gc.get_objects()
            if isinstance(document, DocumentNode)
            and document.loc is not None
            and document.loc.source.body.startswith(marker)
        ]
    finally:
        gc.enable()
    # Validation leaves each in a reference cycle: without the collections all 40 stay.
    assert cache.collections >= 10
    assert len(alive) <= 3
