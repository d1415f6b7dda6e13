"""Stored events a page at a time, for the ``events`` connection and the CSV export.

Pages follow ``(createdAt, _id)``, so a cursor (an opaque text naming the last
position read) stays valid however many events arrive meanwhile: a live event lands
after every page already read, an imported past one before the cursor or after it,
never twice. Each page reads a bounded number of events (``storage.database.PAGE_SCAN``);
a selective filter may answer a short page, or an empty one, that still has a next.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from core.errors import BadUserInput
from metrics.hourly import step_types
from metrics.ranges import Range
from storage.database import Database, EventPosition

MAX_FIRST = 1_000
_CURSOR_PREFIX = "e1:"
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(position: EventPosition) -> str:
    moment = (position.created_at - _EPOCH) // _MICROSECOND
    text = f"{_CURSOR_PREFIX}{moment}:{position.event_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> EventPosition:
    """The position a cursor names; anything else is ``BAD_USER_INPUT`` (field ``after``)."""
    try:
        if len(cursor) > 64:
            raise ValueError
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError
        moment, ident = text[len(_CURSOR_PREFIX) :].split(":")
        if not moment.isdigit() or len(moment) > 17:
            raise ValueError
        return EventPosition(_EPOCH + int(moment) * _MICROSECOND, ObjectId(ident))
    except (ValueError, UnicodeDecodeError, binascii.Error, InvalidId, OverflowError):
        raise BadUserInput("after is not a cursor this API gave", field="after") from None


def event_types(event_type: str | None) -> list[str] | None:
    """The types an ``eventType`` argument means: the type itself, or a role's types (as a
    funnel step matches them, ``metrics.hourly.step_types``)."""
    return None if event_type is None else sorted(step_types([event_type])[0])


@dataclass(frozen=True, slots=True)
class EventsPage:
    events: list[tuple[str, dict[str, Any]]]  # (cursor, stored document)
    has_next_page: bool
    end_cursor: str | None


def _position(doc: Mapping[str, Any]) -> EventPosition:
    return EventPosition(doc["createdAt"], doc["_id"])


async def events_page(
    database: Database,
    *,
    tenant: str,
    window: Range,
    event_type: str | None,
    where: Mapping[str, str],
    first: int,
    after: str | None,
) -> EventsPage:
    """Up to ``first`` (1–1,000) stored events of the range after the cursor ``after``."""
    if not 1 <= first <= MAX_FIRST:
        raise BadUserInput(f"first must be from 1 to {MAX_FIRST}", field="first")
    position = None if after is None else decode_cursor(after)
    low, high = window.naive
    page = await database.page_events(
        tenant,
        low,
        high,
        types=event_types(event_type),
        where=where,
        after=position,
        limit=first + 1,
    )
    docs = page.events[:first]
    edges = [(encode_cursor(_position(doc)), doc) for doc in docs]
    if len(page.events) > first:
        return EventsPage(edges, True, edges[-1][0])
    if page.resume is not None:  # a short page: the scan stopped, more may follow
        return EventsPage(edges, True, encode_cursor(page.resume))
    end = edges[-1][0] if edges else after
    return EventsPage(edges, False, end)
