"""A real server process: start-up output and errors, kill -9 after acknowledged writes."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from auth.tokens import verify_token
from storage.embedded import EmbeddedDatabase
from tests.conftest import cost
from tests.live_server import ROOT, Server, free_port
from tests.test_main_cli import clean_environment, run_main

TRACK = "mutation($input: TrackEventInput!) { trackEvent(input: $input) { status sessionId } }"

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


async def track_all(url: str, payloads: list[dict[str, object]]) -> list[dict[str, str]]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def one(payload: dict[str, object]) -> dict[str, str]:
            response = await client.post("/graphql", json={"query": TRACK, "variables": payload})
            result: dict[str, str] = response.json()["data"]["trackEvent"]
            return result

        return list(await asyncio.gather(*(one(p) for p in payloads)))


def test_acknowledged_events_survive_kill_9(data_dir: Path) -> None:
    server = Server(data_dir)
    sessions = [f"session-{i}" for i in range(60)]
    acknowledged = asyncio.run(
        track_all(
            server.url, [{"input": {"eventType": "page_view", "sessionId": s}} for s in sessions]
        )
    )
    racing = asyncio.run(
        track_all(
            server.url,
            [{"input": {"eventType": "purchase", "sessionId": "buyer", "idempotencyKey": "o-1"}}]
            * 25,
        )
    )
    server.kill()  # right after the last response: no graceful shutdown, no fsync timer
    assert [a["status"] for a in acknowledged] == ["OK"] * 60
    assert sorted(r["status"] for r in racing) == ["DUPLICATE_IGNORED"] * 24 + ["OK"]

    async def stored() -> list[str]:
        database = await EmbeddedDatabase.open(data_dir, fsync_seconds=0)
        try:
            return sorted(doc["sessionId"] for doc in database.documents())
        finally:
            await database.close()

    assert asyncio.run(stored()) == sorted([*sessions, "buyer"])

    restarted = Server(data_dir)
    again = asyncio.run(track_all(restarted.url, [{"input": {"eventType": "page_view"}}]))
    restarted.kill()
    assert again[0]["status"] == "OK"


def test_start_up_prints_graphiql_url_and_a_working_admin_token(data_dir: Path) -> None:
    server = Server(data_dir)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            page = client.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200
    finally:
        server.kill()
    lines = server.output.splitlines()
    assert f"GraphiQL: {server.url}/graphql" in lines
    heading = next(i for i, line in enumerate(lines) if line.startswith("Admin token"))
    admin_token = lines[heading + 1]
    restarted = Server(data_dir)
    try:
        assert admin_query(restarted.url, admin_token) == {
            "data": {"dashboardStats": {"mode": "TOTAL"}},
            "extensions": cost(3, 997),
        }
    finally:
        restarted.kill()


def admin_query(url: str, token: str) -> object:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": "{ dashboardStats { mode } }"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.json()


# ---- start-up order and start-up errors -------------------------------------------


class Starting:
    """``python main.py`` with stdout and stderr kept apart, read line by line in time."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "main.py"],
            cwd=ROOT,
            env=clean_environment(
                {"DATA_DIR": str(data_dir), "PORT": str(self.port), **(env or {})}
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def stdout_line(self, timeout: float = 30) -> str:
        """The next line on stdout ('' at EOF); fails if none comes within ``timeout``."""
        assert self.process.stdout is not None
        return read_line(self.process.stdout, time.monotonic() + timeout)

    def stop(self) -> tuple[str, str]:
        """SIGTERM (a graceful stop); the rest of stdout and all of stderr."""
        if self.process.returncode is not None:
            return "", ""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return out.decode(), err.decode()


def read_line(stream: IO[bytes], deadline: float) -> str:
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            assert selector.select(timeout=max(0.0, deadline - time.monotonic())), "no line in time"
            byte = os.read(stream.fileno(), 1)
            if not byte:
                break
            line += byte
    return line.decode()


@pytest.fixture
def starting() -> Iterator[list[Starting]]:
    started: list[Starting] = []
    yield started
    for process in started:
        process.stop()


def test_nothing_is_printed_before_the_server_answers(
    data_dir: Path, starting: list[Starting]
) -> None:
    server = Starting(data_dir)
    starting.append(server)
    first = server.stdout_line()
    # The first line is the signal a person waits for: by then the port answers.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    health = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
    assert (first, health.json()) == (
        f"GraphiQL: http://127.0.0.1:{server.port}/graphql\n",
        {"status": "ok"},
    )
    assert server.stdout_line() == f"Embedded store in {data_dir.resolve()}\n"
    assert server.stdout_line().startswith("Admin token (30 days, every tenant)")
    token = server.stdout_line().strip()
    # The admin page's sign-in link carries the same token in its fragment.
    link = f"Admin page: http://127.0.0.1:{server.port}/admin#token={token}\n"
    assert server.stdout_line() == link
    out, err = server.stop()
    secret = (data_dir / "jwt_secret").read_text()
    assert verify_token(token, secret).is_admin
    # stdout only: stderr is the log, and the token never goes there.
    assert (out, token in err) == ("", False)


def test_print_admin_token_0_prints_no_token(data_dir: Path, starting: list[Starting]) -> None:
    server = Starting(data_dir, env={"PRINT_ADMIN_TOKEN": "0"})
    starting.append(server)
    assert server.stdout_line() == f"GraphiQL: http://127.0.0.1:{server.port}/graphql\n"
    assert httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10).status_code == 200
    out, err = server.stop()
    assert out == f"Embedded store in {data_dir.resolve()}\n"
    assert "eyJ" not in out + err  # no JWT anywhere


def test_a_taken_port_is_one_line(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_main(env={"DATA_DIR": str(data_dir), "PORT": str(port)})
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n",
    )
    assert not data_dir.exists()  # refused before the store was touched


def test_a_data_dir_held_by_another_server_is_one_line(data_dir: Path) -> None:
    first = Server(data_dir)
    try:
        second = run_main(env={"DATA_DIR": str(data_dir), "PORT": str(free_port())})
        still_serving = httpx.get(f"{first.url}/healthz", timeout=10).json()
    finally:
        first.kill()
    assert (second.returncode, second.stdout, second.stderr) == (
        2,
        "",
        f"error: DATA_DIR {data_dir} is in use by another server process\n",
    )
    assert still_serving == {"status": "ok"}


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("0", "error: PORT must be between 1 and 65535, got '0'\n"),
        ("70000", "error: PORT must be between 1 and 65535, got '70000'\n"),
        ("abc", "error: PORT must be a whole number, got 'abc'\n"),
    ],
)
def test_a_bad_port_is_one_line(data_dir: Path, port: str, message: str) -> None:
    result = run_main(env={"DATA_DIR": str(data_dir), "PORT": port})
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)


def test_token_command_reads_the_servers_secret(data_dir: Path) -> None:
    refused = run_main("token", "--email", "a@x.co", "--admin", env={"DATA_DIR": str(data_dir)})
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.startswith("error: no signing secret in ")
    server = Server(data_dir)
    try:
        issued = run_main(
            "token",
            "--email",
            "a@x.co",
            "--admin",
            "--tenant",
            "*",
            env={"DATA_DIR": str(data_dir)},
        )
        answer = admin_query(server.url, issued.stdout.strip())
    finally:
        server.kill()
    assert answer == {"data": {"dashboardStats": {"mode": "TOTAL"}}, "extensions": cost(3, 997)}
