"""The signing secret: JWT_SECRET, or one generated once under DATA_DIR (embedded store)."""

from __future__ import annotations

import os
import secrets

from core.errors import ConfigError
from core.settings import Settings

SECRET_FILE = "jwt_secret"


def signing_secret(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret
    if not settings.embedded:
        raise ConfigError("JWT_SECRET must be set when MONGODB_URL is set")
    path = settings.data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once cannot both write a secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    return secret
