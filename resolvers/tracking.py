"""Ingest resolvers: trackEvent (public), trackEvents (public batch), importEvents (admin)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strawberry.types import Info

from core.errors import BadUserInput
from schema.batch import ItemError, TrackEventsItem
from schema.context import Context
from schema.inputs import ImportEventInput, TrackEventInput, to_event
from schema.types import ImportResult, TrackEventResult
from storage import events
from storage.documents import EventDocument
from storage.events import EventInput


async def track_event(info: Info[Context, None], input: TrackEventInput) -> TrackEventResult:
    context = info.context
    tenant = events.validate_tenant(input.tenant_id, field="input.tenantId")
    doc = events.live_document(
        to_event(input),
        tenant=tenant,
        user_id=context.shopper_email(),
        now=context.now,
        prefix="input.",
    )
    (outcome,) = await events.track_events(
        context.database,
        [doc],
        now=context.now,
        window_seconds=context.settings.idempotency_window_seconds,
    )
    return TrackEventResult(status=outcome.status, session_id=outcome.session_id)


async def track_events(
    context: Context, items: Sequence[Mapping[str, Any]]
) -> list[TrackEventsItem]:
    """Like trackEvent for up to 100 items; a bad item is reported, the others stored.

    ``items`` are ``TrackEventInput`` values as mappings keyed by Python field
    names: from strawberry objects (``schema.inputs.input_fields``) or straight
    from graphql-core (``schema.fast_path``).
    """
    if len(items) > events.MAX_TRACK_BATCH:
        raise BadUserInput(
            f"at most {events.MAX_TRACK_BATCH} events per call, got {len(items)}",
            field="events",
        )
    email = context.shopper_email()
    results: list[TrackEventsItem] = []
    valid: list[tuple[int, EventDocument]] = []
    for index, item in enumerate(items):
        prefix = f"events[{index}]."
        fields = dict(item)
        tenant_id = fields.pop("tenant_id", None)
        try:
            tenant = events.validate_tenant(tenant_id, field=f"{prefix}tenantId")
            doc = events.live_document(
                EventInput(**fields), tenant=tenant, user_id=email, now=context.now, prefix=prefix
            )
        except BadUserInput as error:
            problem = ItemError(code=error.code, message=error.message, field=error.field)
            results.append(
                TrackEventsItem(index=index, status=None, session_id=None, error=problem)
            )
            continue
        valid.append((index, doc))
        results.append(TrackEventsItem(index=index, status=None, session_id=None, error=None))
    outcomes = await events.track_events(
        context.database,
        [doc for _, doc in valid],
        now=context.now,
        window_seconds=context.settings.idempotency_window_seconds,
    )
    for (index, _), outcome in zip(valid, outcomes, strict=True):
        results[index].status = outcome.status
        results[index].session_id = outcome.session_id
    return results


async def import_events(
    info: Info[Context, None], events_: list[ImportEventInput], tenant_id: str | None
) -> ImportResult:
    context = info.context
    if len(events_) > events.MAX_IMPORT_BATCH:
        raise BadUserInput(
            f"at most {events.MAX_IMPORT_BATCH} events per call, got {len(events_)}",
            field="events",
        )
    tenant = events.validate_tenant(tenant_id)
    # Validate everything before writing anything: one bad item rejects the call.
    docs = [
        events.import_document(
            to_event(item),
            tenant=tenant,
            now=context.now,
            retention_days=context.settings.event_retention_days,
            prefix=f"events[{index}].",
        )
        for index, item in enumerate(events_)
    ]
    inserted, duplicates = await events.import_events(context.database, docs)
    return ImportResult(inserted=inserted, duplicates=duplicates)
