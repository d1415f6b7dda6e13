"""Tenant resolvers: tenants and upsertTenant (admin, scope-checked by @admin)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from metrics.ingest import validate_tenant
from metrics.tenants import Tenant as TenantSettings
from metrics.tenants import TenantChanges
from schema.context import Context
from schema.inputs import TenantInput
from schema.types import Tenant


def _tenant(settings: TenantSettings) -> Tenant:
    return Tenant(
        id=strawberry.ID(settings.id),
        name=settings.name,
        timezone=settings.timezone,
        currency=settings.currency,
        rate_limit_per_minute=settings.rate_limit_per_minute,
        allowed_origins=list(settings.allowed_origins),
    )


async def tenants(info: Info[Context, None]) -> list[Tenant]:
    """The configured tenants the token's scope covers, by id."""
    context = info.context
    identity = context.identity()
    return [_tenant(t) for t in await context.tenants.all() if identity.may_read(t.id)]


async def upsert_tenant(info: Info[Context, None], tenant_id: str, input: TenantInput) -> Tenant:
    changes = TenantChanges(
        name=input.name,
        timezone=input.timezone,
        currency=input.currency,
        rate_limit_per_minute=input.rate_limit_per_minute,
        allowed_origins=input.allowed_origins,
    )
    tenant = validate_tenant(tenant_id, field="id")
    return _tenant(await info.context.tenants.upsert(tenant, changes))
