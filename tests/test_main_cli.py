"""The command line: configuration errors, the token command, the generated secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auth.secret import signing_secret
from auth.tokens import verify_token
from core.errors import ConfigError
from core.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


# Variables of the service, left out of the tests' environment so each test sets its own.
SERVICE_VARIABLES = ("MONGODB_URL", "JWT_SECRET", "PRINT_ADMIN_TOKEN", "MAX_CONNECTIONS")


def clean_environment(env: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}, **env}


def run_main(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env=clean_environment(env),
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
        ({"PORT": "abc"}, "error: PORT must be a whole number, got 'abc'\n"),
        ({"PORT": "0"}, "error: PORT must be between 1 and 65535, got '0'\n"),
        ({"PORT": "70000"}, "error: PORT must be between 1 and 65535, got '70000'\n"),
        ({"JWT_SECRET": "short"}, "error: JWT_SECRET must be at least 32 bytes long\n"),
        (
            {"PRINT_ADMIN_TOKEN": "on"},
            "error: PRINT_ADMIN_TOKEN must be one of 1, 0, true, false, yes, no; got 'on'\n",
        ),
    ],
)
@pytest.mark.parametrize("command", [(), ("token", "--email", "a@x.co")], ids=["serve", "token"])
def test_bad_settings_fail_with_one_line(
    tmp_path: Path, env: dict[str, str], message: str, command: tuple[str, ...]
) -> None:
    result = run_main(*command, env={"DATA_DIR": str(tmp_path / "data"), **env})
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)
    assert not (tmp_path / "data").exists()


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


def test_token_refuses_to_invent_a_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = run_main("token", "--email", "a@x.co", env={"DATA_DIR": str(data_dir)})
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"error: no signing secret in {data_dir.resolve()}/jwt_secret: start the server once "
        "with this DATA_DIR (it creates one), or set JWT_SECRET\n",
    )
    assert not data_dir.exists()


def test_the_server_generates_the_secret_once_and_token_reads_it(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    first, second = signing_secret(settings), signing_secret(settings)
    secret = (tmp_path / "jwt_secret").read_text()
    assert first == second == secret and len(secret) >= 32
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
    result = run_main("token", "--email", "a@x.co", env={"DATA_DIR": str(tmp_path)})
    assert verify_token(result.stdout.strip().splitlines()[-1], secret).email == "a@x.co"


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "jwt_secret").write_text("")
    result = run_main("token", "--email", "a@x.co", env={"DATA_DIR": str(tmp_path)})
    assert (result.returncode, result.stderr) == (
        2,
        f"error: {tmp_path.resolve()}/jwt_secret holds no usable secret (under 32 bytes): "
        "delete it and start the server to generate a new one, or set JWT_SECRET\n",
    )
    with pytest.raises(ConfigError, match="holds no usable secret"):
        signing_secret(load_settings({"DATA_DIR": str(tmp_path)}))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVENT_RETENTION_DAYS": "0"}, "EVENT_RETENTION_DAYS must be at least 1, got '0'"),
        ({"IDEMPOTENCY_WINDOW_SECONDS": "-1"}, "IDEMPOTENCY_WINDOW_SECONDS must be at least 0"),
        ({"EMBEDDED_FSYNC_SECONDS": "nan"}, "EMBEDDED_FSYNC_SECONDS must be at least 0.0"),
        ({"EMBEDDED_FSYNC_SECONDS": "soon"}, "EMBEDDED_FSYNC_SECONDS must be a number"),
        ({"PORT": "65536"}, "PORT must be between 1 and 65535, got '65536'"),
        ({"PRINT_ADMIN_TOKEN": "2"}, "PRINT_ADMIN_TOKEN must be one of 1, 0, true, false"),
        ({"KEEP_ALIVE_SECONDS": "0"}, "KEEP_ALIVE_SECONDS must be between 1 and 3600, got '0'"),
        ({"REQUEST_TIMEOUT_SECONDS": "0"}, "REQUEST_TIMEOUT_SECONDS must be between 0.5 and"),
        ({"REQUEST_TIMEOUT_SECONDS": "nan"}, "REQUEST_TIMEOUT_SECONDS must be between 0.5 and"),
        ({"MAX_CONNECTIONS": "0"}, "MAX_CONNECTIONS must be at least 1, got '0'"),
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
    assert (
        settings.print_admin_token,
        settings.keep_alive_seconds,
        settings.request_timeout_seconds,
        settings.max_connections,
    ) == (True, 5, 10.0, None)


@pytest.mark.parametrize(
    ("env", "printed"),
    [
        ({}, True),
        ({"MONGODB_URL": "mongodb://db", "JWT_SECRET": "k" * 40}, False),
        ({"MONGODB_URL": "mongodb://db", "JWT_SECRET": "k" * 40, "PRINT_ADMIN_TOKEN": "yes"}, True),
        ({"PRINT_ADMIN_TOKEN": "0"}, False),
        ({"PRINT_ADMIN_TOKEN": "False"}, False),
        ({"PRINT_ADMIN_TOKEN": "no"}, False),
        ({"PRINT_ADMIN_TOKEN": "1"}, True),
        ({"PRINT_ADMIN_TOKEN": " TRUE "}, True),
    ],
)
def test_print_admin_token_defaults_on_for_the_embedded_store(
    env: dict[str, str], printed: bool
) -> None:
    assert load_settings(env).print_admin_token is printed
