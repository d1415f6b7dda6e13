"""A real server process: start-up output, kill -9 after acknowledged writes, restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from storage.embedded import EmbeddedDatabase
from tests.live_server import Server

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
        response = httpx.post(
            f"{restarted.url}/graphql",
            json={"query": "{ dashboardStats { mode } }"},
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=10,
        )
    finally:
        restarted.kill()
    assert response.json() == {"data": {"dashboardStats": {"mode": "TOTAL"}}}
