"""The query budget: each operation's cost, spent before it runs (README, Query budget).

Every admin field declares ``@cost(points: N)`` (``schema.permissions.admin_field``).
Before execution, ``QueryBudget`` adds up the root fields the operation will run:
each response key once (as the executor merges them), fragments followed, fields
that ``@skip``/``@include`` leave out not counted. That sum is ``requested``.

An admin token spends from one budget per tenant it reads (the field's
``tenantId``, or upsertTenant's ``id``; 'default' when missing; ``*`` for fields
reading no one tenant) — ``core.budget.QueryBudgets``. Nothing is spent for a
field that will be refused anyway (no admin token, an invalid tenant id, a tenant
outside the token's scope: its permission answers), nor for public fields.
When a budget holds too little the operation does not run: a request error
``RATE_LIMITED`` with ``retryAfter`` (seconds), HTTP 429 with ``Retry-After`` in
``application/graphql-response+json``. An operation costing more than a budget
can ever hold is ``BAD_USER_INPUT``.

Every answer carries ``extensions.cost {requested, budgetRemaining}``: the lowest
balance among the budgets it spent from, or null when it spent from none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from core.errors import AppError, BadUserInput, RateLimited
from metrics.ingest import validate_tenant
from schema.context import Context
from schema.permissions import Cost

DEFINITION = "strawberry-definition"
EVERY_TENANT = "*"
NO_COST: dict[str, Any] = {"requested": 0, "budgetRemaining": None}


def field_cost(field: Any) -> int:
    """A GraphQL field's ``@cost`` points (0 without one)."""
    definition = (field.extensions or {}).get(DEFINITION)
    for directive in getattr(definition, "directives", ()):
        if isinstance(directive, Cost):
            return directive.points
    return 0


def _included(node: Any, variables: VariableValues) -> bool:
    for directive, runs_when in ((GraphQLSkipDirective, False), (GraphQLIncludeDirective, True)):
        for used in node.directives or ():
            if (
                used.name.value == directive.name
                and get_argument_values(directive, used, variables)["if"] != runs_when
            ):
                return False
    return True


def root_fields(
    document: Any, operation: OperationDefinitionNode, variables: VariableValues
) -> Iterator[FieldNode]:
    """The operation's root fields as the executor collects them: one per response key."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    keys: set[str] = set()
    spread: set[str] = set()
    stack = [operation.selection_set]
    while stack:
        for selection in reversed(stack.pop().selections):
            if not _included(selection, variables):
                continue
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                if key not in keys:
                    keys.add(key)
                    yield selection
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in spread and name in fragments:
                    spread.add(name)
                    stack.append(fragments[name].selection_set)


def _root_type(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> GraphQLObjectType | None:
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]


def charges(
    schema: GraphQLSchema,
    document: Any,
    operation: OperationDefinitionNode,
    variables: VariableValues,
    context: Context,
) -> tuple[int, dict[str, int]]:
    """The operation's cost, and the points each tenant's budget is to pay of it."""
    root = _root_type(schema, operation)
    if root is None:
        return 0, {}
    identity = context.admin()
    requested = 0
    owed: dict[str, int] = {}
    for node in root_fields(document, operation, variables):
        field = root.fields.get(node.name.value)
        points = field_cost(field) if field is not None else 0
        if not points or field is None:
            continue
        requested += points
        if identity is None:
            continue  # refused by the field's permission: nothing runs
        try:
            arguments = get_argument_values(field, node, variables)
            names_tenant = "tenantId" in field.args or "id" in field.args
            tenant = (
                validate_tenant(arguments.get("tenantId", arguments.get("id")))
                if names_tenant
                else EVERY_TENANT
            )
        except (GraphQLError, AppError):
            continue  # reported by execution; the field does not run
        if tenant != EVERY_TENANT and not identity.may_read(tenant):
            continue
        owed[tenant] = owed.get(tenant, 0) + points
    return requested, owed


def token_key(authorization: str | None) -> bytes:
    """A budget's token part: a digest, so budgets hold no bearer secrets."""
    return hashlib.blake2b((authorization or "").encode(), digest_size=16).digest()


class QueryBudget(SchemaExtension):
    """Spends the operation's cost before it runs; reports it in ``extensions.cost``."""

    def __init__(self) -> None:
        self.cost = NO_COST

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        document = execution.graphql_document
        if isinstance(context, Context) and document is not None:
            self._spend(execution.schema._schema, document, context)
        yield

    def _spend(self, schema: GraphQLSchema, document: Any, context: Context) -> None:
        execution = self.execution_context
        operation = get_operation_ast(document, execution.operation_name)
        if operation is None:
            return
        variables = get_variable_values(
            schema, operation.variable_definitions or (), execution.variables or {}
        )
        if not isinstance(variables, VariableValues):
            return  # the executor reports the variables' errors; nothing runs
        requested, owed = charges(schema, document, operation, variables, context)
        self.cost = {"requested": requested, "budgetRemaining": None}
        budgets = context.query_budgets
        if budgets is None or not owed or context.budget_paid:
            return
        token = token_key(context.authorization)
        most = max(owed.values())
        if most > budgets.capacity:
            raise BadUserInput(
                f"this operation costs {most} points of one tenant's budget, which holds at "
                f"most {budgets.capacity}: ask for fewer fields at once"
            )
        spent = budgets.spend({(token, tenant): points for tenant, points in owed.items()})
        self.cost = {"requested": requested, "budgetRemaining": spent.remaining}
        if not spent.granted:
            raise RateLimited(
                f"this operation costs {requested} points and the token's budget holds "
                f"{spent.remaining}; it refills {budgets.refill_per_second:g} points a second, "
                f"try again in {spent.retry_after} s",
                retry_after=spent.retry_after,
            )

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.cost}
