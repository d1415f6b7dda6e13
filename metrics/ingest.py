"""Ingest: validate tracking and import input, derive stored fields, store with idempotency.

Rules are docs/metrics.md "Events" and "Idempotency". Every rejection is a
``BadUserInput`` that names the offending field.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import uuid
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from json.encoder import encode_basestring
from typing import Any, cast

from core.clock import to_naive_utc
from core.errors import BadUserInput
from core.roles import Role, role_of
from core.vocabulary import (
    DEFAULT_TENANT,
    DIRECT_SOURCE,
    EVENT_TYPE_PATTERN,
    TENANT_PATTERN,
    TrackStatus,
)
from metrics.activity import activity_of
from metrics.context import RequestFacts, event_context
from metrics.lines import MAX_PRICE, MAX_QUANTITY
from storage.database import Database
from storage.documents import EventDocument, StoredContext

MAX_STRING = 256
MAX_URL = 2048
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
MAX_METADATA_BYTES = 4096
MAX_METADATA_DEPTH = 8
MAX_IMPORT_BATCH = 1000
MAX_TRACK_BATCH = 100
# BSON (MongoDB and the embedded journal) stores integers in 64 bits.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Measures metadata as compact UTF-8 JSON; one instance (json.dumps with
# options builds a new encoder per call, twice the cost on the ingest path).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# How _COMPACT_JSON's C encoder quotes a string (ensure_ascii=False): _plain_size uses it.
_json_string = encode_basestring


# Built once per event: not frozen, as a frozen dataclass's __init__ sets each field
# through object.__setattr__ (~5 times the cost: 3 us of 21 fields). Nothing changes them.
@dataclass(slots=True)
class EventInput:
    """One event as a caller sent it (GraphQL ``TrackEventInput``/``ImportEventInput``)."""

    event_type: str
    session_id: str | None = None
    product_slug: str | None = None
    product_name: str | None = None
    price: float | None = None
    metadata: Any = None
    source: str | None = None
    error_message: str | None = None
    idempotency_key: str | None = None
    # The page the event happened on; its referrer (default: the Referer header).
    url: str | None = None
    referrer: str | None = None
    # Import only (admins): a past time, a shopper id and the context of the time.
    created_at: datetime | None = None
    user_id: str | None = None
    visitor_id: str | None = None
    country: str | None = None
    user_agent: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None


@dataclass(slots=True)  # one per event: not frozen, as EventInput
class TrackOutcome:
    status: TrackStatus
    session_id: str


def validate_tenant(tenant: str | None, *, field: str = "tenantId") -> str:
    """The tenant id, ``default`` when absent; must match ``^[A-Za-z0-9_-]{1,64}$``."""
    if tenant is None:
        return DEFAULT_TENANT
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        raise BadUserInput("tenantId must match ^[A-Za-z0-9_-]{1,64}$", field=field)
    return tenant


def _lone_surrogates(field: str) -> BadUserInput:
    # JSON's "\ud800" escapes make them; UTF-8, and so BSON, cannot store them.
    return BadUserInput(f"{field} must not contain lone surrogates (U+D800-U+DFFF)", field=field)


def storable(value: str, field: str) -> str:
    """``value`` if storage can hold it: no NUL, valid UTF-8 (no lone surrogate)."""
    if "\x00" in value:
        raise BadUserInput(f"{field} must not contain NUL characters", field=field)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise _lone_surrogates(field) from None
    return value


def checked_text(value: str | None, field: str) -> str | None:
    """A caller's string as storage can hold it: ≤ 256 characters, no NUL, valid UTF-8."""
    if value is None:
        return None
    if len(value) > MAX_STRING:
        raise BadUserInput(f"{field} must be at most {MAX_STRING} characters", field=field)
    return storable(value, field)


def _check_metadata_keys(value: Any, field: str, depth: int = 0) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise BadUserInput(f"{field} is nested too deeply", field=field)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$") or "." in key or "\x00" in key:
                raise BadUserInput(
                    f"{field} keys must be strings without '.', NUL or a leading '$'",
                    field=field,
                )
            _check_metadata_keys(item, field, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_metadata_keys(item, field, depth + 1)
    elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise BadUserInput(f"{field} holds an integer beyond 64 bits", field=field)
    elif isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN or Infinity, but Python's parser takes them (and 1e999).
        raise BadUserInput(f"{field} must not hold NaN or Infinity", field=field)


def _text_size(text: str) -> int | None:
    """The bytes of ``text`` as a JSON string in UTF-8; None if it holds a lone surrogate."""
    if text.isascii():
        return len(_json_string(text))
    try:
        return len(_json_string(text).encode())
    except UnicodeEncodeError:
        return None


def _plain_size(value: Any, depth: int = 0) -> int | None:
    """``len(_COMPACT_JSON.encode(value).encode())`` for plain metadata that
    ``_check_metadata_keys`` accepts, added up without building the text; None for
    anything else (the caller then measures and checks as before).

    Plain: exact ``dict`` (string keys), ``list``, ``str`` (no lone surrogate), ``int``
    in 64 bits, finite ``float``, ``bool`` and ``None``, nested at most
    ``MAX_METADATA_DEPTH`` deep (which also rules out cycles). Each part is sized
    as the C encoder writes it: strings by the encoder's own ``encode_basestring``,
    numbers by ``repr``, ``{}``/``[]`` when empty, one ``:`` per key and one ``,``
    between items. ``tests/test_metrics_ingest.py`` compares it with the encoder on
    generated and hostile values.
    """
    if depth > MAX_METADATA_DEPTH:
        return None
    kind = value.__class__
    if kind is str:
        return _text_size(value)
    if kind is int:
        return len(repr(value)) if INT64_MIN <= value <= INT64_MAX else None
    if kind is float:
        return len(repr(value)) if math.isfinite(value) else None
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if kind is dict:
        if not value:
            return 2
        size = 2 * len(value) + 1  # braces, a colon per key, commas between
        for key, item in value.items():
            if key.__class__ is not str or key.startswith("$") or "." in key or "\x00" in key:
                return None
            key_size = _text_size(key)
            item_size = _plain_size(item, depth + 1)
            if key_size is None or item_size is None:
                return None
            size += key_size + item_size
        return size
    if kind is list:
        if not value:
            return 2
        size = len(value) + 1  # brackets, commas between
        for item in value:
            item_size = _plain_size(item, depth + 1)
            if item_size is None:
                return None
            size += item_size
        return size
    return None


def _metadata(value: Any, field: str) -> tuple[dict[str, Any] | None, int, str | None]:
    """Validated metadata, its quantity (default 1) and its order id."""
    if value is None:
        return None, 1, None
    if not isinstance(value, dict):
        raise BadUserInput("metadata must be a JSON object", field=field)
    # Plain metadata (nearly all) is sized and checked in one walk; anything else
    # is encoded, then checked, as it always was (so errors come in the same order).
    size = _plain_size(value)
    checked = size is not None
    if size is None:
        try:
            size = len(_COMPACT_JSON.encode(value).encode())
        except UnicodeEncodeError:  # in a key or a value
            raise _lone_surrogates(field) from None
        except (TypeError, ValueError):
            raise BadUserInput("metadata must be a JSON object", field=field) from None
    if size > MAX_METADATA_BYTES:
        raise BadUserInput(
            f"metadata must be at most {MAX_METADATA_BYTES} bytes serialized", field=field
        )
    if not checked:
        _check_metadata_keys(value, field)
    quantity = value.get("quantity", 1)
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 1 <= quantity <= MAX_QUANTITY
    ):
        raise BadUserInput(
            f"metadata.quantity must be an integer from 1 to {MAX_QUANTITY:,}",
            field=f"{field}.quantity",
        )
    order_id = value.get("order_id")
    if order_id is not None and (isinstance(order_id, bool) or not isinstance(order_id, str | int)):
        raise BadUserInput(
            "metadata.order_id must be a string or an integer", field=f"{field}.order_id"
        )
    return value, quantity, None if order_id is None else str(order_id)


def _price(value: float | None, field: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not 0 <= value <= MAX_PRICE:
        raise BadUserInput(f"price must be a number from 0 to {MAX_PRICE:,}", field=field)
    return float(value)


def _document(
    item: EventInput, *, tenant: str, created_at: datetime, user_id: str | None, prefix: str
) -> EventDocument:
    """Validate ``item`` and build its document (dedupeKey filled in by the caller)."""
    if not EVENT_TYPE_PATTERN.fullmatch(item.event_type):
        raise BadUserInput(
            "eventType must match ^[a-z][a-z0-9_.:-]{0,63}$", field=f"{prefix}eventType"
        )
    session_id = checked_text(item.session_id, f"{prefix}sessionId")
    if session_id == "":
        raise BadUserInput("sessionId must not be empty", field=f"{prefix}sessionId")
    metadata, quantity, order_id = _metadata(item.metadata, f"{prefix}metadata")
    if order_id is None and role_of(item.event_type) is Role.REFUND:
        # A refund names the order it refunds (docs/metrics.md, Roles of event types).
        raise BadUserInput(
            f"metadata.order_id is required on a refund ({item.event_type})",
            field=f"{prefix}metadata.order_id",
        )
    source = checked_text(item.source, f"{prefix}source")
    return EventDocument(
        tenantId=tenant,
        eventType=item.event_type,
        sessionId=session_id or str(uuid.uuid4()),
        userId=user_id,
        productSlug=checked_text(item.product_slug, f"{prefix}productSlug"),
        productName=checked_text(item.product_name, f"{prefix}productName"),
        price=_price(item.price, f"{prefix}price"),
        quantity=quantity,
        orderId=order_id,
        metadata=metadata,
        source=None if source == DIRECT_SOURCE else source,
        errorMessage=checked_text(item.error_message, f"{prefix}errorMessage"),
        dedupeKey="",
        createdAt=created_at,
    )


# What json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")) builds
# per call: one instance, the same text.
_DIGEST_JSON = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def _digest(*parts: object) -> str:
    canonical = _DIGEST_JSON.encode(parts)
    return hashlib.sha256(canonical.encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _receive_time(now: datetime) -> tuple[datetime, str]:
    """The stored form and the ISO text of a request's receive time.

    One request stores up to 100 events received at the same instant.
    """
    return to_naive_utc(now), now.isoformat()


@functools.lru_cache(maxsize=4)
def _import_window(now: datetime, retention_days: int) -> tuple[datetime, datetime]:
    """An import's bounds, naive UTC: ``createdAt`` must be after the second and at
    or before the first. One request imports up to 1,000 events at the same ``now``."""
    current = to_naive_utc(now)
    return current, current - timedelta(days=retention_days)


def checked_url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_URL:
        raise BadUserInput(f"{field} must be at most {MAX_URL} characters", field=field)
    return storable(value, field)


def live_document(
    item: EventInput,
    *,
    tenant: str,
    user_id: str | None,
    now: datetime,
    prefix: str = "",
    facts: RequestFacts | None = None,
    visitor_key: bytes = b"",
    contexts: dict[Hashable, tuple[StoredContext, str | None]] | None = None,
) -> EventDocument:
    """A tracked event received at ``now``; ``user_id`` only ever comes from a verified token.

    ``facts`` (what the request says of its caller) give the event its context.
    ``contexts``, kept by the caller for one request (one ``facts`` and ``visitor_key``),
    remembers each context computed: a batch's events mostly share tenant, page,
    referrer and source.
    """
    created_at, received = _receive_time(now)
    doc = _document(item, tenant=tenant, created_at=created_at, user_id=user_id, prefix=prefix)
    url = checked_url(item.url, f"{prefix}url")
    referrer = checked_url(item.referrer, f"{prefix}referrer")
    if facts is not None:
        known = (tenant, url, referrer, item.source)
        found = None if contexts is None else contexts.get(known)
        if found is None:
            found = event_context(
                facts=facts,
                visitor_key=visitor_key,
                tenant=tenant,
                url=url,
                referrer=referrer,
                source=item.source,
            )
            if contexts is not None:
                contexts[known] = found
        context, source = found
        doc.update(cast(EventDocument, context))  # _document's new dict: ours to change
        if item.source is None:
            doc["source"] = source
    key = checked_text(item.idempotency_key, f"{prefix}idempotencyKey")
    if key:
        doc["dedupeKey"] = f"live:{key}"
    else:
        # docs/metrics.md: derived from session, type, slug and the full receive
        # time; the random part makes "never deduplicated" hold even for
        # identical items of one batch received in the same microsecond.
        parts = (doc["sessionId"], doc["eventType"], doc["productSlug"] or "", received)
        digest = hashlib.blake2b(
            "\x1f".join((*parts, os.urandom(16).hex())).encode(), digest_size=16
        )
        doc["dedupeKey"] = "auto:" + digest.hexdigest()
    return doc


def import_document(
    item: EventInput, *, tenant: str, now: datetime, retention_days: int, prefix: str
) -> EventDocument:
    """An event from a store's history: past ``createdAt`` inside retention."""
    if item.created_at is None:
        raise BadUserInput("createdAt is required", field=f"{prefix}createdAt")
    if item.created_at.tzinfo is None:
        raise BadUserInput("createdAt must carry a UTC offset", field=f"{prefix}createdAt")
    current, earliest = _import_window(now, retention_days)
    try:
        created_at = to_naive_utc(item.created_at)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        created_at = earliest
    if created_at > current:
        raise BadUserInput("createdAt must be in the past", field=f"{prefix}createdAt")
    if created_at <= earliest:
        raise BadUserInput(
            f"createdAt must be within the last {retention_days} days (EVENT_RETENTION_DAYS)",
            field=f"{prefix}createdAt",
        )
    if not item.session_id:
        raise BadUserInput("sessionId is required", field=f"{prefix}sessionId")
    user_id = checked_text(item.user_id, f"{prefix}userId") or None
    doc = _document(item, tenant=tenant, created_at=created_at, user_id=user_id, prefix=prefix)
    key = checked_text(item.idempotency_key, f"{prefix}idempotencyKey")
    if not key:
        # Same content, same key: re-running an import stores nothing new.
        key = _digest(
            doc["eventType"],
            doc["sessionId"],
            created_at.isoformat(),
            doc["userId"],
            doc["productSlug"],
            doc["productName"],
            doc["price"],
            doc["metadata"],
            doc["source"],
            doc["errorMessage"],
        )
    doc["dedupeKey"] = f"import:{key}"
    return _with_imported_context(doc, item, tenant=tenant, prefix=prefix)


def _with_imported_context(
    doc: EventDocument, item: EventInput, *, tenant: str, prefix: str
) -> EventDocument:
    """The context an import carries: given fields kept, the rest derived as for live
    events (but never from the importing admin's own request)."""
    utm = {
        name: text
        for name, value, field in (
            ("utm_source", item.utm_source, "utmSource"),
            ("utm_medium", item.utm_medium, "utmMedium"),
            ("utm_campaign", item.utm_campaign, "utmCampaign"),
        )
        if (text := checked_text(value, f"{prefix}{field}"))
    }
    country = item.country
    if country is not None and not COUNTRY_PATTERN.fullmatch(country):
        raise BadUserInput(
            "country must be an ISO 3166 alpha-2 code (two capital letters)",
            field=f"{prefix}country",
        )
    given = (item.url, item.referrer, item.visitor_id, country, item.user_agent, *utm)
    if all(value is None for value in given):
        return doc
    context, source = event_context(
        facts=RequestFacts(user_agent=storable(item.user_agent or "", f"{prefix}userAgent")),
        visitor_key=b"",
        tenant=tenant,
        url=checked_url(item.url, f"{prefix}url"),
        referrer=checked_url(item.referrer, f"{prefix}referrer"),
        source=item.source,
        utm=utm,
        known_visitor=checked_text(item.visitor_id, f"{prefix}visitorId") or None,
    )
    if country is not None:
        context["country"] = country
    doc = EventDocument(**doc, **context)
    if item.source is None:
        doc["source"] = source
    return doc


async def track_events(
    database: Database,
    docs: Sequence[EventDocument],
    *,
    now: datetime,
    window_seconds: int,
) -> list[TrackOutcome]:
    """Store live events; a key stored less than ``window_seconds`` ago is a duplicate."""
    retire_before = to_naive_utc(now) - timedelta(seconds=window_seconds)
    stored = await database.insert_events(docs, retire_before=retire_before)
    _announce(database, docs, stored)
    return [
        TrackOutcome(_status(doc, ok), doc["sessionId"])
        for doc, ok in zip(docs, stored, strict=True)
    ]


def _status(doc: EventDocument, stored: bool) -> TrackStatus:
    if not stored:
        return TrackStatus.DUPLICATE_IGNORED
    return TrackStatus.BOT if doc.get("bot") else TrackStatus.OK


async def import_events(database: Database, docs: Sequence[EventDocument]) -> tuple[int, int]:
    """Store imported events; returns (inserted, duplicates)."""
    stored = await database.insert_events(docs, retire_before=None)
    _announce(database, docs, stored)
    inserted = sum(stored)
    return inserted, len(stored) - inserted


def _announce(database: Database, docs: Sequence[EventDocument], stored: Sequence[bool]) -> None:
    """Wake live subscriptions of the tenants that got people's events (metrics.activity)."""
    activity = activity_of(database)
    if activity.listening:  # else nothing to do: the tracking hot path pays one lookup
        activity.notify(
            {
                doc["tenantId"]
                for doc, ok in zip(docs, stored, strict=True)
                if ok and not doc.get("bot")
            }
        )
