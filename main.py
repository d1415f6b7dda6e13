"""Entry point.

python main.py                      serve on HOST:PORT (default 127.0.0.1:8000)
python main.py token --email E [--admin] [--tenant T] [--days N]
                                    print a signed token (last line of output)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from auth.secret import signing_secret
from auth.tokens import issue_token
from core.errors import ConfigError
from core.settings import Settings, load_settings


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


def serve(settings: Settings) -> None:
    import uvicorn

    from app.http import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    print(f"GraphiQL: {base}/graphql", flush=True)
    if settings.embedded:
        print(f"Embedded store in {settings.data_dir.resolve()}", flush=True)
        admin = issue_token(
            signing_secret(settings), email="admin@localhost", admin=True, tenant="*"
        )
        print("Admin token (30 days, every tenant); send it as 'Authorization: Bearer <token>':")
        print(admin, flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "token":
            if args.days <= 0:
                raise ConfigError("--days must be positive")
            print(
                issue_token(
                    signing_secret(settings),
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
