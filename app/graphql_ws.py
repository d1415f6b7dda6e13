"""Live updates: GraphQL subscriptions over a WebSocket at /graphql.

The protocol is ``graphql-transport-ws`` (github.com/enisdenjo/graphql-ws,
PROTOCOL.md), Strawberry's implementation, with this service's rules on top:

* Only that subprotocol: a client offering only the legacy ``graphql-ws`` is
  accepted and closed at once with 4406 (Subprotocol not acceptable).
* Browsers send ``Origin``, and WebSockets are not covered by CORS: a handshake from
  another origin than the server's own is refused (HTTP 403) unless ``CORS_ORIGINS``
  allows it (``*``: any). Clients without ``Origin`` are not browsers.
* The admin token travels in ``connection_init``'s payload,
  ``{"authorization": "Bearer <jwt>"}``, never in the URL. No usable token: close
  4401 with ``UNAUTHENTICATED: <why>``; a valid token without ``is_admin``: 4403
  with ``FORBIDDEN: ...``. Then ``connection_ack``.
* Only subscriptions run here (queries and mutations go over HTTP). Each
  ``subscribe`` checks the token again (an expired one is refused) and the field's
  tenant scope, as queries do; a refusal, or an argument out of bounds, is an
  ``error`` message whose errors carry ``extensions.code``.
* A client that stops reading is dropped, closed with 4503 (slow consumer): when a
  message waits more than ``REQUEST_TIMEOUT_SECONDS`` to be written, or when its
  subscription's queue of unsent values is full (``metrics.feeds``).

Strawberry answers the rest of the protocol: 4400 for a malformed message, 4401 for
``subscribe`` before ``connection_ack``, 4408 when no ``connection_init`` arrives in
time (here ``REQUEST_TIMEOUT_SECONDS``), 4409 for an id already in use, 4429 for a
second ``connection_init``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from graphql import GraphQLError
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

from core.clock import utcnow
from core.errors import Forbidden, Unauthenticated
from core.settings import Settings
from metrics.feeds import SlowConsumer
from schema.context import Context
from schema.errors import INTERNAL_MESSAGE, coded

log = logging.getLogger(__name__)
ContextFactory = Callable[[HTTPConnection], Awaitable[Context]]
SUBSCRIPTIONS_ONLY = frozenset({OperationType.SUBSCRIPTION})
UNAUTHENTICATED_CLOSE = 4401
FORBIDDEN_CLOSE = 4403
SLOW_CONSUMER_CLOSE = 4503
DEFAULT_SEND_TIMEOUT = 10.0
# A close frame's reason holds at most 123 bytes.
MAX_REASON_BYTES = 123
_INTERNAL = GraphQLError(INTERNAL_MESSAGE, extensions={"code": "INTERNAL_SERVER_ERROR"})


def _reason(text: str) -> str:
    encoded = text.encode()
    if len(encoded) <= MAX_REASON_BYTES:
        return text
    return encoded[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


def _well_formed(payload: Any) -> bool:
    """A subscribe payload as GraphQL over HTTP has it: a query text, and optionally an
    operation name, variables and extensions of the right kinds."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("query"), str)
        and isinstance(payload.get("operationName"), str | None)
        and isinstance(payload.get("variables"), dict | None)
        and isinstance(payload.get("extensions"), dict | None)
    )


def _slow(result: ExecutionResult) -> bool:
    return any(isinstance(error.original_error, SlowConsumer) for error in result.errors or ())


class LiveHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler with our authentication, error codes,
    subscriptions-only rule and slow-consumer drop."""

    context: Context

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        if self.connection_init_received or not isinstance(payload, dict):
            await super().handle_connection_init(message)  # 4429 / 4400
            return
        authorization = payload.get("authorization")
        if not isinstance(authorization, str):
            authorization = None
        self.context = replace(self.context, authorization=authorization, now=utcnow())
        try:
            identity = self.context.identity()
            if not identity.is_admin:
                raise Forbidden("live updates need an admin token")
        except (Unauthenticated, Forbidden) as error:
            if self.connection_init_timeout_task:
                self.connection_init_timeout_task.cancel()
            self.connection_init_received = True
            close = UNAUTHENTICATED_CLOSE if isinstance(error, Unauthenticated) else FORBIDDEN_CLOSE
            await self.websocket.close(close, _reason(f"{error.code}: {error.message}"))
            return
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        if self.connection_acknowledged and not _well_formed(payload):
            await self.handle_invalid_message("Invalid subscribe payload")
            return
        # A fresh context per operation: the token is checked again (it may have
        # expired since connection_init) and the request time is this one's.
        self.context = replace(self.context, now=utcnow())
        await super().handle_subscribe(message)

    async def send_message(self, message: Message) -> None:
        try:
            await asyncio.wait_for(super().send_message(message), self._send_timeout)
        except TimeoutError:
            log.info("dropping a live client that does not read (send timed out)")
            await self._drop_slow()
            # Ends whoever was sending: an operation, or the connection's own loop.
            raise WebSocketDisconnected from None

    @property
    def _send_timeout(self) -> float:
        view = self.view
        return view.send_timeout if isinstance(view, LiveEndpoint) else DEFAULT_SEND_TIMEOUT

    async def _drop_slow(self) -> None:
        # uvicorn queues the close frame behind what the client did not read: if even
        # that cannot leave, its ping timeout ends the connection.
        with contextlib.suppress(TimeoutError, WebSocketDisconnected, RuntimeError):
            await asyncio.wait_for(
                self.websocket.close(SLOW_CONSUMER_CLOSE, "slow consumer: messages were not read"),
                self._send_timeout,
            )

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Strawberry's, restricted to subscriptions, with every error coded."""
        try:
            source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                operation_name=operation.operation_name,
                allowed_operation_types=SUBSCRIPTIONS_ONLY,
            )
            async with aclosing(source):
                first = True
                async for result in source:
                    if not isinstance(result, ExecutionResult):
                        await operation.send_initial_errors(
                            [GraphQLError("incremental delivery is not supported here")]
                        )
                        return
                    if _slow(result):
                        await self._drop_slow()
                        return
                    errors = [self._coded(error) for error in result.errors or ()]
                    if first and (isinstance(result, PreExecutionError) or result.data is None):
                        # Refused before any value: an `error` message, as the protocol
                        # has it (syntax errors close the socket, as Strawberry does).
                        if await self._closed_for(errors):
                            return
                        await operation.send_initial_errors(errors)
                        return
                    result.errors = errors or None
                    await operation.send_next(result)
                    first = False
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except WebSocketDisconnected:
            return
        except GraphQLError as error:  # a syntax error, raised by the document cache
            if not await self._closed_for([error]):
                await operation.send_initial_errors([self._coded(error)])
        except Exception as error:
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_initial_errors([_INTERNAL])

    @staticmethod
    def _coded(error: GraphQLError) -> GraphQLError:
        # A syntax error (or an operation that cannot be chosen) keeps its own class:
        # Strawberry closes the socket for those (4400) rather than answering.
        if BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(error):
            return error
        return coded(error)

    async def _closed_for(self, errors: list[GraphQLError]) -> bool:
        reason = errors and self._get_pre_execution_close_reason(errors[0])
        if not reason:
            return False
        await self.websocket.close(4400, _reason(reason))
        return True


class LiveEndpoint(GraphQL[Context, None]):
    """The WebSocket side of /graphql (``app.http`` routes HTTP to ``GraphQLEndpoint``)."""

    graphql_transport_ws_handler_class = LiveHandler

    def __init__(self, schema: Schema, context: ContextFactory, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.request_timeout_seconds),
            # The token's cap (resolvers.live) is the limit that answers with a code.
            max_subscriptions_per_connection=None,
            allowed_origins=settings.cors_origins,
        )
        self._context = context
        # As for HTTP answers: a client that stops reading this long is dropped.
        self.send_timeout = settings.request_timeout_seconds

    async def get_context(self, request: Any, response: Any) -> Context:
        assert isinstance(request, WebSocket)
        return await self._context(request)
