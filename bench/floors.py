"""Floors for ``trackEvent``: what the stack costs before our resolver does anything.

* ``POST /graphql``: a Strawberry schema whose ``trackEvent(input: TrackEventInput!)``
  returns a constant ``TrackEventResult``. It reuses the real input and result
  types, and takes its schema class and extension list from
  ``schema.build_schema()`` itself (error codes, token/depth/alias limits,
  parser and validation caches), so it cannot drift from the real one: the only
  difference from the real mutation is the resolver (validation, storage,
  journal).
* ``POST /plain``: a plain Starlette route that reads the body and returns a
  constant JSON: the HTTP floor (uvicorn + Starlette, no GraphQL).

Both sit behind the real app's ``BodySizeLimit`` middleware and are served the
way ``main.py`` serves: ``python -m bench.floors`` with HOST and PORT.
"""

from __future__ import annotations

import os

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from app.limits import BodySizeLimit
from core.vocabulary import TrackStatus
from schema import build_schema
from schema.inputs import TrackEventInput
from schema.types import TrackEventResult

SESSION = "00000000-0000-4000-8000-000000000000"
PLAIN_ANSWER = {"data": {"trackEvent": {"status": "OK", "sessionId": SESSION}}}


@strawberry.type
class Query:
    """GraphQL needs a query root; unused."""

    @strawberry.field
    def ok(self) -> bool:
        return True


@strawberry.type
class Mutation:
    """``trackEvent`` accepts the real input and stores nothing."""

    @strawberry.mutation
    async def track_event(self, input: TrackEventInput) -> TrackEventResult:
        return TrackEventResult(status=TrackStatus.OK, session_id=input.session_id or SESSION)


def build_floor_schema() -> strawberry.Schema:
    """The do-nothing schema: the real schema's class and extensions, our root types."""
    real = build_schema()
    return type(real)(query=Query, mutation=Mutation, extensions=list(real.extensions))


async def plain(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse(PLAIN_ANSWER)


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_floor_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/graphql", GraphQL[None, None](build_floor_schema()), methods=["GET", "POST"]),
            Route("/plain", plain, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        middleware=[Middleware(BodySizeLimit)],
    )


def main() -> None:
    # The same uvicorn options as main.py's serve().
    uvicorn.run(
        create_floor_app(),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8001")),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
