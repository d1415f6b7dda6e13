"""The admin page (``/admin``): a dashboard of the admin views for a browser.

Plain ES modules, a stylesheet and a vendored chart library (uPlot, see ``VENDOR.md``),
all served by this application from ``STATIC_DIR`` at ``STATIC_URL_PREFIX``; nothing
comes from a CDN and nothing is built. Each panel asks ``/graphql`` for the fields it
draws with the admin's bearer token, which the page keeps in ``sessionStorage`` (it
arrives pasted or in the URL's fragment, which browsers never send to a server).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse

__all__ = ["PAGE_PATH", "STATIC_DIR", "STATIC_URL_PREFIX", "page"]

_HERE: Final = Path(__file__).resolve().parent

PAGE_PATH: Final = "/admin"
STATIC_DIR: Final[Path] = _HERE / "static"
"""Folder served at ``STATIC_URL_PREFIX``: the page's modules, its CSS and ``vendor/``."""
STATIC_URL_PREFIX: Final = "/admin/static"

# Everything from this origin; the live panel's WebSocket too ('self' covers ws: in
# CSP level 3). No inline script, so an injected one could not run or read the token.
HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@functools.cache
def _html() -> str:
    return (_HERE / "index.html").read_text(encoding="utf-8")


async def page(_: Request) -> HTMLResponse:
    """The page itself; it holds no data, so every caller gets the same bytes."""
    return HTMLResponse(_html(), headers=HEADERS)
