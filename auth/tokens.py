"""Bearer tokens: HS256 JWTs carrying the shopper's email and the admin's tenant scope.

Claims we read: ``email`` (links tracked events to a shopper), ``is_admin``,
and the tenant scope (``tenant_id: "x"`` or ``tenants: [...]``, ``"*"`` = all;
neither = tenant ``default`` only). ``exp`` is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from core.clock import utcnow
from core.errors import Unauthenticated
from core.vocabulary import DEFAULT_TENANT

# Fixed allow-list: never let the token header pick the algorithm (no "none").
ALGORITHMS = ["HS256"]
ALL_TENANTS = "*"


@dataclass(frozen=True, slots=True)
class Identity:
    """What a verified token says about its bearer."""

    email: str | None
    is_admin: bool
    tenants: frozenset[str]

    def may_read(self, tenant: str) -> bool:
        return ALL_TENANTS in self.tenants or tenant in self.tenants


def _tenant_scope(claims: Mapping[str, object]) -> frozenset[str]:
    tenants = claims.get("tenants")
    if isinstance(tenants, list) and all(isinstance(t, str) for t in tenants):
        return frozenset(str(t) for t in tenants)
    tenant_id = claims.get("tenant_id")
    if isinstance(tenant_id, str) and tenant_id:
        return frozenset({tenant_id})
    return frozenset({DEFAULT_TENANT})


def verify_token(token: str, secret: str) -> Identity:
    """Decode and check ``token``; raise ``Unauthenticated`` for anything unusable."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            options={"require": ["exp"]},
        )
    except jwt.InvalidTokenError:
        raise Unauthenticated("invalid or expired token") from None
    email = claims.get("email")
    return Identity(
        email=email if isinstance(email, str) and email else None,
        is_admin=claims.get("is_admin") is True,
        tenants=_tenant_scope(claims),
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def issue_token(
    secret: str,
    *,
    email: str,
    admin: bool = False,
    tenant: str | None = None,
    days: float = 30,
    now: datetime | None = None,
) -> str:
    """Sign a token for ``email``; ``tenant="*"`` scopes an admin to every tenant."""
    issued = now or utcnow()
    claims: dict[str, object] = {
        "email": email,
        "is_admin": admin,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(days=days)).timestamp()),
    }
    if tenant == ALL_TENANTS:
        claims["tenants"] = [ALL_TENANTS]
    elif tenant is not None:
        claims["tenant_id"] = tenant
    return jwt.encode(claims, secret, algorithm=ALGORITHMS[0])
