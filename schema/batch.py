"""Result types of the public batch mutation ``trackEvents``."""

from __future__ import annotations

import strawberry

from core.vocabulary import TrackStatus


@strawberry.type(description="Why one item of a batch was not accepted.")
class ItemError:
    code: str = strawberry.field(description="BAD_USER_INPUT, FORBIDDEN or RATE_LIMITED.")
    message: str = strawberry.field(description="What is wrong, naming the field.")
    field: str | None = strawberry.field(description="The offending field, e.g. events[3].price.")
    retry_after: int | None = strawberry.field(
        default=None,
        description="RATE_LIMITED only: whole seconds until the tenant's next UTC minute.",
    )


@strawberry.type(description="Outcome of one item of trackEvents, in input order.")
class TrackEventsItem:
    index: int = strawberry.field(description="Position of the item in the input list.")
    status: TrackStatus | None = strawberry.field(
        description="OK or DUPLICATE_IGNORED; null when the item was rejected (see error)."
    )
    session_id: str | None = strawberry.field(
        description="The item's session id (generated when missing); null when rejected."
    )
    error: ItemError | None = strawberry.field(description="Set when the item was rejected.")
