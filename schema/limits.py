"""What one GraphQL document may cost before anything runs.

Each bounds the work a document can cause, and each is checked in work linear
in the document, so a hostile one costs no more than its size allows (the
worst shapes of ≤ 8 KB are measured by ``python -m bench.validation``):

* ``MAX_TOKENS`` lexical tokens, comments included (the parser stops at the
  next one);
* ``MAX_DEPTH`` nested fields per operation, through fragments. Every field
  counts, introspection too: its types are recursive (``__Type.fields.type
  .fields...``) and its answers grow exponentially with depth, while our own
  types nest at most three levels; GraphiQL's introspection query fits;
* ``MAX_ALIASES`` aliases in the document, a fragment's counted at each spread;
* ``MAX_FIELD_MERGE_COST`` units of graphql-core's field-merging check
  (OverlappingFieldsCanBeMerged), which is quadratic in repeated response names
  and fragment spreads. Queries as people write them spend little or none
  (GraphiQL's introspection query and the benchmark's admin queries: 0); the
  library's own default, 500,000, costs about a second;
* ``MAX_VALIDATION_ERRORS`` errors, then validation stops: each unknown name
  costs a "did you mean" search over the schema's names;
* one operation, or ``operationName`` naming one of several.

Depth and aliases are summed per fragment once (fragments that spread one
another twice at each step once cost time doubling with each fragment).
Cycles and unknown fragments are graphql-core's rules' to report; here they add
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OverlappingFieldsCanBeMergedRule,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    specified_rules,
)
from graphql import validate as graphql_validate
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

MAX_TOKENS = 2000
MAX_DEPTH = 15
MAX_ALIASES = 30
MAX_FIELD_MERGE_COST = 5000
MAX_VALIDATION_ERRORS = 10


@dataclass(frozen=True)
class Nesting:
    """A selection set's own cost, its fragment spreads not followed."""

    depth: int
    aliases: int
    # (fragment name, fields above the spread), in document order
    spreads: tuple[tuple[str, int], ...]


def nesting(selection_set: SelectionSetNode) -> Nesting:
    """Walk one selection set (without recursion: the parser allows 200 levels)."""
    depth = aliases = 0
    spreads: list[tuple[str, int]] = []
    stack = [(selection_set, 0)]
    while stack:
        current, above = stack.pop()
        for selection in current.selections:
            if isinstance(selection, FieldNode):
                depth = max(depth, above + 1)
                aliases += selection.alias is not None
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, above + 1))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, above))
            elif isinstance(selection, FragmentSpreadNode):
                spreads.append((selection.name.value, above))
    return Nesting(depth, aliases, tuple(spreads))


@dataclass(frozen=True)
class Cost:
    depth: int
    aliases: int


class FragmentCosts:
    """Each fragment's cost with its spreads followed, each fragment walked once."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.costs: dict[str, Cost] = {}

    def of(self, own: Nesting) -> Cost:
        """The cost of a selection set whose own nesting is ``own``."""
        for name, _ in own.spreads:
            self._resolve(name)
        return self._combine(own)

    def _combine(self, own: Nesting) -> Cost:
        depth, aliases = own.depth, own.aliases
        for name, above in own.spreads:
            # Unknown, or on a cycle (still being resolved): adds nothing.
            spread = self.costs.get(name)
            if spread is not None:
                depth = max(depth, above + spread.depth)
                aliases += spread.aliases
        return Cost(depth, aliases)

    def _resolve(self, root: str) -> None:
        # Depth-first with an explicit stack: a chain of fragments is as long
        # as the document allows, deeper than Python's recursion limit.
        if root in self.costs or root not in self.fragments:
            return
        own = {root: nesting(self.fragments[root].selection_set)}
        path = [(root, iter(own[root].spreads))]
        on_path = {root}
        while path:
            name, pending = path[-1]
            for spread, _ in pending:
                if spread in self.fragments and spread not in self.costs and spread not in on_path:
                    own[spread] = nesting(self.fragments[spread].selection_set)
                    path.append((spread, iter(own[spread].spreads)))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.remove(name)
                self.costs[name] = self._combine(own[name])


class DocumentLimits(ValidationRule):
    """``MAX_DEPTH`` per operation and ``MAX_ALIASES`` per document."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.fragments = FragmentCosts(context.document)
        self.aliases = 0

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        cost = self.fragments.of(nesting(node.selection_set))
        if cost.depth > MAX_DEPTH:
            self.report_error(
                GraphQLError(f"query depth {cost.depth} exceeds the limit of {MAX_DEPTH}", node)
            )
        self.aliases += cost.aliases

    def leave_document(self, *_: Any) -> None:
        if self.aliases > MAX_ALIASES:
            self.report_error(
                GraphQLError(
                    f"{self.aliases} aliases (each fragment's counted at every spread) "
                    f"exceed the limit of {MAX_ALIASES}"
                )
            )


class BoundedFieldMerging(OverlappingFieldsCanBeMergedRule):
    """graphql-core's field-merging check, stopped past ``MAX_FIELD_MERGE_COST``."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = MAX_FIELD_MERGE_COST

    def enter_selection_set(self, *args: Any) -> None:
        try:
            super().enter_selection_set(*args)
        except ValidationAbortedError:
            # Raised again so the client learns which limit it met; validate()
            # reports it as its last error.
            raise ValidationAbortedError(
                "Validation aborted: checking that same-named fields can be merged "
                f"would cost more than {MAX_FIELD_MERGE_COST} comparisons. "
                "Repeat fewer fields and fragment spreads."
            ) from None


# graphql-core's rules with the field-merging check bounded, and ours. One
# tuple object: the document cache reuses a validation only for the same rules.
VALIDATION_RULES: tuple[type[ASTValidationRule], ...] = (
    *(
        BoundedFieldMerging if rule is OverlappingFieldsCanBeMergedRule else rule
        for rule in specified_rules
    ),
    DocumentLimits,
)


def validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """Strawberry's validate_document (which adds its two rules), errors bounded."""
    return graphql_validate(
        schema,
        document,
        (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
        max_errors=MAX_VALIDATION_ERRORS,
    )


class ValidationRules(SchemaExtension):
    """Validate with ``VALIDATION_RULES`` instead of strawberry's list."""

    def on_operation(self) -> Iterator[None]:
        self.execution_context.validation_rules = VALIDATION_RULES
        yield


class OneOperation(SchemaExtension):
    """Which operation runs must be clear: several need an ``operationName`` that names one.

    Strawberry would otherwise run the first of several, and answer an unknown
    name with a plain-text HTTP 400.
    """

    def on_parse(self) -> Iterator[None]:
        yield
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            return
        names = [
            definition.name.value if definition.name else None
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
        ]
        # Strawberry fills operation_name in from the document; what the client sent is kept here.
        requested: str | None = context._provided_operation_name
        if requested is None:
            if len(names) > 1:
                raise GraphQLError(
                    "The document has several operations: operationName must name one of them."
                )
            if not names:
                raise GraphQLError("The document has no operation to run.")
        elif requested not in names:
            raise GraphQLError(f"The document has no operation named {requested!r}.")
