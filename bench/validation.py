"""``python -m bench.validation``: the worst validation time of documents of ≤ 8 KB.

Each shape is a family of hostile documents (fragment fan-out, cycles, many
operations, deep nesting, repeated fields, ...) grown to the largest member
that fits in ``--bytes`` and parses under the token limit; it is then parsed
and validated the way the server does (``schema.limits.validate`` with the
schema's rules, no cache), ``--repeats`` times. The table gives the fastest
run's CPU time (noise from other work on the host only slows a run down) and
the first error the client would get; the last line, the worst shape.

    python -m bench.validation                  # every shape, 8 KB, 5 repeats
    python -m bench.validation --shapes fanout,same_nested --repeats 20
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse

from schema import build_schema
from schema.limits import MAX_TOKENS, VALIDATION_RULES, validate

Shape = Callable[[int], str]


def levels(root: str, level: str, count: int, last: str) -> str:
    """``root``, then ``level`` for i in 0..count-1 (``{i}``, ``{j}`` = i + 1), then ``last``.

    ``level`` and ``last`` are ``str.format`` templates (GraphQL's braces doubled,
    ``{n}`` in ``last`` = count); ``root`` is plain text.
    """
    body = "".join(level.format(i=i, j=i + 1) for i in range(count))
    return root + body + last.format(n=count)


def fanout(n: int) -> str:
    """F0 spreads F1 twice, F1 spreads F2 twice, ...: 2^n paths."""
    level = "fragment F{i} on Query{{...F{j} ...F{j}}}"
    return levels("{...F0}", level, n, "fragment F{n} on Query{{__typename}}")


def fanout_fields(n: int) -> str:
    """Fan-out whose every fragment also selects a field."""
    level = "fragment F{i} on Query{{__typename ...F{j} ...F{j}}}"
    return levels("{__typename ...F0}", level, n, "fragment F{n} on Query{{__typename}}")


def fanout_pairs(n: int) -> str:
    """Two fragments per level, each spreading both of the next level."""
    level = "fragment F{i} on Query{{...F{j} ...G{j}}}fragment G{i} on Query{{...F{j} ...G{j}}}"
    last = "fragment F{n} on Query{{__typename}}fragment G{n} on Query{{__typename}}"
    return levels("{...F0 ...G0}", level, n, last)


def fanout_dense(n: int) -> str:
    """Every fragment spreads every later one."""
    fragments = "".join(
        f"fragment F{i} on Query{{" + " ".join(f"...F{j}" for j in range(i + 1, n + 1)) + "}"
        for i in range(n)
    )
    return "{...F0}" + fragments + f"fragment F{n} on Query{{__typename}}"


def fanout_nested(n: int) -> str:
    """Fan-out under same-named fields: each level compares two sub-selections."""
    level = "fragment F{i} on __Type{{name ofType{{name ...F{j}}} ofType{{...F{j}}}}}"
    return levels('{__type(name:"Query"){...F0}}', level, n, "fragment F{n} on __Type{{name}}")


def cycle(n: int) -> str:
    """One big cycle, each fragment spreading the next two."""
    fragments = "".join(
        f"fragment F{i} on Query{{...F{(i + 1) % n} ...F{(i + 2) % n}}}" for i in range(n)
    )
    return "{...F0}" + fragments


def self_cycles(n: int) -> str:
    """Every fragment spreads itself and the next; all spread at the root."""
    spreads = " ".join(f"...F{i}" for i in range(n))
    fragments = "".join(f"fragment F{i} on Query{{...F{i} ...F{(i + 1) % n}}}" for i in range(n))
    return "{" + spreads + "}" + fragments


def many_operations(n: int) -> str:
    return " ".join(f"query Q{i}{{__typename}}" for i in range(n))


def many_operations_fragments(n: int) -> str:
    """Operations each spreading one long fragment chain (with a variable)."""
    operations = " ".join(f"query Q{i}($v:Boolean!){{...F0}}" for i in range(n))
    level = "fragment F{i} on Query{{__typename@skip(if:$v) ...F{j}}}"
    return levels(operations, level, 40, "fragment F{n} on Query{{__typename}}")


def deep_fields(n: int) -> str:
    return '{__type(name:"Q"){' + "ofType{" * n + "name" + "}" * (n + 1) + "}"


def deep_inline_fragments(n: int) -> str:
    return "{" + "...on Query{" * n + "__typename" + "}" * (n + 1)


def same_field(n: int) -> str:
    return "{" + " ".join("__typename" for _ in range(n)) + "}"


def same_alias(n: int) -> str:
    return "{" + " ".join("a:__typename" for _ in range(n)) + "}"


def same_nested(n: int) -> str:
    """Same-named fields with sub-selections: every pair compares its children."""
    return "{" + " ".join("__schema{types{name}}" for _ in range(n)) + "}"


def same_nested_fragments(n: int) -> str:
    """Many fragments selecting the same nested field, spread side by side."""
    spreads = " ".join(f"...F{i}" for i in range(n))
    fragments = "".join(f"fragment F{i} on __Schema{{types{{name}}}}" for i in range(n))
    return "{__schema{" + spreads + "}}" + fragments


def conflicting_arguments(n: int) -> str:
    """Same-named fields whose arguments differ: every pair is a conflict."""
    return "{" + " ".join(f'__type(name:"{i}"){{name}}' for i in range(n)) + "}"


def same_arguments(n: int) -> str:
    return "{" + " ".join('__type(name:"Q"){name}' for _ in range(n)) + "}"


def long_argument_lists(n: int) -> str:
    arguments = " ".join(f"a{i}:1" for i in range(n))
    return "{" + f"__typename({arguments}) __typename({arguments})" + "}"


def big_argument_values(n: int) -> str:
    value = "{" + " ".join(f"a{i}:[1,2]" for i in range(20)) + "}"
    return "{" + " ".join(f"__typename(x:{value})" for _ in range(n)) + "}"


def inline_fragments_wide(n: int) -> str:
    return "{" + " ".join("...on Query{__typename}" for _ in range(n)) + "}"


def inline_fragments_tree(n: int) -> str:
    def tree(depth: int) -> str:
        if depth == 0:
            return "__typename"
        return "...on Query{" + tree(depth - 1) + " " + tree(depth - 1) + "}"

    return "{" + tree(n) + "}"


def many_directives(n: int) -> str:
    return "{" + " ".join("__typename@skip(if:false)@include(if:true)" for _ in range(n)) + "}"


def repeated_directive(n: int) -> str:
    return "{__typename" + " @skip(if:false)" * n + "}"


def many_variables(n: int) -> str:
    definitions = " ".join(f"$v{i}:Boolean=false" for i in range(n))
    fields = " ".join(f"a{i}:__typename@skip(if:$v{i})" for i in range(n))
    return "query(" + definitions + "){" + fields + "}"


def unused_variables(n: int) -> str:
    return "query(" + " ".join(f"$v{i}:Boolean" for i in range(n)) + "){__typename}"


def unknown_types(n: int) -> str:
    """Unknown type conditions near the schema's names: each error searches for suggestions."""
    return "{__typename}" + "".join(f"fragment F{i} on DashboardStatx{{a}}" for i in range(n))


def unknown_fields(n: int) -> str:
    return '{__type(name:"Q"){' + " ".join(f"possibleTypez{i}" for i in range(n)) + "}}"


SHAPES: dict[str, Shape] = {
    shape.__name__: shape
    for shape in (
        fanout,
        fanout_fields,
        fanout_pairs,
        fanout_dense,
        fanout_nested,
        cycle,
        self_cycles,
        many_operations,
        many_operations_fragments,
        deep_fields,
        deep_inline_fragments,
        same_field,
        same_alias,
        same_nested,
        same_nested_fragments,
        conflicting_arguments,
        same_arguments,
        long_argument_lists,
        big_argument_values,
        inline_fragments_wide,
        inline_fragments_tree,
        many_directives,
        repeated_directive,
        many_variables,
        unused_variables,
        unknown_types,
        unknown_fields,
    )
}


# Larger members are cheap: graphql-core aborts fragments nested 200 deep.
CAPS = {"fanout_nested": 90}


def parses(query: str) -> bool:
    try:
        parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return False
    return True


def largest(shape: Shape, max_bytes: int) -> tuple[int, str]:
    """The largest n whose document fits in ``max_bytes`` and parses (binary search)."""

    def fits(n: int) -> bool:
        query = shape(n)
        return len(query.encode()) <= max_bytes and parses(query)

    low, high = 1, 2
    if not fits(low):
        raise ValueError(f"{shape.__name__}: even n=1 does not fit")
    cap = CAPS.get(shape.__name__)
    while fits(high) and (cap is None or high <= cap):
        low, high = high, high * 2
    if cap is not None:
        high = min(high, cap + 1)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low, shape(low)


@dataclass
class Measure:
    name: str
    n: int
    size: int
    parse_ms: float
    validate_ms: float
    errors: list[GraphQLError]


def fastest(run: Callable[[], object], repeats: int) -> float:
    """The fastest run's CPU time in ms."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best * 1000


def measure(schema: GraphQLSchema, name: str, max_bytes: int, repeats: int) -> Measure:
    n, query = largest(SHAPES[name], max_bytes)
    document: DocumentNode = parse(query, max_tokens=MAX_TOKENS)
    parse_ms = fastest(lambda: parse(query, max_tokens=MAX_TOKENS), repeats)
    validate_ms = fastest(lambda: validate(schema, document, VALIDATION_RULES), repeats)
    errors = validate(schema, document, VALIDATION_RULES)
    return Measure(name, n, len(query.encode()), parse_ms, validate_ms, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes", type=int, default=8192, help="document size (default 8192)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per shape (default 5)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated names")
    args = parser.parse_args()
    schema = build_schema()._schema
    print(f"shape{'':22} {'n':>5} {'bytes':>6} {'parse ms':>9} {'validate ms':>12}  first error")
    results = []
    for name in args.shapes.split(","):
        result = measure(schema, name, args.bytes, args.repeats)
        results.append(result)
        first = result.errors[0].message.splitlines()[0][:60] if result.errors else "valid"
        print(
            f"{name:27} {result.n:5} {result.size:6} {result.parse_ms:9.1f} "
            f"{result.validate_ms:12.1f}  {first}"
        )
    worst = max(results, key=lambda result: result.validate_ms)
    print(
        f"worst validation: {worst.name}, {worst.validate_ms:.1f} ms CPU "
        f"(parse {worst.parse_ms:.1f} ms) for {worst.size} bytes"
    )


if __name__ == "__main__":
    main()
