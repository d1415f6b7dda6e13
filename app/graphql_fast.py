"""Answer known tracking documents without Strawberry's execution (the tracking fast path).

Most requests a storefront sends are the same ``trackEvent`` or ``trackEvents``
document with new variables. For those, Strawberry's execution (extension hooks,
the document cache, graphql-core's executor, the completion of every item) costs
more than the event itself. ``FastDocuments`` keeps, per exact query text and
``operationName``, a *plan* for documents that the real schema parsed and
validated and whose chosen operation has one simple shape:

* a ``mutation`` whose selection is one field served by ``schema.fast_path``
  with no field extension (``trackEvent``, ``trackEvents``), with any arguments
  (variables or literals) and an optional alias;
* below it only fields of plain data (Strawberry's attribute resolvers, no
  ``is_type_of``), aliases allowed, ``__typename`` allowed, no response key
  twice in one selection;
* no directive, fragment or fragment spread anywhere in the document.

A plan is learned only after the slow path answered a request with the text
without a request error, and only for texts up to ``MAX_QUERY_CHARS`` that
mention ``trackEvent``; other texts are never looked at twice (a refused text is
remembered as such). At most ``MAX_PLANS`` texts are remembered, least recently
used dropped first; a plan keeps its text and a location-free AST, so the whole
cache stays under a few MiB however many distinct texts arrive.

With a plan, a POST runs what graphql-core would run and nothing else:
``get_variable_values`` and ``get_argument_values`` (the same functions, so the
same coercion), then the field's handler (``schema.fast_path.DIRECT``), then the
result is completed as graphql-core completes it when every value is what its
type expects. The answer is the one the slow path gives (same JSON, status and
headers: ``app.graphql_http`` builds both). Anything else falls back:

* before the handler runs (variables or arguments that do not coerce): the
  request goes the slow path, which reports the errors as it always did;
* once the handler has run (it raised, or returned a value the fast completion
  does not take, such as a null where the type forbids one) nothing may run it
  again: the document is executed by graphql-core with the handler's outcome
  put in its place (a middleware returns or raises it), so errors, paths,
  locations and nulls are graphql-core's own; errors are logged and coded as
  ``schema.schema.Schema.execute`` does.

``fast=False`` on ``GraphQLEndpoint`` turns the fast path off (tests compare).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, NoReturn, TypeGuard, cast

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    parse,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Undefined
from strawberry import Schema
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.types import ExecutionResult

from schema.errors import coded
from schema.fast_path import DIRECT, Direct
from schema.limits import MAX_TOKENS, VALIDATION_RULES, validate

MAX_PLANS = 64
MAX_QUERY_CHARS = 2048
# Only texts naming one of the fields served here are worth a look.
MARKER = "trackEvent"

Complete = Callable[[Any], Any]


class NotPlain(Exception):
    """The fast completion met a value it does not take: graphql-core completes it."""


def _not_plain() -> NoReturn:
    raise NotPlain


@dataclass(frozen=True, slots=True)
class Plan:
    """How to answer one (query text, operationName) without the executor."""

    operation: OperationDefinitionNode
    field: GraphQLField
    node: FieldNode
    key: str  # the field's response key
    direct: Direct
    complete: Complete


def _leaf(type_: GraphQLLeafType) -> Complete:
    serialize = type_.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None:
            return None
        result = serialize(value)
        if result is None or result is Undefined:
            _not_plain()
        return result

    return complete


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        result = None if value is None else inner(value)
        if result is None:
            _not_plain()
        return result

    return complete


def _list(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not list:
            _not_plain()
        return [inner(item) for item in value]

    return complete


def _object(type_: GraphQLObjectType, selection_set: SelectionSetNode | None) -> Complete | None:
    if selection_set is None or type_.is_type_of is not None:
        return None
    # (response key, field resolver and completion; None for __typename)
    fields: list[tuple[str, tuple[Callable[..., Any], Complete] | None]] = []
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return None
        key = (selection.alias or selection.name).value
        if any(key == seen for seen, _ in fields):
            return None  # merged by graphql-core; not worth doing here
        name = selection.name.value
        if name == "__typename":
            fields.append((key, None))
            continue
        field = type_.fields.get(name)
        # Strawberry marks the resolver of a plain attribute (no resolver, no extension).
        if field is None or not getattr(field.resolve, "_is_default", False):
            return None
        complete = _completion(field.type, selection.selection_set)
        if complete is None:
            return None
        fields.append((key, (field.resolve, complete)))
    name = type_.name

    def complete_object(value: Any) -> Any:
        if value is None:
            return None
        # A plain attribute's resolver takes no info (Strawberry calls it so too).
        return {
            key: name if read is None else read[1](read[0](value, None)) for key, read in fields
        }

    return complete_object


def _completion(
    type_: GraphQLOutputType, selection_set: SelectionSetNode | None
) -> Complete | None:
    """The completion of a value of ``type_``, or None when the shape is not handled."""
    if isinstance(type_, GraphQLNonNull):
        inner = _completion(type_.of_type, selection_set)
        return None if inner is None else _non_null(inner)
    if isinstance(type_, GraphQLList):
        inner = _completion(type_.of_type, selection_set)
        return None if inner is None else _list(inner)
    if isinstance(type_, GraphQLLeafType):
        return None if selection_set is not None else _leaf(type_)
    if isinstance(type_, GraphQLObjectType):
        return _object(type_, selection_set)
    return None  # interfaces and unions


def _has_directives_or_fragments(document: DocumentNode) -> bool:
    stack: list[SelectionSetNode] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode) or definition.directives:
            return True
        if any(variable.directives for variable in definition.variable_definitions or ()):
            return True
        stack.append(definition.selection_set)
    while stack:
        for selection in stack.pop().selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                return True
            if selection.selection_set is not None:
                stack.append(selection.selection_set)
    return False


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation that runs, as ``schema.limits.OneOperation`` chooses it."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    named = [o for o in operations if o.name is not None and o.name.value == name]
    return named[0] if len(named) == 1 else None


def plan_for(schema: Schema, query: str, operation_name: str | None) -> Plan | None:
    """The plan of a document the schema accepts and that has a handled shape, else None."""
    try:
        # The parse options of the slow path (MaxTokensLimiter), without locations:
        # a plan keeps no token chain.
        document = parse(query, max_tokens=MAX_TOKENS, no_location=True)
    except GraphQLError:
        return None
    if validate(schema._schema, document, VALIDATION_RULES):
        return None
    if _has_directives_or_fragments(document):
        return None
    operation = _operation(document, operation_name)
    mutation = schema._schema.mutation_type
    if operation is None or operation.operation != OperationType.MUTATION or mutation is None:
        return None
    (selection, *others) = operation.selection_set.selections
    if others or not isinstance(selection, FieldNode):
        return None
    field = mutation.fields.get(selection.name.value)
    direct = field.extensions.get(DIRECT) if field is not None else None
    if field is None or direct is None:
        return None
    complete = _completion(field.type, selection.selection_set)
    if complete is None:
        return None
    key = (selection.alias or selection.name).value
    return Plan(operation, field, selection, key, direct, complete)


@dataclass(frozen=True, slots=True)
class Unknown:
    """Not planned (yet): seen for the first time, or not a handled shape."""


REFUSED = Unknown()


@dataclass
class FastDocuments:
    """The plans, least recently used dropped first past ``max_plans``."""

    schema: Schema
    max_plans: int = MAX_PLANS
    max_query_chars: int = MAX_QUERY_CHARS

    def __post_init__(self) -> None:
        self.plans: OrderedDict[tuple[str, str | None], Plan | Unknown] = OrderedDict()
        # Requests answered here, sent back to the slow path, answered by a replay.
        self.answered = self.declined = self.replayed = 0

    def get(self, query: str, operation_name: str | None) -> Plan | None:
        found = self.plans.get((query, operation_name))
        if found is None or isinstance(found, Unknown):
            return None
        self.plans.move_to_end((query, operation_name))
        return found

    def learn(self, query: str, operation_name: str | None) -> None:
        """Plan a text the slow path just ran (once; refused texts are remembered too)."""
        key = (query, operation_name)
        if key in self.plans or len(query) > self.max_query_chars or MARKER not in query:
            return
        self.plans[key] = plan_for(self.schema, query, operation_name) or REFUSED
        while len(self.plans) > self.max_plans:
            self.plans.popitem(last=False)

    async def run(
        self,
        plan: Plan,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        context: Any,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult | None:
        """The answer, or None when the slow path must answer (nothing has run yet)."""
        schema = self.schema._schema
        definitions = plan.operation.variable_definitions or ()
        coerced = get_variable_values(schema, definitions, variables or {})
        if not isinstance(coerced, VariableValues):
            self.declined += 1
            return None
        try:
            arguments = get_argument_values(plan.field, plan.node, coerced)
        except GraphQLError:
            self.declined += 1
            return None
        try:
            outcome = await plan.direct(context, arguments)
        except Exception as error:
            outcome = error
        else:
            try:
                data = {plan.key: plan.complete(outcome)}
            except Exception:  # the value is graphql-core's to complete (or refuse)
                pass
            else:
                self.answered += 1
                return ExecutionResult(data=data, errors=None)
        self.replayed += 1
        return await self._replay(query, operation_name, variables, context, extensions, outcome)

    async def _replay(
        self,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        context: Any,
        extensions: dict[str, Any] | None,
        outcome: Any,
    ) -> ExecutionResult:
        """graphql-core's answer when the root field resolves (or raises) ``outcome``."""

        def middleware(next_: Any, source: Any, info: Any, **arguments: Any) -> Any:
            if info.path.prev is None:  # the root field: its handler already ran
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome
            return next_(source, info, **arguments)

        schema = self.schema
        # As Strawberry calls graphql-core (Schema._execute_operation).
        executed = execute(
            schema._schema,
            parse(query, max_tokens=MAX_TOKENS),  # with locations, as the slow path's
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
            middleware=[middleware],
            executor_class=schema.execution_context_class,
            is_awaitable=cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable),
            operation_extensions=extensions,
        )
        result = await executed if isawaitable(executed) else executed
        errors = list(result.errors or ())
        if errors:
            schema._process_errors(errors)
        return ExecutionResult(
            data=result.data, errors=[coded(error) for error in errors] if errors else None
        )
