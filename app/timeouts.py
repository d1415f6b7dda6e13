"""Request deadlines: a body that has not fully arrived in time is answered 408 and dropped.

The head of a request (line and headers) has its own deadline in the connection
protocol (``app.connections``), which answers with the same JSON error; this
middleware covers what follows: once the head is in, the body must be complete
within ``seconds``. A client still sending then gets ``408`` with
``Connection: close``, so uvicorn closes the socket instead of reading on. A
client that hangs up mid-body (or is closed by the connection cap) ends its
request quietly: there is no one to answer and nothing to log.
"""

from __future__ import annotations

import asyncio
import json

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import WatchedSend

REQUEST_TIMEOUT_CODE = "REQUEST_TIMEOUT"


def error_json(message: str, code: str = REQUEST_TIMEOUT_CODE) -> bytes:
    """An HTTP-level error body: like every error, it carries ``errors[0].extensions.code``."""
    error = {"message": message, "extensions": {"code": code}}
    return json.dumps({"errors": [error]}, separators=(",", ":")).encode()


def seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"


class _BodyTimedOut(Exception):
    pass


class BodyTimeout:
    """Pure ASGI middleware: the body must be complete ``seconds`` after the head."""

    def __init__(self, app: ASGIApp, seconds: float = 10.0) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        body_done = False
        hung_up = False
        watched = WatchedSend(send)

        async def timed_receive() -> Message:
            nonlocal body_done, hung_up
            if body_done:
                # Past the body only http.disconnect comes, and waiting for it is fine.
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimedOut from None
            hung_up = message["type"] == "http.disconnect"
            body_done = hung_up or not message.get("more_body", False)
            return message

        try:
            await self.app(scope, timed_receive, watched)
        except _BodyTimedOut:
            if watched.started:
                raise  # a response already under way: uvicorn drops the connection
            await self._answer_408(send)
        except ClientDisconnect:
            if not hung_up:
                raise

    async def _answer_408(self, send: Send) -> None:
        body = error_json(f"the request body did not arrive within {seconds_text(self.seconds)}")
        await send(
            {
                "type": "http.response.start",
                "status": 408,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
