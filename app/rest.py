"""The REST compatibility routes' common ground: each runs one GraphQL field through the
schema (the same validation, permissions, limits and metrics as GraphQL) and only
reshapes the answer in its own seed's words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from strawberry import Schema

from app import json_codec

ContextFactory = Callable[[Request], Awaitable[Any]]


async def json_object(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """The request's body as a JSON object (strict JSON, ``app.json_codec``), or why not."""
    try:
        body = json_codec.decode(await request.body())
    except json_codec.JsonError as error:
        return None, f"the body must be a JSON object: {error}"
    if not isinstance(body, dict):
        return None, "the body must be a JSON object"
    return body, None


class FieldRoutes:
    def __init__(self, schema: Schema, context: ContextFactory) -> None:
        self.schema = schema
        self.context = context

    async def run(
        self,
        request: Request,
        query: str,
        variables: Mapping[str, Any],
        *,
        context_value: Any = None,
    ) -> tuple[Any, GraphQLError | None]:
        """The one field's data, or its first error (the caller words the refusal)."""
        result = await self.schema.execute(
            query,
            variable_values=dict(variables),
            context_value=context_value
            if context_value is not None
            else await self.context(request),
        )
        if result.errors:
            return None, result.errors[0]
        assert result.data is not None
        return next(iter(result.data.values())), None
