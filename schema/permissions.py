"""The ``@admin`` directive and the permission that enforces it (docs/metrics.md, Access)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location
from strawberry.types import Info

from core.errors import Forbidden
from metrics.ingest import validate_tenant
from schema.context import Context


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="admin",
    description="Marks a field that needs a bearer JWT with is_admin: true "
    "(see `docs/metrics.md`, Access).",
)
class Admin:
    pass


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="cost",
    description="Points one use of the field spends of the token's query budget for the "
    "tenant it reads (README, Query budget).",
)
class Cost:
    points: int


class IsAdmin(BasePermission):
    """Admin token whose tenant scope covers the field's ``tenantId`` argument.

    No, malformed, expired or wrongly signed token: UNAUTHENTICATED. A valid
    token without ``is_admin``, or a tenant outside its scope: FORBIDDEN.
    """

    _schema_directive = Admin()
    # has_permission reads only info.context: schema.fast_path may run it without
    # graphql-core's resolve info (importEvents through app.graphql_fast).
    reads_only_context = True

    def __init__(self, *, scoped: bool = True) -> None:
        # Unscoped: a field reading no one tenant (tenants lists what the scope covers).
        self.scoped = scoped

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        identity = info.context.identity()
        if not identity.is_admin:
            raise Forbidden("this field needs an admin token")
        if not self.scoped:
            return True
        # Views name the tenant tenantId; upsertTenant names the tenant it writes id.
        tenant = validate_tenant(kwargs.get("tenant_id", kwargs.get("id")))
        if not identity.may_read(tenant):
            raise Forbidden(f"the token's tenant scope does not include {tenant!r}")
        return True


def admin_field(
    description: str,
    *,
    cost: int,
    scoped: bool = True,
    kind: Callable[..., Any] = strawberry.field,
) -> Any:
    """An admin field (``kind``: strawberry.field, .mutation or .subscription): the
    ``@admin`` directive and the check that enforces it (``scoped``: the token's tenant
    scope must cover the field's tenantId, or upsertTenant's id), and its ``@cost``,
    stated in the description too."""
    unit = "point" if cost == 1 else "points"
    return kind(
        description=f"Admin only. {description} Cost: {cost} {unit} of the query budget.",
        extensions=[PermissionExtension(permissions=[IsAdmin(scoped=scoped)])],
        directives=[Cost(points=cost)],
    )
