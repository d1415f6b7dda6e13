"""Content negotiation for GraphQL over HTTP: ``Accept`` and ``Content-Type``.

Responses come in ``application/graphql-response+json`` (status codes carry
meaning) or ``application/json`` (legacy: 200 for every well-formed request).
``Accept`` is read as RFC 9110 says: the q-value of a type is that of the most
specific range naming it; the highest q wins, then the more specific range,
then the one listed first. A wildcard alone (``*/*``, ``application/*``) and a
missing ``Accept`` get ``application/json``, which every client understands.
Both are UTF-8: a range asking for another charset does not match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
HTML = "text/html"

_QVALUE = re.compile(r"0(\.\d{0,3})?|1(\.0{0,3})?")


@dataclass(frozen=True, slots=True)
class _Range:
    kind: str  # "type/subtype", either part possibly "*"
    q: float
    charset: str | None
    index: int

    def specificity(self, media_type: str) -> int:
        """2 exact, 1 ``type/*``, 0 ``*/*``, -1 no match."""
        if self.charset not in (None, "utf-8"):
            return -1
        if self.kind == media_type:
            return 2
        if self.kind == media_type.split("/")[0] + "/*":
            return 1
        return 0 if self.kind == "*/*" else -1


def _parse(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lower case) and its parameters (names lower case)."""
    kind, *parameters = value.split(";")
    names: dict[str, str] = {}
    for parameter in parameters:
        name, _, raw = parameter.partition("=")
        names[name.strip().lower()] = raw.strip().strip('"')
    return kind.strip().lower(), names


def _ranges(accept: str) -> list[_Range]:
    ranges = []
    for index, item in enumerate(accept.split(",")):
        kind, parameters = _parse(item)
        q = parameters.get("q", "1")
        if "/" not in kind or not _QVALUE.fullmatch(q):
            continue  # malformed: ignored, as if not listed
        charset = parameters.get("charset")
        ranges.append(_Range(kind, float(q), charset and charset.lower(), index))
    return ranges


def _quality(ranges: list[_Range], media_type: str) -> tuple[float, int, int]:
    """(q, specificity, -index) of the range that decides for ``media_type``;
    q is 0 when none names it."""
    deciding = max(
        (r for r in ranges if r.specificity(media_type) >= 0),
        key=lambda r: (r.specificity(media_type), -r.index),
        default=None,
    )
    if deciding is None:
        return 0.0, -1, 0
    return deciding.q, deciding.specificity(media_type), -deciding.index


def response_media_type(accept: str | None) -> str | None:
    """The media type to answer in, or None when ``accept`` admits neither (406)."""
    if accept is None or not accept.strip():
        return JSON
    ranges = _ranges(accept)
    # On a full tie (one wildcard range for both) application/json comes first.
    best = max((JSON, GRAPHQL_RESPONSE), key=lambda media_type: _quality(ranges, media_type))
    return best if _quality(ranges, best)[0] > 0 else None


def accepts_html(accept: str | None) -> bool:
    """True when a browser (or ``*/*``) would take the GraphiQL page."""
    return accept is not None and _quality(_ranges(accept), HTML)[0] > 0


def is_json_body(content_type: str | None) -> bool:
    """``application/json``, in UTF-8 (said or assumed)."""
    if content_type is None:
        return False
    kind, parameters = _parse(content_type)
    return kind == JSON and parameters.get("charset", "utf-8").lower() == "utf-8"
