"""The self-hosted GraphiQL page references only files shipped in app/graphiql/static."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.graphiql import STATIC_DIR, STATIC_URL_PREFIX, render_page

# sha384 of each vendored file: the same values as the integrity attributes of
# strawberry-graphql 0.341.2's CDN page, i.e. the files are unmodified upstream
# builds (react 18.2.0, react-dom 18.2.0, js-cookie 3.0.5, graphiql 3.8.3,
# @graphiql/plugin-explorer 1.0.2).  Re-vendoring: app/graphiql/fetch_vendor.sh.
VENDORED = {
    "vendor/react/umd/react.production.min.js": (
        "tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"
    ),
    "vendor/react-dom/umd/react-dom.production.min.js": (
        "bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"
    ),
    "vendor/js-cookie/dist/js.cookie.min.js": (
        "/vxhYfM1LENRhdpZ8dwEsQn/X4VhpbEZSiU4m/FwR+PVpzar4fkEOw8FP9Y+OfQN"
    ),
    "vendor/graphiql/graphiql.min.css": (
        "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM"
    ),
    "vendor/graphiql/graphiql.min.js": (
        "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"
    ),
    "vendor/graphiql-plugin-explorer/dist/style.css": (
        "5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi"
    ),
    "vendor/graphiql-plugin-explorer/dist/index.umd.js": (
        "2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9"
    ),
}

CDN_HOSTS = re.compile(
    r"unpkg\.com|jsdelivr\.net|esm\.sh|cdnjs\.|googleapis\.com|gstatic\.com|skypack\.dev"
)


class _Resources(HTMLParser):
    """Collect the URLs the browser fetches: <script src> and <link href>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.urls.append(value.strip())


def _resources(page: str) -> list[str]:
    parser = _Resources()
    parser.feed(page)
    parser.close()
    return parser.urls


def _fetch_url_literal(page: str) -> str:
    match = re.search(r"const fetchURL = (.*);\n", page)
    assert match is not None, "fetchURL assignment not found"
    return match.group(1)


def test_page_loads_nothing_from_another_host() -> None:
    page = render_page()
    urls = _resources(page)
    assert len(urls) >= 7  # 5 scripts, 2 stylesheets (plus the inline favicon)
    for url in urls:
        assert not url.lower().startswith(("http://", "https://", "//")), url
    assert not CDN_HOSTS.search(page)
    assert "integrity=" not in page
    assert "crossorigin" not in page


def test_every_static_url_exists_under_static_dir() -> None:
    page = render_page()
    static_urls = re.findall(re.escape(STATIC_URL_PREFIX) + r"/[^\"'\s<>)]+", page)
    script_and_link = [u for u in _resources(page) if not u.startswith("data:")]
    assert sorted(set(static_urls)) == sorted(set(script_and_link))
    assert len(set(static_urls)) == len(VENDORED)
    root = STATIC_DIR.resolve()
    for url in static_urls:
        path = (STATIC_DIR / url.removeprefix(STATIC_URL_PREFIX + "/")).resolve()
        assert path.is_relative_to(root), url
        assert path.is_file(), f"{url} -> {path} missing"
        assert path.stat().st_size > 0, url


def test_static_url_prefix_and_dir() -> None:
    assert STATIC_URL_PREFIX == "/graphiql/static"
    assert isinstance(STATIC_DIR, Path)
    assert (STATIC_DIR / "vendor").is_dir()


def test_default_endpoint_is_substituted() -> None:
    page = render_page()
    assert "{{ GRAPHQL_ENDPOINT }}" not in page
    assert "GRAPHQL_ENDPOINT" not in page
    assert _fetch_url_literal(page) == '"/graphql"'


def test_custom_endpoint_is_substituted() -> None:
    page = render_page("/api/graphql")
    assert _fetch_url_literal(page) == '"/api/graphql"'
    assert render_page() != page


@pytest.mark.parametrize(
    "endpoint",
    [
        '/graphql"; alert(1); "',
        "</script><script>alert(1)</script>",
        "<!-- /graphql",
        "/gra\\phql'\n\u2028\u2029&amp;",
    ],
)
def test_endpoint_is_escaped_for_a_script_context(endpoint: str) -> None:
    page = render_page(endpoint)
    literal = _fetch_url_literal(page)
    assert json.loads(literal) == endpoint
    for dangerous in ("<", ">", "&", "\n", "\u2028", "\u2029"):
        assert dangerous not in literal
    assert page.count("</script>") == render_page().count("</script>")


def test_page_keeps_explorer_and_url_sharing_without_websockets() -> None:
    page = render_page()
    assert "GraphiQLPluginExplorer.explorerPlugin()" in page
    assert "plugins: [explorerPlugin]" in page
    assert "updateURL({ q: newQuery })" in page
    assert "updateURL({ variables: newVariables })" in page
    assert "subscriptionUrl" not in page
    assert "ws:" not in page


def test_welcome_text_explains_auth() -> None:
    page = render_page()
    assert "trackEvent is public" in page
    assert "Authorization: Bearer <token>" in page
    assert '"Headers" tab' in page
    assert "{ dashboardStats { totalSales totalRevenue } }" in page


@pytest.mark.parametrize(("relative", "sha384"), sorted(VENDORED.items()))
def test_vendored_file_is_the_upstream_build(relative: str, sha384: str) -> None:
    digest = hashlib.sha384((STATIC_DIR / relative).read_bytes()).digest()
    assert base64.b64encode(digest).decode() == sha384


def test_vendored_files_request_nothing_from_a_cdn() -> None:
    url = re.compile(rb"https?://[^\s\"'()<>]*(?:" + CDN_HOSTS.pattern.encode() + rb")")
    for path in sorted((STATIC_DIR / "vendor").rglob("*")):
        if path.suffix in {".js", ".css"}:
            data = path.read_bytes()
            assert not url.search(data), path
            if path.suffix == ".css":
                assert not re.search(rb"@import|url\(\s*['\"]?(?:https?:)?//", data), path


def test_each_vendored_package_has_its_license() -> None:
    packages = sorted(p for p in (STATIC_DIR / "vendor").iterdir() if p.is_dir())
    assert [p.name for p in packages] == [
        "graphiql",
        "graphiql-plugin-explorer",
        "js-cookie",
        "react",
        "react-dom",
    ]
    for package in packages:
        license_text = (package / "LICENSE").read_text(encoding="utf-8")
        assert "MIT License" in license_text, package.name
