"""The GraphQL endpoint, served as GraphQL over HTTP (graphql.github.io/graphql-over-http) says.

* POST ``application/json`` (UTF-8) or GET with URL parameters; a GET may only
  run a query (a mutation is 405, ``Allow: POST``); other methods are 405.
* The answer's media type follows ``Accept`` (``app.media_types``); none
  acceptable is 406. A browser GET without a query gets GraphiQL.
* A request that is not well formed is 400 (``app.graphql_request``), whatever
  the media type. A GraphQL request error (syntax, validation, an operation
  that cannot be chosen, variable coercion) has no ``data`` entry; it is 400
  in ``application/graphql-response+json`` and 200 in ``application/json``.
  Once execution starts the answer is 200, errors or not.

Known tracking documents sent by POST skip Strawberry's execution
(``app.graphql_fast``); the answer is built by the same code either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry import Schema
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app import graphql_request, media_types
from app.errors import HttpError, json_response
from app.graphql_fast import FastDocuments
from app.graphql_request import GraphQLRequest
from schema.cost import NO_COST

ContextFactory = Callable[[Request], Awaitable[Any]]
ALLOWED = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}


def _request_error(message: str) -> ExecutionResult:
    """A GraphQL request error the schema raised as an exception instead of answering."""
    return ExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})]
    )


def _is_request_error(result: ExecutionResult) -> bool:
    """Raised before execution began: no data, and no error belongs to a field."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def _response(result: ExecutionResult, media_type: str) -> Response:
    errors = [error.formatted for error in result.errors or ()]
    body: dict[str, Any]
    status = 200
    headers: dict[str, str] = {}
    if _is_request_error(result):
        body = {"errors": errors}
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        if codes == {"RATE_LIMITED"}:  # the query budget (schema.cost)
            retry = (errors[0].get("extensions") or {}).get("retryAfter")
            headers["Retry-After"] = str(retry)
        if media_type == media_types.GRAPHQL_RESPONSE:
            status = (
                500
                if "INTERNAL_SERVER_ERROR" in codes
                else 429
                if codes == {"RATE_LIMITED"}
                else 400
            )
    else:
        body = {"data": result.data, **({"errors": errors} if errors else {})}
    # Every answer states its cost (schema.cost); those given before or without
    # the schema's execution (request errors, the tracking fast path) cost nothing.
    body["extensions"] = {"cost": NO_COST, **(result.extensions or {})}
    return json_response(body, status=status, media_type=media_type, headers=headers)


def _acceptable(media_type: str | None) -> str:
    if media_type is None:
        raise HttpError(
            406, f"Accept must admit {media_types.GRAPHQL_RESPONSE} or {media_types.JSON}"
        )
    return media_type


class GraphQLEndpoint:
    """ASGI app for one schema; ``context`` builds each request's context value.

    ``fast``: answer known tracking documents through ``app.graphql_fast``.
    """

    def __init__(
        self, schema: Schema, context: ContextFactory, graphiql_page: str, *, fast: bool = True
    ) -> None:
        self.schema = schema
        self.context = context
        self.graphiql_page = graphiql_page
        self.fast = FastDocuments(schema) if fast else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        accept = request.headers.get("accept")
        media_type = media_types.response_media_type(accept)
        try:
            response = await self._answer(request, accept, media_type)
        except HttpError as error:
            response = error.response(media_type or media_types.JSON)
        await response(scope, receive, send)

    async def _answer(
        self, request: Request, accept: str | None, media_type: str | None
    ) -> Response:
        method = request.method
        if method not in ALLOWED:
            raise HttpError(405, f"{method} is not allowed here", headers={"Allow": "GET, POST"})
        if method == "GET":
            found = graphql_request.query_parameters(request.scope["query_string"])
            if "query" not in found and media_types.accepts_html(accept):
                return HTMLResponse(self.graphiql_page)
            answer_in = _acceptable(media_type)
            parameters = graphql_request.from_query_parameters(found)
        else:
            answer_in = _acceptable(media_type)
            if not media_types.is_json_body(request.headers.get("content-type")):
                raise HttpError(
                    415,
                    "POST a body of Content-Type application/json (UTF-8)",
                    headers={"Accept": media_types.JSON},
                )
            parameters = graphql_request.from_body(await request.body())
        return _response(await self._execute(request, parameters), answer_in)

    async def _execute(self, request: Request, parameters: GraphQLRequest) -> ExecutionResult:
        query, operation_name = parameters.query, parameters.operation_name
        fast = self.fast if request.method == "POST" else None
        plan = fast.get(query, operation_name) if fast is not None else None
        context = await self.context(request)
        if plan is not None:
            assert fast is not None
            answer = await fast.run(
                plan, query, operation_name, parameters.variables, context, parameters.extensions
            )
            if answer is not None:
                return answer
        try:
            result = await self.schema.execute(
                query,
                variable_values=parameters.variables,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=ALLOWED[request.method],
                operation_extensions=parameters.extensions,
            )
        except InvalidOperationTypeError as error:
            kind = error.operation_type.value
            if request.method == "GET":
                raise HttpError(
                    405, f"a {kind} cannot run over GET: use POST", headers={"Allow": "POST"}
                ) from None
            return _request_error(f"{kind} operations are not supported")
        except CannotGetOperationTypeError as error:
            return _request_error(error.as_http_error_reason())
        except MissingQueryError:
            return _request_error("Syntax Error: the query is empty.")
        if fast is not None and plan is None and not _is_request_error(result):
            fast.learn(query, operation_name)
        return result
