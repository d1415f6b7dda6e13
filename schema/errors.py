"""Give every GraphQL error an ``extensions.code``; hide unexpected exceptions.

* our ``AppError``s keep their message and carry their own code;
* errors graphql-core raises before execution (syntax, validation, variable
  coercion, limits) are the client's: ``BAD_USER_INPUT``;
* anything else is ``INTERNAL_SERVER_ERROR`` with a fixed message and no trace,
  logged in full on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core.errors import AppError

log = logging.getLogger(__name__)
INTERNAL_MESSAGE = "Internal server error."


def coded(error: GraphQLError) -> GraphQLError:
    """The error as the client should see it."""
    original = error.original_error
    if isinstance(original, AppError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            path=error.path,
            extensions=original.extensions,
        )
    if original is None and error.path is None:
        extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
        return GraphQLError(error.message, nodes=error.nodes, extensions=extensions)
    if original is None and error.extensions and "code" in error.extensions:
        return error
    if error.path is None and isinstance(original, ValueError | TypeError):
        # A scalar refusing a variable's value (e.g. a malformed DateTime).
        return GraphQLError(error.message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"})
    log.error("unexpected error at %s", error.path, exc_info=original or error)
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [coded(error) for error in result.errors]
