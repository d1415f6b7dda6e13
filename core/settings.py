"""Service configuration, read once from the environment at start-up.

Every knob is documented in the README's Configuration table; nothing else reads
``os.environ``.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from core.errors import ConfigError

MIN_SECRET_BYTES = 32
# scheme://host[:port] as a browser writes it in Origin: a hostname of letter/digit
# labels (hyphens inside), or an IPv6 literal in brackets.
ORIGIN_PATTERN = re.compile(
    r"^(https?)://"
    r"((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])"
    r"(?::([0-9]{1,5}))?$"
)
DEFAULT_PORTS = {"http": "80", "https": "443"}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T", int, float)
TRUE_WORDS = frozenset({"1", "true", "yes"})
FALSE_WORDS = frozenset({"0", "false", "no"})


@dataclass(frozen=True, slots=True)
class Settings:
    mongodb_url: str | None
    mongodb_database: str
    data_dir: Path
    jwt_secret: str | None
    host: str
    port: int
    idempotency_window_seconds: int
    event_retention_days: int
    embedded_fsync_seconds: float
    # Embedded store: admin pipelines run at once in forked children (0 = on the loop).
    embedded_query_workers: int
    print_admin_token: bool
    keep_alive_seconds: int
    request_timeout_seconds: float
    # None: as many as the open-file limit allows (app.connections.connection_budget).
    max_connections: int | None
    # Browser origins allowed to call the API (CORS); ("*",) = any.
    cors_origins: tuple[str, ...] = ("*",)
    # Peers whose X-Forwarded-For is believed (docs/metrics.md, Context).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # docs/metrics.md, Tenants: the default per-minute limit, and whether any tenant id
    # may track (False: only tenants an admin configured with upsertTenant).
    tenant_rate_limit_per_minute: int = 100
    open_tenants: bool = True
    # The part of a tenant's minute one visitor may spend (0 = no per-visitor cap).
    rate_limit_visitor_share: float = 0.0
    # README, Query budget: points an admin token may spend per tenant, refilled each
    # second (0 for either = no budget).
    query_budget_points: int = 1000
    query_budget_refill_per_second: float = 20.0
    # app.warm_up: compute the admin page's default views once after start-up.
    warm_up_views: bool = True

    @property
    def query_budget(self) -> bool:
        return self.query_budget_points > 0 and self.query_budget_refill_per_second > 0

    # Live subscriptions one token may hold open at once, per server process.
    live_subscriptions_per_token: int = 10

    @property
    def embedded(self) -> bool:
        """True when events live in the in-process store under ``data_dir``."""
        return self.mongodb_url is None


def _number(
    env: Mapping[str, str],
    name: str,
    default: T,
    parse: Callable[[str], T],
    minimum: T,
    maximum: T | None = None,
) -> T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        kind = "a whole number" if parse is int else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if maximum is not None and not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {raw!r}")
    if not math.isfinite(value) or not value >= minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be one of 1, 0, true, false, yes, no; got {raw!r}")


def normalize_origin(text: str) -> str | None:
    """``text`` as browsers send it in ``Origin`` (lower case, no default port, no
    trailing slash), or None when it is no origin (a path, a bad host or port)."""
    found = ORIGIN_PATTERN.fullmatch(text.strip().rstrip("/").lower())
    if found is None:
        return None
    scheme, host, port = found.groups()
    if port is not None and not 1 <= int(port) <= 65535:
        return None
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("CORS_ORIGINS")
    if raw is None or not raw.strip():
        return ("*",)
    origins: list[str] = []
    for part in (part.strip() for part in raw.split(",") if part.strip()):
        origin = "*" if part == "*" else normalize_origin(part)
        if origin is None:
            raise ConfigError(
                f"CORS_ORIGINS must list * or origins like https://shop.example, got {part!r}"
            )
        origins.append(origin)
    return ("*",) if "*" in origins else tuple(dict.fromkeys(origins))


def _networks(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for part in (env.get(name) or "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"{name} must list IP addresses or networks (10.0.0.0/8), got {part.strip()!r}"
                ) from None
    return tuple(networks)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the configuration; raise ``ConfigError`` with a one-line reason when invalid."""
    env = os.environ if env is None else env
    mongodb_url = env.get("MONGODB_URL") or None
    jwt_secret = env.get("JWT_SECRET") or None
    if mongodb_url is not None and jwt_secret is None:
        raise ConfigError("JWT_SECRET must be set when MONGODB_URL is set")
    if jwt_secret is not None and len(jwt_secret.encode()) < MIN_SECRET_BYTES:
        # RFC 7518 3.2: an HS256 key must be at least as long as the hash.
        raise ConfigError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
    max_connections = (
        _number(env, "MAX_CONNECTIONS", 1, int, 1) if env.get("MAX_CONNECTIONS") else None
    )
    return Settings(
        mongodb_url=mongodb_url,
        mongodb_database=env.get("MONGODB_DATABASE") or "storefront_analytics",
        data_dir=Path(env.get("DATA_DIR") or "./data"),
        jwt_secret=jwt_secret,
        host=env.get("HOST") or "127.0.0.1",
        port=_number(env, "PORT", 8000, int, 1, 65535),
        idempotency_window_seconds=_number(env, "IDEMPOTENCY_WINDOW_SECONDS", 5, int, 0),
        event_retention_days=_number(env, "EVENT_RETENTION_DAYS", 365, int, 1),
        embedded_fsync_seconds=_number(env, "EMBEDDED_FSYNC_SECONDS", 1.0, float, 0.0),
        # One core for the event loop, the rest for admin views (storage.embedded.offload).
        embedded_query_workers=_number(
            env, "EMBEDDED_QUERY_WORKERS", max(1, (os.cpu_count() or 1) - 1), int, 0, 64
        ),
        # The embedded store is a local, single-user set-up: its admin token on the
        # console is the quickstart. With MongoDB the console is often a shared log.
        print_admin_token=_flag(env, "PRINT_ADMIN_TOKEN", mongodb_url is None),
        keep_alive_seconds=_number(env, "KEEP_ALIVE_SECONDS", 5, int, 1, 3600),
        request_timeout_seconds=_number(env, "REQUEST_TIMEOUT_SECONDS", 10.0, float, 0.5, 3600.0),
        max_connections=max_connections,
        cors_origins=_origins(env),
        trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
        tenant_rate_limit_per_minute=_number(env, "TENANT_RATE_LIMIT_PER_MINUTE", 100, int, 0),
        open_tenants=_flag(env, "OPEN_TENANTS", True),
        rate_limit_visitor_share=_number(env, "RATE_LIMIT_VISITOR_SHARE", 0.0, float, 0.0, 1.0),
        query_budget_points=_number(env, "QUERY_BUDGET_POINTS", 1000, int, 0, 10**9),
        query_budget_refill_per_second=_number(
            env, "QUERY_BUDGET_REFILL_PER_SECOND", 20.0, float, 0.0, 1e9
        ),
        warm_up_views=_flag(env, "WARM_UP_VIEWS", True),
        live_subscriptions_per_token=_number(env, "LIVE_SUBSCRIPTIONS_PER_TOKEN", 10, int, 1, 1000),
    )
