"""GET /tracker.js: small, cacheable, the same bytes as the file in the repository."""

from __future__ import annotations

import gzip

import httpx

from app.tracker import SCRIPT_PATH

MAX_GZIPPED_BYTES = 3 * 1024


def test_the_tracker_is_at_most_3_kb_gzipped() -> None:
    size = len(gzip.compress(SCRIPT_PATH.read_bytes(), compresslevel=9))
    print(f"tracker.js: {SCRIPT_PATH.stat().st_size} bytes, {size} bytes gzipped")
    assert size <= MAX_GZIPPED_BYTES


async def test_served_with_etag_cache_control_and_gzip(client: httpx.AsyncClient) -> None:
    plain = await client.get("/tracker.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.content == SCRIPT_PATH.read_bytes()
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == "public, max-age=3600, stale-while-revalidate=86400"
    etag = plain.headers["etag"]
    assert etag.startswith('"') and len(etag) == 34
    zipped = await client.get("/tracker.js", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == SCRIPT_PATH.read_bytes()  # httpx decodes it
    assert int(zipped.headers["content-length"]) <= MAX_GZIPPED_BYTES
    again = await client.get("/tracker.js", headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other = await client.get("/tracker.js", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200
    assert (await client.get("/tracker.js", headers={"If-None-Match": "*"})).status_code == 304
    for refused in ("gzip;q=0", "gzip;q=-1", "identity", "gzip;q=x"):
        plain = await client.get("/tracker.js", headers={"Accept-Encoding": refused})
        assert "content-encoding" not in plain.headers, refused
