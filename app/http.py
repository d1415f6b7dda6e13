"""The ASGI application: GraphQL (with an offline GraphiQL), health check, limits, lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from app import graphiql
from app.limits import BodySizeLimit
from app.timeouts import BodyTimeout
from auth.secret import signing_secret
from core.clock import utcnow
from core.settings import Settings
from schema import build_schema
from schema.context import Context
from storage.database import Database
from storage.factory import open_database

log = logging.getLogger(__name__)
GRAPHQL_PATH = "/graphql"


@dataclass
class Services:
    """What the lifespan opens and every request uses."""

    settings: Settings
    secret: str
    database: Database | None = None


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(build_schema(), graphql_ide="graphiql")
        self.services = services

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services = self.services
        assert services.database is not None, "database not open (lifespan not run)"
        return Context(
            database=services.database,
            settings=services.settings,
            jwt_secret=services.secret,
            now=utcnow(),
            authorization=request.headers.get("authorization"),
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql.render_page(GRAPHQL_PATH))


def create_app(settings: Settings, *, database: Database | None = None) -> Starlette:
    """Build the app; the database opens in the lifespan unless one is given (tests)."""
    services = Services(settings=settings, secret=signing_secret(settings), database=database)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        owned = services.database is None
        if owned:
            services.database = await open_database(settings)
        try:
            yield
        finally:
            if owned and services.database is not None:
                await services.database.close()
                services.database = None

    async def healthz(_: Request) -> JSONResponse:
        try:
            assert services.database is not None
            await services.database.ping()
        except Exception:
            log.exception("health check failed")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    view = GraphQLView(services)
    return Starlette(
        routes=[
            Route(GRAPHQL_PATH, view, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Mount(graphiql.STATIC_URL_PREFIX, StaticFiles(directory=graphiql.STATIC_DIR)),
        ],
        middleware=[
            Middleware(BodyTimeout, seconds=settings.request_timeout_seconds),
            Middleware(BodySizeLimit),
        ],
        lifespan=lifespan,
    )
