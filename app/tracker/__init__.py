"""``GET /tracker.js``: the storefront's script tag, served from the project.

The file ships as written (no build step, STYLE.md "Pages and scripts"), read once, with
a strong ETag of its content, its gzip form computed once, and a cache lifetime that
lets browsers and CDNs keep it for an hour and revalidate cheaply after (304).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

SCRIPT_PATH: Final = Path(__file__).resolve().parent / "tracker.js"
CACHE_CONTROL: Final = "public, max-age=3600, stale-while-revalidate=86400"
MEDIA_TYPE: Final = "text/javascript; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Script:
    body: bytes
    gzipped: bytes
    etag: str


@functools.cache
def script() -> Script:
    body = SCRIPT_PATH.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Script(body=body, gzipped=gzip.compress(body, compresslevel=9, mtime=0), etag=etag)


def _accepts_gzip(request: Request) -> bool:
    """Whether ``Accept-Encoding`` names gzip with a q-value above 0."""
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, parameters = part.partition(";")
        if coding.strip().lower() != "gzip":
            continue
        quality = parameters.strip().lower().removeprefix("q=")
        try:
            return not parameters.strip() or 0 < float(quality) <= 1
        except ValueError:
            return False
    return False


async def tracker_js(request: Request) -> Response:
    served = script()
    headers = {"ETag": served.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    wanted = request.headers.get("if-none-match", "")
    tags = [tag.strip().removeprefix("W/") for tag in wanted.split(",")]
    if served.etag in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    if _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(served.gzipped, media_type=MEDIA_TYPE, headers=headers)
    return Response(served.body, media_type=MEDIA_TYPE, headers=headers)
