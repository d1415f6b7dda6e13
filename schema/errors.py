"""Give every GraphQL error an ``extensions.code``; hide unexpected exceptions.

* our ``AppError``s keep their message and carry their own code;
* errors graphql-core raises before execution (syntax, validation, variable
  coercion, cost limits), or as a field runs, refusing its argument (a null
  variable for a non-null argument), are the client's: ``BAD_USER_INPUT``;
* anything else is ``INTERNAL_SERVER_ERROR`` with a fixed message and no trace
  (logged in full on the server by ``Schema.process_errors``).
"""

from __future__ import annotations

from graphql import FieldNode, GraphQLError
from strawberry.schema.exceptions import InvalidOperationTypeError

from core.errors import AppError

INTERNAL_MESSAGE = "Internal server error."


def is_client_error(error: GraphQLError) -> bool:
    """True when the request, not the server, is at fault."""
    original = error.original_error
    if isinstance(original, AppError):
        return True
    # Before execution there is no path; graphql-core's own errors there, scalars
    # refusing a variable's value (ValueError/TypeError), and an operation type the
    # transport does not run (a query over the WebSocket), are the client's.
    if error.path is None:
        return original is None or isinstance(
            original, GraphQLError | ValueError | TypeError | InvalidOperationTypeError
        )
    return _refused_argument(original)


def _refused_argument(original: Exception | None) -> bool:
    """graphql-core's own refusal of a field's argument as the field runs: a variable
    sent as null where the argument is non-null (validation lets a variable with a
    default stand there). It points at the value; a field's own failures (a null for
    a non-null field, a value its type cannot hold) point at the field."""
    if not isinstance(original, GraphQLError) or original.original_error is not None:
        return False
    nodes = original.nodes or []
    return bool(nodes) and not isinstance(nodes[0], FieldNode)


def coded(error: GraphQLError) -> GraphQLError:
    """The error as the client should see it."""
    original = error.original_error
    if isinstance(original, AppError):
        return GraphQLError(
            original.message, nodes=error.nodes, path=error.path, extensions=original.extensions
        )
    if is_client_error(error):
        extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )
