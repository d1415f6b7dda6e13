"""``POST /collect``: the tracker's beacons.

``navigator.sendBeacon`` cannot set headers, and a cross-origin JSON POST would need a
preflight a closing page never waits for, so beacons arrive as ``text/plain`` holding
``{"events": [TrackEventInput, ...], "token": "<bearer token or null>"}``. They run as
one ``trackEvents`` call (the same validation, limits and answers per item), the token
standing in for the ``Authorization`` header a beacon cannot send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from graphql import GraphQLError, GraphQLInputObjectType, GraphQLNonNull
from graphql.utilities import validate_input_value
from starlette.requests import Request
from starlette.responses import Response
from strawberry import Schema

from app import json_codec
from app.errors import HttpError, json_response

ContextFactory = Callable[[Request], Awaitable[Any]]
TRACK_EVENTS = """mutation($e: [TrackEventInput!]!) {
  trackEvents(events: $e) { index status error { code field message retryAfter } } }"""
BODY_TYPES = ("text/plain", "application/json")
MAX_ITEMS = 100  # trackEvents' own limit: past it the call is refused whole


class Collect:
    def __init__(self, schema: Schema, context: ContextFactory) -> None:
        self.schema = schema
        self.context = context
        input_type = schema._schema.get_type("TrackEventInput")
        assert isinstance(input_type, GraphQLInputObjectType)
        self._input_type = GraphQLNonNull(input_type)

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
        events: list[Any] = body["events"]
        # Each item is coerced on its own, so one a stale tracker got wrong (a string
        # price, an unknown key) is reported alone instead of rejecting the beacon.
        valid: list[int] = []
        answers: list[dict[str, Any] | None] = [None] * len(events)
        if len(events) <= MAX_ITEMS:
            for index, item in enumerate(events):
                problem = self._problem(item, index)
                if problem is None:
                    valid.append(index)
                else:
                    answers[index] = problem
        else:
            valid = list(range(len(events)))  # trackEvents refuses the batch as a whole
        result = await self.schema.execute(
            TRACK_EVENTS,
            variable_values={"e": [events[index] for index in valid]},
            context_value=context,
        )
        if result.errors:
            errors = [error.formatted for error in result.errors]
            codes = {(e.get("extensions") or {}).get("code") for e in errors}
            return json_response(
                {"errors": errors}, status=500 if "INTERNAL_SERVER_ERROR" in codes else 400
            )
        assert result.data is not None
        for index, answer in zip(valid, result.data["trackEvents"], strict=True):
            answers[index] = {**answer, "index": index}
        return json_response({"trackEvents": answers})

    def _problem(self, item: Any, index: int) -> dict[str, Any] | None:
        """The per-item answer for an item the input type refuses, else None."""
        problems: list[tuple[str, str]] = []

        def refuse(error: GraphQLError, path: Sequence[str | int]) -> None:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            problems.append((f"events[{index}]{where}", error.message))

        validate_input_value(item, self._input_type, refuse, hide_suggestions=True)
        if not problems:
            return None
        field, message = problems[0]
        error = {"code": "BAD_USER_INPUT", "field": field, "message": message, "retryAfter": None}
        return {"index": index, "status": None, "error": error}
