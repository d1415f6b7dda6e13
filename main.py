"""Entry point.

python main.py                      serve on HOST:PORT (default 127.0.0.1:8000)
python main.py token --email E [--admin] [--tenant T] [--days N]
                                    print a signed token (last line of output)

Start-up binds the port, opens the store, starts uvicorn, and only then prints
the GraphiQL URL (and, with PRINT_ADMIN_TOKEN, an admin token and the admin
page's sign-in link): a line on
stdout means the server answers. Anything that stops it first (bad setting,
taken port, DATA_DIR held by another server) is one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.loops.auto import auto_loop_factory

from app.connections import connection_budget, guarded_protocol, raise_open_file_limit
from auth.secret import signing_secret, stored_secret
from auth.tokens import issue_token
from core.errors import ConfigError
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from storage.database import Database


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="Storefront analytics API")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the server (the default)")
    token = commands.add_parser("token", help="print a signed bearer token")
    token.add_argument("--email", required=True, help="the token's email claim")
    token.add_argument("--admin", action="store_true", help="set is_admin: true")
    token.add_argument("--tenant", help="tenant scope: a tenant id, or * for all tenants")
    token.add_argument("--days", type=float, default=30, help="validity in days (default 30)")
    return parser


def listen(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; ``ConfigError`` in one line if it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ConfigError(f"HOST {host!r} is not a usable address: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        # Listening now, not in uvicorn: two servers started at once cannot both pass.
        sock.listen(backlog)
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def announce(settings: Settings, secret: str) -> None:
    """What a person needs to start: printed to stdout only, never through logging."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"GraphiQL: http://{host}:{settings.port}/graphql", flush=True)
    if settings.embedded:
        print(f"Embedded store in {settings.data_dir.resolve()}", flush=True)
    if settings.print_admin_token:
        admin = issue_token(secret, email="admin@localhost", admin=True, tenant="*")
        print("Admin token (30 days, every tenant); send it as 'Authorization: Bearer <token>':")
        print(admin, flush=True)
        # In the fragment: a browser never sends it to the server (the page keeps it).
        print(f"Admin page: http://{host}:{settings.port}/admin#token={admin}", flush=True)


class Server(uvicorn.Server):
    """uvicorn's server that says when it accepts, and closes the store after the app."""

    def __init__(
        self, config: uvicorn.Config, *, database: Database, ready: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self.database: Database | None = database
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
        finally:
            await self.close_store()

    async def close_store(self) -> None:
        # Here, not after serve(): uvicorn re-raises SIGTERM as soon as serve ends.
        if self.database is not None:
            database, self.database = self.database, None
            await database.close()


async def _serve(settings: Settings, sock: socket.socket, backlog: int, limit: int) -> None:
    # Imported here: `main.py token` needs neither the schema nor the store.
    from app.http import create_app
    from storage.factory import open_database

    # Opened before uvicorn, not in the lifespan, so that a failure (DATA_DIR
    # locked) reaches main() as one line rather than as uvicorn's traceback.
    database = await open_database(settings)
    try:
        app = create_app(settings, database=database)
        secret = signing_secret(settings)
    except BaseException:
        await database.close()
        raise
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_protocol(
            max_connections=limit, request_timeout=settings.request_timeout_seconds
        ),
        # Subscriptions (app.graphql_ws); the sans-I/O protocol waits while a client's
        # buffer is full, which is what lets a client that stops reading be dropped.
        ws="websockets-sansio",
        lifespan="on",
        log_level="warning",
        access_log=False,
        backlog=backlog,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=5,
        # The client address is app.client_ip's to decide (TRUSTED_PROXIES); uvicorn's
        # own X-Forwarded-For handling would believe any loopback peer.
        proxy_headers=False,
    )
    server = Server(config, database=database, ready=lambda: announce(settings, secret))
    try:
        await server.serve(sockets=[sock])
    finally:
        await server.close_store()


# Young objects a collection waits for (CPython's default: 700). A trackEvents call
# of 100 events leaves ~700 behind for a moment, so the default collected about once
# a request, and the older generations every 10 and 100 requests; at 20,000, once
# in ~30 requests. The stored events are frozen out of collections
# (storage.embedded.store._settle_heap). ~2 % of trackEvents' CPU, in process.
YOUNG_OBJECTS_PER_COLLECTION = 20_000


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, *gc.get_threshold()[1:])
    budget = connection_budget(raise_open_file_limit(), settings.max_connections)
    sock = listen(settings.host, settings.port, budget.backlog)
    try:
        with asyncio.Runner(loop_factory=auto_loop_factory(use_subprocess=False)) as runner:
            runner.run(_serve(settings, sock, budget.backlog, budget.max_connections))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "token":
            if args.days <= 0:
                raise ConfigError("--days must be positive")
            print(
                issue_token(
                    stored_secret(settings),
                    email=args.email,
                    admin=args.admin,
                    tenant=args.tenant,
                    days=args.days,
                )
            )
            return 0
        serve(settings)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
