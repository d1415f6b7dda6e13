"""Ingest resolvers: trackEvent (public), trackEvents (public batch), importEvents (admin)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from core.errors import BadUserInput, Forbidden, RateLimited
from core.vocabulary import TrackStatus
from metrics import ingest as events
from metrics import rate_limit
from metrics.context import RequestFacts, visitor_id
from metrics.ingest import EventInput
from metrics.tenants import Tenant
from schema.batch import ItemError, TrackEventsItem
from schema.context import Context
from schema.types import ImportResult, TrackEventResult
from storage.documents import EventDocument


async def _live_document(
    context: Context,
    item: Mapping[str, Any],
    *,
    email: str | None,
    caller: RequestFacts,
    prefix: str,
    contexts: dict[Hashable, Any] | None = None,
) -> tuple[Tenant, EventDocument]:
    """Validate one ``TrackEventInput`` (keyed by Python field names) into a document;
    ``contexts`` as ``metrics.ingest.live_document`` keeps them, for one request."""
    fields = dict(item)
    field = f"{prefix}tenantId"
    tenant_id = events.validate_tenant(fields.pop("tenant_id", None), field=field)
    tenant = await context.tenants.for_tracking(tenant_id, origin=caller.origin, field=field)
    return tenant, events.live_document(
        EventInput(**fields),
        tenant=tenant_id,
        user_id=email,
        now=context.now,
        prefix=prefix,
        facts=caller,
        visitor_key=context.visitor_key,
        contexts=contexts,
    )


async def _store(
    context: Context, items: Sequence[tuple[Tenant, EventDocument]], caller: RequestFacts
) -> list[events.TrackOutcome | RateLimited]:
    """Store what each tenant's budget admits (metrics.rate_limit); per item, in order,
    its outcome or why it was refused."""
    share = context.settings.rate_limit_visitor_share
    # One budget per tenant, and with a visitor share one per client of it: keyed by
    # the client's address alone (a client picks its own sessions and user agents),
    # hashed so no counter holds an IP. A trusted sender's events are all its own.
    client = None
    if share and caller.client_ip and not caller.trusted:
        client = visitor_id(context.visitor_key, "rate-limit", caller.client_ip, "")
    by_group: dict[tuple[str, str | None], list[int]] = {}
    tenants: dict[str, Tenant] = {}
    for position, (tenant, _) in enumerate(items):
        by_group.setdefault((tenant.id, client), []).append(position)
        tenants[tenant.id] = tenant
    results: list[events.TrackOutcome | RateLimited | None] = [None] * len(items)
    grants: dict[tuple[str, str | None], rate_limit.Grant] = {}
    admitted: list[int] = []
    for group, positions in by_group.items():
        tenant = tenants[group[0]]
        grant = await rate_limit.reserve(
            context.database,
            tenant,
            len(positions),
            context.now,
            visitor=group[1],
            visitor_share=share,
        )
        grants[group] = grant
        admitted.extend(positions[: grant.admitted])
        if grant.refused:
            refused = rate_limit.refusal(tenant, context.now)
            for position in positions[grant.admitted :]:
                results[position] = refused
    admitted.sort()
    outcomes = await events.track_events(
        context.database,
        [items[position][1] for position in admitted],
        now=context.now,
        window_seconds=context.settings.idempotency_window_seconds,
    )
    group_of = {position: group for group, positions in by_group.items() for position in positions}
    unused: dict[tuple[str, str | None], int] = {}
    for position, outcome in zip(admitted, outcomes, strict=True):
        results[position] = outcome
        if outcome.status is TrackStatus.DUPLICATE_IGNORED:
            group = group_of[position]
            unused[group] = unused.get(group, 0) + 1
    for group, units in unused.items():
        await rate_limit.give_back(context.database, grants[group], units)
    return [result for result in results if result is not None]


async def track_event(context: Context, item: Mapping[str, Any]) -> TrackEventResult:
    """One shopper action. ``item`` is a ``TrackEventInput`` keyed by Python field names:
    from a strawberry object (``schema.inputs.input_fields``) or straight from
    graphql-core (``schema.fast_path``)."""
    caller = context.caller()
    tracked = await _live_document(
        context, item, email=context.shopper_email(), caller=caller, prefix="input."
    )
    (outcome,) = await _store(context, [tracked], caller)
    if isinstance(outcome, RateLimited):
        raise outcome
    return TrackEventResult(status=outcome.status, session_id=outcome.session_id)


async def track_events(
    context: Context, items: Sequence[Mapping[str, Any]]
) -> list[TrackEventsItem]:
    """Like trackEvent for up to 100 items; a bad item is reported, the others stored."""
    if len(items) > events.MAX_TRACK_BATCH:
        raise BadUserInput(
            f"at most {events.MAX_TRACK_BATCH} events per call, got {len(items)}",
            field="events",
        )
    email, caller = context.shopper_email(), context.caller()
    results: list[TrackEventsItem] = []
    valid: list[tuple[int, tuple[Tenant, EventDocument]]] = []
    contexts: dict[Hashable, Any] = {}
    for index, item in enumerate(items):
        try:
            tracked = await _live_document(
                context,
                item,
                email=email,
                caller=caller,
                prefix=f"events[{index}].",
                contexts=contexts,
            )
        except (BadUserInput, Forbidden) as error:
            problem = ItemError(code=error.code, message=error.message, field=error.field)
            results.append(
                TrackEventsItem(index=index, status=None, session_id=None, error=problem)
            )
            continue
        valid.append((index, tracked))
        results.append(TrackEventsItem(index=index, status=None, session_id=None, error=None))
    outcomes = await _store(context, [tracked for _, tracked in valid], caller)
    for (index, _), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, RateLimited):
            results[index].error = ItemError(
                code=outcome.code,
                message=outcome.message,
                field=None,
                retry_after=outcome.retry_after,
            )
            continue
        results[index].status = outcome.status
        results[index].session_id = outcome.session_id
    return results


async def import_events(
    context: Context, items: Sequence[Mapping[str, Any]], tenant_id: str | None = None
) -> ImportResult:
    """Up to 1,000 historical events, all validated before any is stored. ``items`` are
    ``ImportEventInput``s keyed by Python field names (as for ``track_event``)."""
    if len(items) > events.MAX_IMPORT_BATCH:
        raise BadUserInput(
            f"at most {events.MAX_IMPORT_BATCH} events per call, got {len(items)}",
            field="events",
        )
    tenant = events.validate_tenant(tenant_id)
    now, retention_days = context.now, context.settings.event_retention_days
    # Validate everything before writing anything: one bad item rejects the call.
    docs = [
        events.import_document(
            EventInput(**item),
            tenant=tenant,
            now=now,
            retention_days=retention_days,
            prefix=f"events[{index}].",
        )
        for index, item in enumerate(items)
    ]
    inserted, duplicates = await events.import_events(context.database, docs)
    return ImportResult(inserted=inserted, duplicates=duplicates)
