"""The body limit as any ASGI server could call it (inside ServerErrors, as in the app)."""

from __future__ import annotations

import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.errors import ServerErrors
from app.limits import MAX_BODY_BYTES, BodySizeLimit


async def no_content(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def call(content_length: bytes) -> tuple[int, dict[str, object]]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"content-length", content_length), (b"accept", b"*/*")],
    }
    await ServerErrors(BodySizeLimit(no_content))(scope, receive, send)
    start, body = sent
    return start["status"], json.loads(body["body"])


NOT_A_NUMBER = {"code": "BAD_REQUEST"}, "Content-Length must be a number of bytes"
TOO_LARGE = {"code": "PAYLOAD_TOO_LARGE"}, f"the request body exceeds {MAX_BODY_BYTES} bytes"


@pytest.mark.parametrize(
    ("content_length", "status", "refusal"),
    [
        (b"abc", 400, NOT_A_NUMBER),
        (b"-1", 400, NOT_A_NUMBER),
        (b"", 400, NOT_A_NUMBER),
        (str(MAX_BODY_BYTES + 1).encode(), 413, TOO_LARGE),
        # More digits than int() reads (4,300): refused by length, not a ValueError.
        (b"9" * 5000, 413, TOO_LARGE),
        (b"0" * 5000 + b"9" * 8, 413, TOO_LARGE),
        (b"0" * 5000 + b"1", 204, None),  # leading zeros: a 1-byte body reaches the app
        (str(MAX_BODY_BYTES).encode(), 204, None),
    ],
)
async def test_content_length_is_checked_before_the_app_runs(
    content_length: bytes, status: int, refusal: tuple[dict[str, str], str] | None
) -> None:
    got_status, body = await call(content_length)
    assert got_status == status
    if refusal is not None:
        extensions, message = refusal
        assert body == {"errors": [{"message": message, "extensions": extensions}]}
