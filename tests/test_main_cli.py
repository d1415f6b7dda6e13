"""The command line: configuration errors, the token command, the generated secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auth.tokens import verify_token
from core.errors import ConfigError
from core.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


def run_main(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "JWT_SECRET")}
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_mongodb_without_secret_fails_with_one_line(tmp_path: Path) -> None:
    result = run_main(env={"MONGODB_URL": "mongodb://127.0.0.1:1", "DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr == "error: JWT_SECRET must be set when MONGODB_URL is set\n"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "error: PORT must be a whole number, got 'eighty'\n"),
        ({"JWT_SECRET": "short"}, "error: JWT_SECRET must be at least 32 bytes long\n"),
    ],
)
def test_bad_settings_fail_with_one_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = run_main("token", "--email", "a@x.co", env={"DATA_DIR": str(tmp_path), **env})
    assert (result.returncode, result.stderr) == (2, message)


def test_token_uses_the_configured_secret(tmp_path: Path) -> None:
    secret = "k" * 40
    result = run_main(
        "token",
        "--email",
        "ana@shop.co",
        "--admin",
        "--tenant",
        "shop2",
        "--days",
        "2",
        env={"DATA_DIR": str(tmp_path), "JWT_SECRET": secret},
    )
    assert result.returncode == 0, result.stderr
    identity = verify_token(result.stdout.strip().splitlines()[-1], secret)
    assert (identity.email, identity.is_admin, identity.tenants) == (
        "ana@shop.co",
        True,
        frozenset({"shop2"}),
    )


def test_embedded_store_generates_its_secret_once(tmp_path: Path) -> None:
    first = run_main("token", "--email", "a@x.co", env={"DATA_DIR": str(tmp_path)})
    second = run_main("token", "--email", "a@x.co", env={"DATA_DIR": str(tmp_path)})
    secret = (tmp_path / "jwt_secret").read_text()
    assert len(secret) >= 32
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
    for result in (first, second):
        assert verify_token(result.stdout.strip().splitlines()[-1], secret).email == "a@x.co"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVENT_RETENTION_DAYS": "0"}, "EVENT_RETENTION_DAYS must be at least 1, got '0'"),
        ({"IDEMPOTENCY_WINDOW_SECONDS": "-1"}, "IDEMPOTENCY_WINDOW_SECONDS must be at least 0"),
        ({"EMBEDDED_FSYNC_SECONDS": "nan"}, "EMBEDDED_FSYNC_SECONDS must be at least 0.0"),
        ({"EMBEDDED_FSYNC_SECONDS": "soon"}, "EMBEDDED_FSYNC_SECONDS must be a number"),
    ],
)
def test_settings_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_settings_defaults() -> None:
    settings = load_settings({})
    assert (settings.host, settings.port, settings.idempotency_window_seconds) == (
        "127.0.0.1",
        8000,
        5,
    )
    assert (settings.event_retention_days, settings.embedded, str(settings.data_dir)) == (
        365,
        True,
        "data",
    )
