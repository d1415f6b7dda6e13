"""Service configuration, read once from the environment at start-up.

Every knob is documented in the README's Configuration table; nothing else reads
``os.environ``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from core.errors import ConfigError

MIN_SECRET_BYTES = 32
T = TypeVar("T", int, float)


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

    @property
    def embedded(self) -> bool:
        """True when events live in the in-process store under ``data_dir``."""
        return self.mongodb_url is None


def _number(
    env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], minimum: T
) -> T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        kind = "a whole number" if parse is int else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if not math.isfinite(value) or not value >= minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


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
    return Settings(
        mongodb_url=mongodb_url,
        mongodb_database=env.get("MONGODB_DATABASE") or "storefront_analytics",
        data_dir=Path(env.get("DATA_DIR") or "./data"),
        jwt_secret=jwt_secret,
        host=env.get("HOST") or "127.0.0.1",
        port=_number(env, "PORT", 8000, int, 0),
        idempotency_window_seconds=_number(env, "IDEMPOTENCY_WINDOW_SECONDS", 5, int, 0),
        event_retention_days=_number(env, "EVENT_RETENTION_DAYS", 365, int, 1),
        embedded_fsync_seconds=_number(env, "EMBEDDED_FSYNC_SECONDS", 1.0, float, 0.0),
    )
