"""Request body limit: bodies over ``MAX_BODY_BYTES`` get HTTP 413 before any parsing.

Refusals are raised as ``HttpError``: ``app.errors.ServerErrors``, outside this
middleware, answers them (or the endpoint reading the body does, first).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import HttpError

MAX_BODY_BYTES = 1024 * 1024


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length, then counts streamed bytes."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = HttpError(413, f"the request body exceeds {self.max_bytes} bytes")
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    raise HttpError(400, "Content-Length must be a number of bytes")
                # Length first: int() refuses more than 4,300 digits.
                digits = value.lstrip(b"0") or b"0"
                if len(digits) > len(str(self.max_bytes)) or int(digits) > self.max_bytes:
                    raise too_large
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answered by whoever reads the body (app.graphql_http), or else
                    # by app.errors.ServerErrors, which sits outside this middleware.
                    raise too_large
            return message

        await self.app(scope, counting_receive, send)
