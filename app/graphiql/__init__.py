"""Self-hosted GraphiQL page that works without internet access.

Strawberry's stock GraphiQL page loads React, js-cookie, GraphiQL and the
explorer plugin from a CDN.  This package ships the same files (identical
bytes, see ``VENDOR.md``) under ``static/vendor/`` and a page, ``index.html``,
that loads them from ``STATIC_URL_PREFIX``.  The application serves
``render_page()`` for browser GETs of the GraphQL endpoint and mounts
``starlette.staticfiles.StaticFiles(directory=STATIC_DIR)`` at
``STATIC_URL_PREFIX``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Final

__all__ = ["STATIC_DIR", "STATIC_URL_PREFIX", "render_page"]

_HERE: Final = Path(__file__).resolve().parent

STATIC_DIR: Final[Path] = _HERE / "static"
"""Folder to serve at ``STATIC_URL_PREFIX`` (holds ``vendor/``)."""

STATIC_URL_PREFIX: Final = "/graphiql/static"
"""URL path the page loads its scripts and stylesheets from."""

_TEMPLATE_PATH: Final = _HERE / "index.html"
_PLACEHOLDER: Final = "{{ GRAPHQL_ENDPOINT }}"

# Characters that could end the <script> element or open an HTML comment when
# they appear inside an inline script; JSON allows them as \u escapes.
_SCRIPT_SAFE: Final = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@functools.cache
def _template() -> str:
    """Return the page template, read from disk once."""
    return _TEMPLATE_PATH.read_text(encoding="utf-8")


def _js_string(value: str) -> str:
    """Return ``value`` as a JavaScript string literal safe inside ``<script>``.

    ``json.dumps`` (with its default ``ensure_ascii``) escapes quotes,
    backslashes, control characters and U+2028/U+2029; ``<``, ``>`` and ``&``
    are escaped as well so the value can never close the script element.
    """
    return json.dumps(value).translate(_SCRIPT_SAFE)


def render_page(endpoint: str = "/graphql") -> str:
    """Return the GraphiQL HTML page that sends its queries to ``endpoint``."""
    return _template().replace(_PLACEHOLDER, _js_string(endpoint))
