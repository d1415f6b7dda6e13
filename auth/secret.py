"""The signing secret: JWT_SECRET, or one generated once under DATA_DIR (embedded store).

Only the server generates it (``signing_secret``); ``main.py token`` reads it
(``stored_secret``) and never invents one that the server would not find.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from core.errors import ConfigError
from core.settings import MIN_SECRET_BYTES, Settings

SECRET_FILE = "jwt_secret"


def secret_path(settings: Settings) -> Path:
    return settings.data_dir / SECRET_FILE


def _read(path: Path) -> str:
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        # An empty file is what a crash between create and write leaves.
        raise ConfigError(
            f"{path.resolve()} holds no usable secret (under {MIN_SECRET_BYTES} bytes): "
            "delete it and start the server to generate a new one, or set JWT_SECRET"
        )
    return secret


def stored_secret(settings: Settings) -> str:
    """The secret the server signs with, without creating one."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret
    if not settings.embedded:
        raise ConfigError("JWT_SECRET must be set when MONGODB_URL is set")
    path = secret_path(settings)
    if not path.exists():
        raise ConfigError(
            f"no signing secret in {path.resolve()}: start the server once with this "
            "DATA_DIR (it creates one), or set JWT_SECRET"
        )
    return _read(path)


def signing_secret(settings: Settings) -> str:
    """The server's secret: JWT_SECRET, else DATA_DIR's, generated on first start."""
    if settings.jwt_secret is not None or not settings.embedded:
        return stored_secret(settings)
    path = secret_path(settings)
    if path.exists():
        return _read(path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once cannot both write a secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    return secret


def visitor_key(secret: str) -> bytes:
    """The key of visitor hashes (docs/metrics.md, Context), derived from the signing
    secret so that a deployment has one secret to keep; changing it starts new visitors."""
    return hmac.new(
        secret.encode(), b"storefront-analytics visitor id, v1", hashlib.sha256
    ).digest()
