"""Tenants and their settings (docs/metrics.md, "Tenants and rate limit").

A tenant an admin never configured still has settings: the defaults (name = id,
timezone UTC, currency COP for ``default`` and USD otherwise, the server's rate limit,
any origin). Settings are read on every tracked event, so each process keeps them in
memory for ``CACHE_SECONDS`` (the embedded store holds them in memory anyway); a
change reaches every process within that time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from iso4217 import Currency

from core.clock import parse_zone
from core.errors import BadUserInput, Forbidden
from core.settings import Settings, normalize_origin
from core.vocabulary import DEFAULT_TENANT
from metrics.ingest import storable
from storage.database import Database
from storage.documents import TenantDocument

CACHE_SECONDS = 5.0
MAX_NAME = 128
MAX_ORIGINS = 50


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    timezone: str
    currency: str
    rate_limit_per_minute: int  # 0 = no limit
    allowed_origins: tuple[str, ...]  # empty = any origin
    configured: bool = False  # an admin stored settings for it

    def may_track_from(self, origin: str | None) -> bool:
        """Whether a browser on ``origin`` may track for this tenant (no Origin: a server)."""
        return origin is None or not self.allowed_origins or origin in self.allowed_origins


@dataclass(frozen=True, slots=True)
class TenantChanges:
    """What ``upsertTenant`` sets; None leaves a setting as it is."""

    name: str | None = None
    timezone: str | None = None
    currency: str | None = None
    rate_limit_per_minute: int | None = None
    allowed_origins: Sequence[str] | None = None


def default_tenant(tenant_id: str, settings: Settings) -> Tenant:
    return Tenant(
        id=tenant_id,
        name=tenant_id,
        timezone="UTC",
        currency="COP" if tenant_id == DEFAULT_TENANT else "USD",
        rate_limit_per_minute=settings.tenant_rate_limit_per_minute,
        allowed_origins=(),
    )


def _from_document(doc: TenantDocument) -> Tenant:
    return Tenant(
        id=doc["_id"],
        name=doc["name"],
        timezone=doc["timezone"],
        currency=doc["currency"],
        rate_limit_per_minute=doc["rateLimitPerMinute"],
        allowed_origins=tuple(doc["allowedOrigins"]),
        configured=True,
    )


def _document(tenant: Tenant) -> TenantDocument:
    return TenantDocument(
        _id=tenant.id,
        name=tenant.name,
        timezone=tenant.timezone,
        currency=tenant.currency,
        rateLimitPerMinute=tenant.rate_limit_per_minute,
        allowedOrigins=list(tenant.allowed_origins),
    )


def currency_exponent(code: str) -> int:
    """Digits after the point in the currency's major unit (COP 2, JPY 0)."""
    exponent = Currency(code).exponent
    return 0 if exponent is None else int(exponent)


def _checked(changes: TenantChanges) -> TenantChanges:
    name = changes.name
    if name is not None:
        if not 1 <= len(name.strip()) <= MAX_NAME:
            raise BadUserInput(f"name must be 1 to {MAX_NAME} characters", field="input.name")
        storable(name, "input.name")
    if changes.timezone is not None:
        parse_zone(changes.timezone, field="input.timezone")
    currency = changes.currency
    if currency is not None:
        try:
            Currency(currency)
        except ValueError:
            raise BadUserInput(
                f"currency must be an ISO 4217 code (COP, USD, EUR, ...), got {currency!r}",
                field="input.currency",
            ) from None
    limit = changes.rate_limit_per_minute
    if limit is not None and not 0 <= limit <= 1_000_000:
        raise BadUserInput(
            "rateLimitPerMinute must be from 0 (no limit) to 1,000,000",
            field="input.rateLimitPerMinute",
        )
    origins = changes.allowed_origins
    if origins is not None:
        if len(origins) > MAX_ORIGINS:
            raise BadUserInput(
                f"at most {MAX_ORIGINS} allowedOrigins", field="input.allowedOrigins"
            )
        cleaned: list[str] = []
        for origin in origins:
            normal = normalize_origin(origin)
            if normal is None:
                raise BadUserInput(
                    f"allowedOrigins must hold origins like https://shop.example, got {origin!r}",
                    field="input.allowedOrigins",
                )
            cleaned.append(normal)
        origins = list(dict.fromkeys(cleaned))
    return replace(changes, name=name.strip() if name else name, allowed_origins=origins)


class TenantDirectory:
    """Tenants' settings for one process: read through a short cache, written through."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings
        self._cache: dict[str, tuple[float, Tenant]] = {}
        # Upserts merge into what is stored: one at a time in this process (across
        # processes on MongoDB, the last of two concurrent upserts wins whole).
        self._writing = asyncio.Lock()

    async def get(self, tenant_id: str) -> Tenant:
        now = time.monotonic()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        doc = await self._database.tenant(tenant_id)
        tenant = _from_document(doc) if doc else default_tenant(tenant_id, self._settings)
        if len(self._cache) > 10_000:  # bounded: ids come from the public
            self._cache.clear()
        self._cache[tenant_id] = (now, tenant)
        return tenant

    async def all(self) -> list[Tenant]:
        return [_from_document(doc) for doc in await self._database.tenants()]

    async def upsert(self, tenant_id: str, changes: TenantChanges) -> Tenant:
        changes = _checked(changes)
        async with self._writing:
            return await self._merge(tenant_id, changes)

    async def _merge(self, tenant_id: str, changes: TenantChanges) -> Tenant:
        doc = await self._database.tenant(tenant_id)
        current = _from_document(doc) if doc else default_tenant(tenant_id, self._settings)
        # TenantChanges names the same fields as Tenant: set what the change gives.
        given = {
            field.name: getattr(changes, field.name)
            for field in fields(changes)
            if getattr(changes, field.name) is not None
        }
        if "allowed_origins" in given:
            given["allowed_origins"] = tuple(given["allowed_origins"])
        updated = replace(current, configured=True, **given)
        await self._database.put_tenant(_document(updated))
        self._cache.pop(tenant_id, None)
        return updated

    async def for_tracking(self, tenant_id: str, *, origin: str | None, field: str) -> Tenant:
        """The tenant a public event goes to; refused when it may not track (from there)."""
        tenant = await self.get(tenant_id)
        if not tenant.configured and not self._settings.open_tenants:
            raise BadUserInput(f"unknown tenant {tenant_id!r} (OPEN_TENANTS is off)", field=field)
        # A beacon (text/plain) needs no preflight, so the browser's CORS check never
        # stops it: the origins are enforced here too, for every public tracking path.
        allowed = self._settings.cors_origins
        if origin is not None and "*" not in allowed and origin not in allowed:
            raise Forbidden(f"origin {origin} is not in CORS_ORIGINS", field=field)
        if not tenant.may_track_from(origin):
            raise Forbidden(f"origin {origin} may not track for tenant {tenant_id!r}", field=field)
        return tenant
