"""Answer known tracking documents without Strawberry's execution (the tracking fast path).

Most requests a storefront sends are the same ``trackEvent`` or ``trackEvents``
document with new variables. For those, Strawberry's execution (extension hooks,
the document cache, graphql-core's executor, the completion of every item) costs
more than the event itself. ``FastDocuments`` keeps, per exact query text and
``operationName``, a *plan* for documents that the real schema parsed and
validated and whose chosen operation has one simple shape:

* a ``mutation`` whose selection is one field served by ``schema.fast_path``
  with a ``DIRECT`` call: no field extension (``trackEvent``, ``trackEvents``),
  or only permissions that the call runs itself (``CHECKED``: ``importEvents``,
  admin only), with any arguments (variables or literals) and an optional alias;
* below it only fields of plain data (Strawberry's attribute resolvers, no
  ``is_type_of``), aliases allowed, ``__typename`` allowed, no response key
  twice in one selection;
* no directive, fragment or fragment spread anywhere in the document.

A plan is learned only after the slow path answered a request with the text
without a request error, and only for texts up to ``MAX_QUERY_CHARS`` that
mention ``trackEvent`` or ``importEvents``; other texts are never looked at twice (a refused text is
remembered as such). At most ``MAX_PLANS`` texts are remembered, least recently
used dropped first; a plan keeps its text and a location-free AST, so the whole
cache stays under a few MiB however many distinct texts arrive.

With a plan, a POST runs what graphql-core would run and nothing else: variable
coercion, ``get_argument_values``, the field's handler (``schema.fast_path.DIRECT``),
and the completion of the result as graphql-core completes it when every value is
what its type expects. Variables are coerced by ``Coercion`` when every value is
plainly valid (strings for String and ID, finite floats and integers up to 2^53
for Float, anything for JSON, objects with known keys and every required one,
lists as lists, DateTime texts of the common shape by ``datetime.fromisoformat``
(``PLAIN_DATETIME``: the scalar's own values), other scalars and other DateTime
texts by the scalar's own ``coerce_input_value``, as graphql-core calls it), with
graphql-core's results
(defaults filled in, integers made floats); any other value goes to
graphql-core's ``get_variable_values``.

The schema's extensions do not run here; what they do for these documents is
done when the plan is learned (parse with the token limit, validation, one
operation) or is nothing: the query budget (``schema.cost``) charges fields by
their ``@cost``, and every field served here costs 0 points (``importEvents``
declares ``cost=0``; the public fields have none), so the slow path spends
nothing for them and answers ``extensions.cost`` with its default, the very
``NO_COST`` that ``app.graphql_http`` puts in a fast answer. ``plan_for``
refuses a field with a cost, so that stays true.

The answer is the one the slow path gives (same JSON, status and headers:
``app.graphql_http`` builds both). Anything else falls back:

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

import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from inspect import isawaitable
from typing import Any, NoReturn, TypeGuard, cast

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    is_required_input_field,
    parse,
)
from graphql.execution.get_variable_signature import (
    GraphQLVariableSignature,
    get_variable_signature,
)
from graphql.execution.values import (
    VariableValues,
    VariableValueSource,
    get_argument_values,
    get_variable_values,
)
from graphql.pyutils import Undefined
from graphql.utilities.coerce_input_value import coerce_default_value
from strawberry import Schema
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types import ExecutionResult

from schema.completion import Complete, completion
from schema.cost import field_cost
from schema.errors import coded
from schema.fast_path import DIRECT, Direct
from schema.limits import MAX_TOKENS, VALIDATION_RULES, validate

MAX_PLANS = 64
MAX_QUERY_CHARS = 2048
# Only texts naming one of the fields served here are worth a look.
MARKERS = ("trackEvent", "importEvents")


class Declined(Exception):
    """A value ``Coercion`` does not take: graphql-core coerces it (or refuses it)."""


def _decline() -> NoReturn:
    raise Declined


Coerce = Callable[[Any], Any]
# Float takes integers that a float holds exactly (coerce_float_from_int refuses others).
EXACT_INT = 2**53


def _coerce_string(value: Any) -> Any:
    if value is None or type(value) is str:
        return value
    _decline()


def _coerce_float(value: Any) -> Any:
    kind = type(value)
    if value is None or (kind is float and math.isfinite(value)):
        return value
    if kind is int and -EXACT_INT <= value <= EXACT_INT:
        return float(value)
    _decline()


def _identity(value: Any) -> Any:
    return value


def _is_identity(scalar: GraphQLScalarType) -> bool:
    probe = object()
    try:
        return scalar.coerce_input_value(probe) is probe
    except Exception:
        return False


# The ISO 8601 texts that ``datetime.fromisoformat`` reads as Strawberry's DateTime
# parser (dateutil's ``isoparse``) does, the shape every client writes
# (``2026-03-01T10:00:00.123Z``): fromisoformat takes 6 µs less a text, 6 ms an
# import of 1,000. Anything else (``24:00``, the basic format, a week date, other
# digits) is the scalar's own to read or refuse. ``tests/test_app_fast_datetime.py``
# compares the two over this language.
PLAIN_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?P<offset>Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?",
    re.ASCII,
)


def _datetime_coercion(general: Coerce) -> Coerce:
    """The DateTime scalar's coercion, a plain text read by ``datetime.fromisoformat``.

    The result is the scalar's own value: the same fields and the same tzinfo object
    (the scalar's for that offset, asked once per offset text; the pattern allows
    2,881 of them).
    """
    plain = PLAIN_DATETIME.fullmatch
    parse = datetime.fromisoformat
    zones: dict[str, Any] = {}

    def coerce_datetime(value: Any) -> Any:
        match = plain(value) if type(value) is str else None
        if match is None:
            return general(value)
        try:
            parsed = parse(value)
        except ValueError:  # a day the month has not: the scalar's error
            return general(value)
        offset = match["offset"]
        if offset is None:
            return parsed
        zone = zones.get(offset)
        if zone is None:
            zone = zones[offset] = general(f"2000-01-01T00:00:00{offset}").tzinfo
        return parsed.replace(tzinfo=zone)

    return coerce_datetime


def _scalar_coercion(scalar: GraphQLScalarType) -> Coerce | None:
    if scalar is GraphQLString or scalar is GraphQLID:  # ID takes numbers too: declined
        return _coerce_string
    if scalar is GraphQLFloat:
        return _coerce_float
    if scalar.name == "JSON" and _is_identity(scalar):  # strawberry.scalars.JSON
        return _identity
    coerce = scalar.coerce_input_value

    def coerce_leaf(value: Any) -> Any:
        # What graphql-core's coerce_input_value does for a leaf: any exception, or
        # Undefined, refuses the value (graphql-core then reports it).
        if value is None:
            return None
        try:
            result = coerce(value)
        except Exception:
            _decline()
        if result is Undefined:
            _decline()
        return result

    if scalar.parse_value is DateTimeDefinition.parse_value:
        return _datetime_coercion(coerce_leaf)
    return coerce_leaf


def _object_coercion(type_: GraphQLInputObjectType) -> Coerce | None:
    if type_.is_one_of or type_.out_type is not GraphQLInputObjectType.out_type:
        return None
    # Per field name: its output name and coercion; the required names; what a
    # missing optional field is given (its default, None here).
    fields: dict[str, tuple[str, Coerce]] = {}
    required: set[str] = set()
    defaults: dict[str, Any] = {}
    for name, field in type_.fields.items():
        coerce = _input_coercion(field.type)
        if coerce is None:
            return None
        out_name = field.out_name or name
        fields[name] = (out_name, coerce)
        if is_required_input_field(field):
            required.add(name)
            continue
        default = coerce_default_value(field)
        if default is not Undefined and default is not None:
            return None  # a mutable default would be shared
        if default is not Undefined:
            defaults[out_name] = default
    known = frozenset(fields)

    def coerce_object(value: Any) -> Any:
        # graphql-core's result, but for the order of its keys (a Python mapping
        # of keyword arguments: order carries nothing).
        if value is None:
            return None
        if type(value) is not dict or not known.issuperset(value) or not required <= value.keys():
            _decline()
        coerced = defaults.copy()
        for name, item in value.items():
            out_name, coerce = fields[name]
            coerced[out_name] = coerce(item)
        return coerced

    return coerce_object


def _input_coercion(type_: GraphQLInputType) -> Coerce | None:
    """graphql-core's ``coerce_input_value`` for plainly valid values of ``type_``."""
    if isinstance(type_, GraphQLNonNull):
        inner = _input_coercion(type_.of_type)
        if inner is None:
            return None

        def coerce_non_null(value: Any) -> Any:
            return _decline() if value is None else inner(value)

        return coerce_non_null
    if isinstance(type_, GraphQLList):
        item = _input_coercion(type_.of_type)
        if item is None:
            return None

        def coerce_list(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not list:  # one value for a list: graphql-core's to wrap
                _decline()
            return [item(each) for each in value]

        return coerce_list
    if isinstance(type_, GraphQLInputObjectType):
        return _object_coercion(type_)
    if isinstance(type_, GraphQLScalarType):
        return _scalar_coercion(type_)
    return None  # enums


@dataclass(frozen=True, slots=True)
class Coercion:
    """The operation's variables, each given and plainly valid, as graphql-core coerces them."""

    # (name, signature, coercion) per variable
    variables: tuple[tuple[str, GraphQLVariableSignature, Coerce], ...]

    @classmethod
    def of(cls, schema: GraphQLSchema, operation: OperationDefinitionNode) -> Coercion | None:
        variables = []
        for definition in operation.variable_definitions or ():
            signature = get_variable_signature(schema, definition)
            if isinstance(signature, GraphQLError) or definition.default_value is not None:
                return None
            coerce = _input_coercion(signature.type)
            if coerce is None:
                return None
            variables.append((signature.name, signature, coerce))
        return cls(tuple(variables))

    def __call__(self, given: dict[str, Any]) -> VariableValues | None:
        """The coerced variables, or None when graphql-core must coerce them."""
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        try:
            for name, signature, coerce in self.variables:
                if name not in given:
                    return None
                value = given[name]
                sources[name] = VariableValueSource(signature, value)
                coerced[name] = coerce(value)
        except Declined:
            return None
        return VariableValues(sources, coerced)


@dataclass(frozen=True, slots=True)
class Plan:
    """How to answer one (query text, operationName) without the executor."""

    operation: OperationDefinitionNode
    coercion: Coercion | None
    field: GraphQLField
    node: FieldNode
    key: str  # the field's response key
    direct: Direct
    complete: Complete


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
    # A field with a cost spends the query budget, which only the slow path does.
    if field is None or direct is None or field_cost(field):
        return None
    complete = completion(field.type, selection.selection_set)
    if complete is None:
        return None
    key = (selection.alias or selection.name).value
    coercion = Coercion.of(schema._schema, operation)
    return Plan(operation, coercion, field, selection, key, direct, complete)


@dataclass(frozen=True, slots=True)
class Unknown:
    """A text planned once and refused (not a handled shape): not looked at again."""


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
        if (
            key in self.plans
            or len(query) > self.max_query_chars
            or not any(marker in query for marker in MARKERS)
        ):
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
        given = variables or {}
        coerced: VariableValues | list[GraphQLError] | None = None
        if plan.coercion is not None:
            coerced = plan.coercion(given)
        if coerced is None:
            definitions = plan.operation.variable_definitions or ()
            coerced = get_variable_values(self.schema._schema, definitions, given)
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
