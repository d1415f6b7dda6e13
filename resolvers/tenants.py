"""Tenant resolvers: tenants and upsertTenant (admin, scope-checked by @admin)."""

from __future__ import annotations

from strawberry.types import Info

from metrics.ingest import validate_tenant
from metrics.tenants import TenantChanges
from schema.context import Context
from schema.figures import as_type
from schema.inputs import TenantInput
from schema.types import Tenant


async def tenants(info: Info[Context, None]) -> list[Tenant]:
    """The configured tenants the token's scope covers, by id."""
    context = info.context
    identity = context.identity()
    return [as_type(Tenant, t) for t in await context.tenants.all() if identity.may_read(t.id)]


async def upsert_tenant(info: Info[Context, None], tenant_id: str, input: TenantInput) -> Tenant:
    changes = TenantChanges(
        name=input.name,
        timezone=input.timezone,
        currency=input.currency,
        rate_limit_per_minute=input.rate_limit_per_minute,
        allowed_origins=input.allowed_origins,
    )
    tenant = validate_tenant(tenant_id, field="id")
    return as_type(Tenant, await info.context.tenants.upsert(tenant, changes))
