"""Give every GraphQL error an ``extensions.code``; hide unexpected exceptions.

* our ``AppError``s keep their message and carry their own code;
* errors graphql-core raises before execution (syntax, validation, variable
  coercion, cost limits) are the client's: ``BAD_USER_INPUT``;
* anything else is ``INTERNAL_SERVER_ERROR`` with a fixed message and no trace
  (logged in full on the server by ``Schema.process_errors``).
"""

from __future__ import annotations

from graphql import GraphQLError
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
    return error.path is None and (
        original is None
        or isinstance(original, GraphQLError | ValueError | TypeError | InvalidOperationTypeError)
    )


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
            extensions=extensions,
        )
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )
