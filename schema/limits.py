"""Query depth limit that counts introspection fields too.

Strawberry's ``QueryDepthLimiter`` skips ``__`` fields, but introspection types
are recursive (``__Type.fields.type.fields...``) and their answers grow
exponentially with depth; our own types nest at most three levels. So every
field counts here, with room for GraphiQL's introspection query.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

MAX_DEPTH = 15


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            depth = 1 + _depth(selection.selection_set, fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            depth = _depth(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            # Cycles and unknown fragments are reported by graphql-core's own rules.
            if fragment is None or name in seen:
                continue
            depth = _depth(fragment.selection_set, fragments, seen | {name})
        else:  # pragma: no cover - the grammar has no other selection
            continue
        deepest = max(deepest, depth)
    return deepest


class DepthLimit(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        context: ValidationContext = self.context
        fragments = {
            definition.name.value: definition
            for definition in context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        depth = _depth(node.selection_set, fragments, frozenset())
        if depth > MAX_DEPTH:
            context.report_error(
                GraphQLError(f"query depth {depth} exceeds the limit of {MAX_DEPTH}", node)
            )
