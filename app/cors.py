"""CORS: storefront pages on other origins may track, admin pages may read with a token.

Starlette's middleware does the protocol; this subclass fixes the policy and answers a
refused preflight in the project's JSON error shape. No credentials are ever allowed
(no cookies: tokens travel in ``Authorization``), so ``*`` is a true wildcard.
Preflights are cached by browsers for ``MAX_AGE_SECONDS``. ``CORS_ORIGINS`` lists the
origins allowed (default ``*``); a tenant's ``allowedOrigins`` narrows its own tracking
further, where the tenant is known (in the request, not the preflight).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from app.errors import HttpError

MAX_AGE_SECONDS = 86_400
ALLOWED_HEADERS = ("Authorization", "Content-Type")
ALLOWED_METHODS = ("GET", "POST")


class Cors(CORSMiddleware):
    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=list(ALLOWED_METHODS),
            allow_headers=list(ALLOWED_HEADERS),
            allow_credentials=False,
            max_age=MAX_AGE_SECONDS,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        cors = {
            name: value
            for name, value in answer.headers.items()
            if name.startswith("access-control-") or name == "vary"
        }
        if answer.status_code < 400:
            return Response(status_code=204, headers=cors)
        return HttpError(400, bytes(answer.body).decode(), headers=cors).response()
