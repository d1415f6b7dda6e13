"""Parsed and validated documents, kept across requests within a memory budget.

Parsing and validating is most of a small request's cost, so a repeated query
text reuses both. A kept document is kept whole: its source text, every token
(the tokens link to one another, so any node keeps them all) with its string
value, the nodes and their locations, and its validation errors. The cache
counts what each costs (``document_bytes``) and holds at most ``CACHE_ENTRIES``
documents and ``CACHE_BYTES`` in all; a document estimated over
``MAX_ENTRY_BYTES`` is never kept. A text that fails to parse is not kept
either; one that fails validation is, errors and all, so a hostile document
sent again costs a lookup.

Keyed by the query text and the parse options; a validation is reused only
for the same schema and rules.

A document leaves memory only when the garbage collector runs: validation
leaves reference cycles that still hold it. Python runs a full collection
after a share of the long-lived objects, not of the bytes, so distinct large
documents (one of a few tokens can be a 4 MiB text) would pile up between
collections. The cache therefore counts what it lets go (documents it would
not keep, entries it evicts) and runs a full collection every
``GARBAGE_BYTES`` of them; receiving and parsing that much costs the server
far more than the collection.
"""

from __future__ import annotations

import gc
import sys
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension

from schema.limits import validate

CACHE_ENTRIES = 256
CACHE_BYTES = 32 * 1024 * 1024
MAX_ENTRY_BYTES = 2 * 1024 * 1024
# A token with its share of the nodes and locations built from it; measured at
# 330-630 bytes for the densest documents the token limit allows.
TOKEN_BYTES = 700
# A validation error: its message, node list, locations (most are far smaller).
ERROR_BYTES = 2048
GARBAGE_BYTES = 64 * 1024 * 1024


def document_bytes(query: str, document: DocumentNode) -> int:
    """Estimated memory a parsed document keeps alive, its source text included.

    Linear in the tokens, which the token limit bounds. String values are
    counted as built: an escape such as ``\\u{1F600}`` makes a value four bytes
    a character however ASCII its source.
    """
    size = sys.getsizeof(query)
    token = document.loc.start_token if document.loc is not None else None
    while token is not None:
        size += TOKEN_BYTES
        if token.value is not None:
            size += sys.getsizeof(token.value)
        token = token.next
    return size


@dataclass
class CachedDocument:
    document: DocumentNode
    document_size: int
    # (schema, rules, errors) of the last validation
    validation: tuple[GraphQLSchema, tuple[Any, ...], list[GraphQLError]] | None = None

    @property
    def size(self) -> int:
        errors = self.validation[2] if self.validation is not None else []
        return self.document_size + ERROR_BYTES * len(errors)


@dataclass(eq=False)
class DocumentCache:
    """A least-recently-used cache bounded by entries and by estimated bytes.

    Also the extension factory: in a schema's extension list it makes one
    ``CachedParseAndValidation`` per request, all sharing this cache.
    """

    max_entries: int = CACHE_ENTRIES
    max_bytes: int = CACHE_BYTES
    max_entry_bytes: int = MAX_ENTRY_BYTES
    garbage_bytes: int = GARBAGE_BYTES
    size: int = 0
    hits: int = 0
    misses: int = 0
    # estimated bytes let go since the last collection, and collections run
    dropped: int = 0
    collections: int = 0
    # each entry with its size when it was put
    entries: OrderedDict[Hashable, tuple[CachedDocument, int]] = field(default_factory=OrderedDict)

    def get(self, key: Hashable) -> CachedDocument | None:
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self.entries.move_to_end(key)
        return found[0]

    def put(self, key: Hashable, entry: CachedDocument) -> bool:
        """Keep ``entry`` (again, when its size changed), evicting the oldest to fit.

        False when it is too big to keep: the caller then owns the document.
        """
        previous = self.entries.pop(key, None)
        if previous is not None:
            self.size -= previous[1]
        size = entry.size
        if size > self.max_entry_bytes:
            self._drop(size)
            return False
        while self.entries and (
            len(self.entries) >= self.max_entries or self.size + size > self.max_bytes
        ):
            _, (_, evicted) = self.entries.popitem(last=False)
            self.size -= evicted
            self._drop(evicted)
        self.entries[key] = (entry, size)
        self.size += size
        return True

    def _drop(self, size: int) -> None:
        self.dropped += size
        if self.dropped >= self.garbage_bytes:
            self.dropped = 0
            self.collections += 1
            gc.collect()

    def __call__(self) -> CachedParseAndValidation:
        return CachedParseAndValidation(self)


class CachedParseAndValidation(SchemaExtension):
    """Strawberry's ParserCache and ValidationCache in one, bounded by size."""

    def __init__(self, cache: DocumentCache) -> None:
        super().__init__()
        self.cache = cache
        self.key: Hashable = None
        self.entry: CachedDocument | None = None
        self.kept = False

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query:
            self.key = (query, tuple(sorted(context.parse_options.items())))
            self.entry = self.cache.get(self.key)
            if self.entry is None:
                # A syntax error propagates, and strawberry answers it.
                document = parse(query, **context.parse_options)
                self.entry = CachedDocument(document, document_bytes(query, document))
                self.kept = self.cache.put(self.key, self.entry)
            else:
                self.kept = True
            context.graphql_document = self.entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self.entry
        if entry is not None and context.graphql_document is entry.document:
            schema, rules = context.schema._schema, context.validation_rules
            if entry.validation is None or entry.validation[:2] != (schema, rules):
                errors = validate(schema, entry.document, rules)
                entry.validation = (schema, rules, errors)
                if self.kept:  # its errors count now
                    self.kept = self.cache.put(self.key, entry)
            context.pre_execution_errors = list(entry.validation[2])
        yield
