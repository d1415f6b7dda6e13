"""A real server process: start-up output, kill -9 after acknowledged writes, restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from storage.embedded import EmbeddedDatabase

ROOT = Path(__file__).resolve().parents[1]
TRACK = "mutation($input: TrackEventInput!) { trackEvent(input: $input) { status sessionId } }"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "JWT_SECRET")}
        env.update(DATA_DIR=str(data_dir), PORT=str(self.port), EMBEDDED_FSYNC_SECONDS="1")
        self.process = subprocess.Popen(
            [sys.executable, "main.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.banner: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                self.kill()
                raise AssertionError(f"server exited: {self.output}")
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"server did not become healthy: {self.output}")

    def kill(self) -> None:
        """SIGKILL: what a crash does. Collects what the server printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.output = self.process.stdout.read()
        self.process.stdout.close()


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
    assert lines[0] == f"GraphiQL: {server.url}/graphql"
    heading = next(i for i, line in enumerate(lines) if line.startswith("Admin token"))
    admin_token = lines[heading + 1]
    restarted = Server(data_dir)
    try:
        response = httpx.post(
            f"{restarted.url}/graphql",
            json={"query": "{ dashboardStats { mode } }"},
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=10,
        )
    finally:
        restarted.kill()
    assert response.json() == {"data": {"dashboardStats": {"mode": "TOTAL"}}}
