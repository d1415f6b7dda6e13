"""``POST /collect``: the tracker's beacons.

``navigator.sendBeacon`` cannot set headers, and a cross-origin JSON POST would need a
preflight a closing page never waits for, so beacons arrive as ``text/plain`` holding
``{"events": [TrackEventInput, ...], "token": "<bearer token or null>"}``. They run as
one ``trackEvents`` call (the same validation, limits and answers per item), the token
standing in for the ``Authorization`` header a beacon cannot send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry import Schema

from app import json_codec
from app.errors import HttpError, json_response

ContextFactory = Callable[[Request], Awaitable[Any]]
TRACK_EVENTS = """mutation($e: [TrackEventInput!]!) {
  trackEvents(events: $e) { index status error { code field message retryAfter } } }"""
BODY_TYPES = ("text/plain", "application/json")


class Collect:
    def __init__(self, schema: Schema, context: ContextFactory) -> None:
        self.schema = schema
        self.context = context

    async def handle(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in BODY_TYPES:
            raise HttpError(415, "POST the beacon as text/plain (or application/json)")
        try:
            body = json_codec.decode(await request.body())
        except json_codec.JsonError as error:
            raise HttpError(400, f"the beacon must be a JSON object: {error}") from None
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise HttpError(400, 'the beacon must be {"events": [...], "token": ...}')
        token = body.get("token")
        context = await self.context(request)
        if isinstance(token, str) and token:
            context.authorization = f"Bearer {token}"
        result = await self.schema.execute(
            TRACK_EVENTS, variable_values={"e": body["events"]}, context_value=context
        )
        if result.errors:
            errors = [error.formatted for error in result.errors]
            return json_response({"errors": errors}, status=400)
        return json_response(result.data)
