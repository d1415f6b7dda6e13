"""The admin page (/admin) through the ASGI app: served with its headers, every file it
loads shipped in app/admin/static (nothing from a CDN), uPlot unmodified, the whole page
at most 300 KB gzipped. What it shows is tested in a browser (test_browser_admin.py)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx

from app.admin import STATIC_DIR, STATIC_URL_PREFIX
from app.http import create_app
from core.settings import Settings
from storage.embedded import EmbeddedDatabase
from tests.test_app_graphiql import CDN_HOSTS

# sha384 of each vendored file, as app/admin/fetch_vendor.sh prints them (uplot 1.6.32).
VENDORED = {
    "vendor/uplot/LICENSE": "LBMwZlHtMnim4BBA9gOI4OOPUI5cNjaxzIZCJRYYEyIykienqB4X7/vxq0t1Ihgd",
    "vendor/uplot/dist/uPlot.esm.js": (
        "iUdBlEO5qc07+gOz+3rq/Besyud+KVIxM+xJEuUBObxLG3C/Dlkz8OYuPUcPrCGP"
    ),
    "vendor/uplot/dist/uPlot.min.css": (
        "IfV0B7MIOYuO95kO9G5ySKPz/85zqFNOAs8iy4tkK5zd9izhJAB8b7lHrwYqqmYE"
    ),
}
BUDGET = 300 * 1024  # bytes, gzipped (issue 12)
# Static imports of an ES module: `import x from "./y.js"`, `import { a } from '../b.js'`.
IMPORTS = re.compile(r"""^\s*import\s[^"';]*?from\s*["']([^"']+)["']""", re.MULTILINE)


class _Resources(HTMLParser):
    """The URLs a browser fetches for the page: <script src> and <link href>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.urls.append(str(found["src"]))
            else:
                self.inline_scripts += 1
        if tag == "link" and found.get("rel") == "stylesheet":
            self.urls.append(str(found["href"]))


async def _client(settings: Settings, database: EmbeddedDatabase) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, database=database))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _module_graph(client_get: dict[str, bytes], entry: str) -> set[str]:
    """Every module reachable from entry by static imports (URLs resolved like a browser)."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        text = client_get[url].decode()
        for spec in IMPORTS.findall(text):
            assert spec.startswith("."), f"{url} imports {spec!r}: only relative modules"
            todo.append(str(httpx.URL(f"http://test{url}").join(spec).path))
    return seen


async def test_the_page_is_served_with_a_strict_policy(
    settings: Settings, database: EmbeddedDatabase
) -> None:
    async with await _client(settings, database) as client:
        response = await client.get("/admin")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    parser = _Resources()
    parser.feed(response.text)
    # No inline script: the policy could not allow one without allowing injected ones.
    assert parser.inline_scripts == 0
    assert parser.urls == [
        "/admin/static/vendor/uplot/dist/uPlot.min.css",
        "/admin/static/admin.css",
        "/admin/static/js/main.js",
    ]


async def test_every_file_it_loads_is_ours_and_the_page_weighs_at_most_300_kb_gzipped(
    settings: Settings, database: EmbeddedDatabase
) -> None:
    bodies: dict[str, bytes] = {}
    async with await _client(settings, database) as client:
        page = await client.get("/admin")
        parser = _Resources()
        parser.feed(page.text)
        # Every file under static/ that a module graph could reach, fetched over HTTP.
        for path in sorted(STATIC_DIR.rglob("*")):
            if path.is_file() and path.suffix in (".js", ".css"):
                url = f"{STATIC_URL_PREFIX}/{path.relative_to(STATIC_DIR).as_posix()}"
                response = await client.get(url)
                assert response.status_code == 200, url
                bodies[url] = response.content
    scripts = [url for url in parser.urls if url.endswith(".js")]
    loaded = {url for url in parser.urls if url.endswith(".css")}
    for script in scripts:
        loaded |= _module_graph(bodies, script)
    # Nothing shipped that the page does not load (the vendored CSS included).
    assert loaded == set(bodies)
    for url in loaded:
        # The policy (default-src 'self') and the browser test's request log are the
        # real guard; this catches a CDN link before anyone opens the page.
        assert not CDN_HOSTS.search(bodies[url].decode()), f"{url} names a CDN"
    weight = len(gzip.compress(page.content, 9)) + sum(
        len(gzip.compress(bodies[url], 9)) for url in loaded
    )
    assert weight <= BUDGET, f"{weight} bytes gzipped"


def test_vendored_files_are_the_upstream_bytes_with_their_licence() -> None:
    found = {
        path.relative_to(STATIC_DIR).as_posix(): base64.b64encode(
            hashlib.sha384(path.read_bytes()).digest()
        ).decode()
        for path in (STATIC_DIR / "vendor").rglob("*")
        if path.is_file()
    }
    assert found == VENDORED
    licence = (STATIC_DIR / "vendor/uplot/LICENSE").read_text()
    assert "MIT" in licence and "Leon Sorokin" in licence
    vendor_notes = (Path(STATIC_DIR).parent / "VENDOR.md").read_text()
    assert "| uplot | 1.6.32 | MIT" in vendor_notes
