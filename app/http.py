"""The ASGI application: GraphQL (with an offline GraphiQL), health check, limits, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from app import admin, graphiql
from app.client_ip import client_ip
from app.collect import Collect
from app.cors import Cors
from app.errors import ServerErrors, starlette_http_error
from app.export_routes import ExportRoutes
from app.graphql_http import GraphQLEndpoint
from app.graphql_ws import LiveEndpoint
from app.hanzo_routes import HanzoRoutes
from app.landing_routes import LandingRoutes
from app.limits import BodySizeLimit
from app.timeouts import BodyTimeout
from app.tracker import tracker_js
from app.urban_store import UrbanStoreRoutes
from app.warm_up import warm_up
from auth.secret import signing_secret, visitor_key
from core.budget import QueryBudgets
from core.clock import utcnow
from core.settings import Settings
from metrics.context import COUNTRIES, RequestFacts
from metrics.tenants import TenantDirectory
from schema import build_schema
from schema.context import Context
from storage.database import Database
from storage.factory import open_database

log = logging.getLogger(__name__)
GRAPHQL_PATH = "/graphql"
CONTEXT_HEADERS = frozenset({b"authorization", b"user-agent", b"referer", b"origin"})


@dataclass
class Services:
    """What the lifespan opens and every request uses."""

    settings: Settings
    secret: str
    database: Database | None = None
    _tenants: TenantDirectory | None = None
    # Admin tokens' query budgets (schema.cost), one per process; None when off.
    query_budgets: QueryBudgets | None = None

    def __post_init__(self) -> None:
        if self.settings.query_budget and self.query_budgets is None:
            self.query_budgets = QueryBudgets(
                self.settings.query_budget_points, self.settings.query_budget_refill_per_second
            )

    @property
    def tenants(self) -> TenantDirectory:
        """One per process, so its cache serves every request."""
        if self._tenants is None:
            assert self.database is not None, "database not open (lifespan not run)"
            self._tenants = TenantDirectory(self.database, self.settings)
        return self._tenants


def request_context(services: Services) -> Callable[[HTTPConnection], Awaitable[Context]]:
    """Each request's context: the open store, the settings, the bearer header, and what
    the request says of its caller (IP, user agent, Referer) for event context. A
    WebSocket's is made at its handshake; its token comes later (``app.graphql_ws``)."""
    settings = services.settings
    key = visitor_key(services.secret)

    async def context(request: HTTPConnection) -> Context:
        assert services.database is not None, "database not open (lifespan not run)"
        # The first value of each, as Headers.get gives it, in one pass over the headers.
        found: dict[bytes, str] = {}
        for name, value in request.scope["headers"]:
            if name in CONTEXT_HEADERS and name not in found:
                found[name] = value.decode("latin-1")
        return Context(
            database=services.database,
            settings=settings,
            jwt_secret=services.secret,
            now=utcnow(),
            authorization=found.get(b"authorization"),
            facts=RequestFacts(
                client_ip=client_ip(request.scope, settings.trusted_proxies),
                user_agent=found.get(b"user-agent"),
                referer=found.get(b"referer"),
                origin=found.get(b"origin"),
            ),
            visitor_key=key,
            tenant_directory=services.tenants,
            query_budgets=services.query_budgets,
        )

    return context


def create_app(
    settings: Settings, *, database: Database | None = None, fast_tracking: bool = True
) -> Starlette:
    """Build the app; the database opens in the lifespan unless one is given (tests).

    ``fast_tracking=False`` serves every GraphQL request through Strawberry's execution
    (``app.graphql_fast`` is off), for tests that compare both."""
    services = Services(settings=settings, secret=signing_secret(settings), database=database)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        owned = services.database is None
        # The country database takes ~0.4 s to load: never on a request.
        await asyncio.to_thread(COUNTRIES.load)
        if owned:
            services.database = await open_database(settings)
        assert services.database is not None
        warming = None
        if settings.warm_up_views:
            warming = asyncio.create_task(
                warm_up(
                    schema,
                    services.database,
                    settings,
                    secret=services.secret,
                    tenants=services.tenants,
                )
            )
        try:
            yield
        finally:
            if warming is not None:
                warming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warming
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

    schema = build_schema()
    context = request_context(services)
    endpoint = GraphQLEndpoint(
        schema, context, graphiql.render_page(GRAPHQL_PATH), fast=fast_tracking
    )
    # Outermost first. ServerErrors answers the HttpError any other middleware raises
    # to refuse a request, and turns anything else that escapes into a JSON 500.
    middleware = [
        # CORS outermost, so that every answer (errors included) carries its headers.
        Middleware(Cors, origins=settings.cors_origins),
        Middleware(ServerErrors),
        Middleware(BodyTimeout, seconds=settings.request_timeout_seconds),
        Middleware(BodySizeLimit),
    ]
    return Starlette(
        routes=[
            # Every method reaches the endpoint, which answers 405 in JSON itself.
            Route(GRAPHQL_PATH, endpoint),
            # Subscriptions: the same path over a WebSocket (graphql-transport-ws).
            WebSocketRoute(GRAPHQL_PATH, LiveEndpoint(schema, context, settings)),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/tracker.js", tracker_js, methods=["GET"]),
            Route("/collect", Collect(schema, context).handle, methods=["POST"]),
            *UrbanStoreRoutes(schema, context).routes(),
            *HanzoRoutes(schema, context).routes(),
            *ExportRoutes(schema, context).routes(),
            *LandingRoutes(schema, context).routes(),  # after: {tenantId} is a pattern
            Mount(graphiql.STATIC_URL_PREFIX, StaticFiles(directory=graphiql.STATIC_DIR)),
            Route(admin.PAGE_PATH, admin.page, methods=["GET"]),
            Mount(admin.STATIC_URL_PREFIX, StaticFiles(directory=admin.STATIC_DIR)),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: starlette_http_error},
        lifespan=lifespan,
    )
