"""``GET /export/events.csv``: a range's events as CSV, streamed a page at a time.

The route runs the ``events`` field (admin, tenant-scoped) through the schema, so the
range, filters, permissions and errors are the GraphQL view's own; it asks for the
next page only once the previous one is written, so a year of a tenant downloads
without the server holding more than a page (1,000 events) of it.

Query parameters: ``period`` or ``start``/``end`` (dates), ``eventType`` (a type or a
role), ``tenantId``, ``timezone`` and the filter fields (``source``, ``channel``,
``campaign``, ``country``, ``device``, ``page``, ``productSlug``); anything else, or a
parameter given twice, is 400. The query budget is spent once, for the first page.
Before the first byte an error is answered as JSON
(400, 401, 403, 429, 500); once the CSV has started, a failure ends the transfer
without its final chunk, so a client never takes a cut file for a whole one.

Cells are CSV-quoted, and a text cell starting with ``=``, ``+``, ``-``, ``@``, tab
or carriage return is prefixed with ``'`` so a spreadsheet shows it instead of
running it (OWASP, CSV injection).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app import json_codec
from app.errors import HttpError, json_response
from app.rest import FieldRoutes

log = logging.getLogger(__name__)

PATH = "/export/events.csv"
COLUMNS = (
    "id",
    "createdAt",
    "eventType",
    "sessionId",
    "userId",
    "productSlug",
    "productName",
    "price",
    "quantity",
    "orderId",
    "source",
    "errorMessage",
    "visitorId",
    "browser",
    "os",
    "device",
    "country",
    "referrer",
    "page",
    "utmSource",
    "utmMedium",
    "utmCampaign",
    "channel",
    "metadata",
)
FILTERS = ("source", "channel", "campaign", "country", "device", "page", "productSlug")
PARAMETERS = frozenset({"period", "start", "end", "eventType", "tenantId", "timezone", *FILTERS})
PAGE = (
    "query($a: String, $p: String, $s: Date, $e: Date, $t: String, $f: EventFilter, "
    "$tenant: ID, $z: String) { events(first: 1000, after: $a, period: $p, start: $s, "
    "end: $e, eventType: $t, filter: $f, tenantId: $tenant, timezone: $z) { "
    "edges { node { " + " ".join(COLUMNS) + " } } pageInfo { hasNextPage endCursor } } }"
)
STATUS_OF_CODE = {
    "BAD_USER_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value as a CSV cell: JSON for metadata, a guarded text, numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json_codec.encode(value).decode()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _line(values: Any) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue().encode()


def _error(error: GraphQLError) -> Response:
    extensions = error.extensions or {}
    code = extensions.get("code", "INTERNAL_SERVER_ERROR")
    status = STATUS_OF_CODE.get(code, 500)
    message = error.message if status != 500 else "Internal server error"
    headers = {}
    if status == 429 and "retryAfter" in extensions:
        headers["Retry-After"] = str(extensions["retryAfter"])
    body = {
        "errors": [
            {"message": message, "extensions": extensions if status != 500 else {"code": code}}
        ]
    }
    return json_response(body, status=status, headers=headers)


def variables_of(query: Mapping[str, str], repeated: set[str]) -> dict[str, Any]:
    """The page query's variables from the URL's parameters (400 for others or repeats)."""
    unknown = sorted(set(query) - PARAMETERS)
    if unknown:
        raise HttpError(
            400, f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(PARAMETERS))}"
        )
    if repeated:
        raise HttpError(400, f"parameter {sorted(repeated)[0]!r} is given more than once")
    where = {name: query[name] for name in FILTERS if name in query}
    return {
        "p": query.get("period"),
        "s": query.get("start"),
        "e": query.get("end"),
        "t": query.get("eventType"),
        "f": where or None,
        "tenant": query.get("tenantId"),
        "z": query.get("timezone"),
    }


class ExportRoutes(FieldRoutes):
    def routes(self) -> list[Route]:
        return [Route(PATH, self.events_csv, methods=["GET"])]

    async def events_csv(self, request: Request) -> Response:
        params = request.query_params
        repeated = {name for name in params if len(params.getlist(name)) > 1}
        try:
            variables = variables_of(params, repeated)
        except HttpError as refused:
            return refused.response()
        context = await self.context(request)
        page, error = await self.run(request, PAGE, {**variables, "a": None}, context_value=context)
        if error is not None:
            return _error(error)
        # A download spends the query budget once, as its first page (schema.cost).
        context.budget_paid = True

        async def body() -> AsyncIterator[bytes]:
            current = page
            yield _line(COLUMNS)
            while True:
                chunk = b"".join(
                    _line([cell(edge["node"][name]) for name in COLUMNS])
                    for edge in current["edges"]
                )
                if chunk:
                    yield chunk
                info = current["pageInfo"]
                if not info["hasNextPage"]:
                    return
                following = {**variables, "a": info["endCursor"]}
                current, failed = await self.run(request, PAGE, following, context_value=context)
                if failed is not None:
                    log.error("export stopped: %s", failed.message)
                    raise RuntimeError("export page failed")  # the transfer ends unfinished

        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="events.csv"'},
        )
