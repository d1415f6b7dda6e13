"""HTTP-level errors: one exception, one JSON shape, one code per status.

Every answer the HTTP layer gives on its own (before or instead of GraphQL)
is ``{"errors": [{"message": ..., "extensions": {"code": ...}}]}``, the shape of
a GraphQL request error, so a client reads every failure the same way:

====  ========================  ==============================================
400   BAD_REQUEST               not a well-formed GraphQL-over-HTTP request:
                                body not strict JSON (UTF-8, depth, numbers,
                                lone surrogates), not an object, a batch (an
                                array), missing or mistyped parameters, a bad
                                query string or Content-Length
404   NOT_FOUND                 no such path
405   METHOD_NOT_ALLOWED        a method other than GET/POST, or a mutation
                                over GET (``Allow`` says what would work)
406   NOT_ACCEPTABLE            ``Accept`` admits no JSON media type
408   REQUEST_TIMEOUT           the body did not arrive in time
413   PAYLOAD_TOO_LARGE         body over ``app.limits.MAX_BODY_BYTES``
415   UNSUPPORTED_MEDIA_TYPE    POST without ``Content-Type: application/json``
500   INTERNAL_SERVER_ERROR     a fault of ours; logged, never explained
====  ========================  ==============================================

GraphQL's own request errors (syntax, validation, variables) keep the schema's
``BAD_USER_INPUT`` (``schema.errors``); ``app.graphql_http`` picks their status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import json_codec, media_types

log = logging.getLogger(__name__)

CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    408: "REQUEST_TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL_SERVER_ERROR",
}


class HttpError(Exception):
    """Answer ``status`` with ``message``; the code comes from ``CODES``."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    @property
    def code(self) -> str:
        return CODES.get(self.status) or ("BAD_REQUEST" if self.status < 500 else CODES[500])

    def response(self, media_type: str = media_types.JSON) -> Response:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        return json_response(body, status=self.status, media_type=media_type, headers=self.headers)


def json_response(
    body: object,
    *,
    status: int = 200,
    media_type: str = media_types.JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``body`` as UTF-8 JSON, with the charset named as GraphQL over HTTP asks."""
    return Response(
        json_codec.encode(body),
        status_code=status,
        headers=dict(headers or {}),
        media_type=f"{media_type}; charset=utf-8",
    )


async def starlette_http_error(request: Request, error: Exception) -> Response:
    """Starlette's own 404/405 (routing, static files) in our shape."""
    assert isinstance(error, HTTPException)
    return HttpError(error.status_code, error.detail, headers=error.headers).response()


class WatchedSend:
    """``send``, noting when the response starts: after that an error can no longer be
    answered, only the connection dropped."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class ServerErrors:
    """Outermost ASGI middleware: an ``HttpError`` raised by a middleware inside
    it (a body over the limit, say) is answered, any other exception becomes a
    logged 500; either way in our shape, and the connection stays usable (an
    exception reaching uvicorn drops keep-alive without ``Connection: close``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if watched.started:
                raise  # too late for an answer: uvicorn closes the connection
            if not isinstance(error, HttpError):
                log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
                error = HttpError(500, "Internal server error.")
            media_type = media_types.response_media_type(Headers(scope=scope).get("accept"))
            await error.response(media_type or media_types.JSON)(scope, receive, send)
