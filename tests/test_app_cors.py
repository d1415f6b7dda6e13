"""CORS: preflights answered and cached, no credentials, origins from CORS_ORIGINS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.http import create_app
from core.errors import ConfigError
from core.settings import load_settings
from storage.embedded import EmbeddedDatabase
from tests.conftest import SECRET, cost, token

PUBLIC_ROUTES = ["/graphql", "/collect", "/api/analytics/track/"]


def preflight(origin: str, headers: str = "authorization,content-type") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


@pytest.fixture
async def narrow(tmp_path: Path, database: EmbeddedDatabase) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "JWT_SECRET": SECRET,
            "CORS_ORIGINS": "https://shop.example, http://localhost:3000/",
        }
    )
    transport = httpx.ASGITransport(app=create_app(settings, database=database))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


@pytest.mark.parametrize("path", [*PUBLIC_ROUTES, "/api/analytics/rfm/"])
async def test_preflights_are_answered_and_cached(client: httpx.AsyncClient, path: str) -> None:
    response = await client.options(path, headers=preflight("https://shop.example"))
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-allow-headers"] == (
        "Accept, Accept-Language, Authorization, Content-Language, Content-Type"
    )
    assert response.headers["access-control-max-age"] == "86400"
    assert "access-control-allow-credentials" not in response.headers


async def test_an_admin_page_on_another_origin_reads_with_its_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ dashboardStats { mode } }"},
        headers={"Origin": "https://admin.example", "Authorization": f"Bearer {token()}"},
    )
    assert response.json() == {
        "data": {"dashboardStats": {"mode": "TOTAL"}},
        "extensions": cost(3, 997),
    }
    assert response.headers["access-control-allow-origin"] == "*"
    # Errors carry the header too, or the page could not read why it failed.
    refused = await client.post(
        "/graphql",
        json={"query": "{ dashboardStats { mode } }"},
        headers={"Origin": "https://admin.example"},
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert refused.headers["access-control-allow-origin"] == "*"


async def test_cors_origins_narrow_who_may_call(narrow: httpx.AsyncClient) -> None:
    allowed = await narrow.options("/graphql", headers=preflight("http://localhost:3000"))
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert allowed.headers["vary"].startswith("Origin")
    refused = await narrow.options("/graphql", headers=preflight("https://evil.example"))
    assert refused.status_code == 400
    assert refused.json() == {
        "errors": [{"message": "Disallowed CORS origin", "extensions": {"code": "BAD_REQUEST"}}]
    }
    headers = await narrow.options("/graphql", headers=preflight("https://shop.example", "x-a"))
    assert headers.status_code == 400
    assert headers.json()["errors"][0]["message"] == "Disallowed CORS headers"
    simple = await narrow.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize("value", ["shop.example", "https://shop.example/path", "ftp://x"])
def test_bad_cors_origins_stop_start_up(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        load_settings({"DATA_DIR": str(tmp_path), "CORS_ORIGINS": value})


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings({"DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": "10.0.0.0/8, nginx"})


async def test_cors_origins_are_enforced_on_beacons_too(
    narrow: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    # text/plain needs no preflight: the browser would send it from any origin.
    beacon = '{"events": [{"eventType": "page_view"}], "token": null}'
    for origin, status in (("https://evil.example", None), ("https://shop.example", "OK")):
        response = await narrow.post(
            "/collect", content=beacon, headers={"Content-Type": "text/plain", "Origin": origin}
        )
        (item,) = response.json()["trackEvents"]
        assert item["status"] == status
        if status is None:
            assert item["error"]["code"] == "FORBIDDEN"
    assert len(list(database.documents())) == 1
