"""Bearer tokens: HS256 JWTs carrying the shopper's email and the admin's tenant scope.

Claims we read: ``email`` (links tracked events to a shopper), ``is_admin``,
and the tenant scope (``tenant_id: "x"`` or ``tenants: [...]``, ``"*"`` = all;
neither = tenant ``default`` only). ``exp`` is required.

A refused token says why in ``extensions.reason`` (``TokenProblem``). The
signature is checked before any claim, so only a correctly signed token can be
told apart as ``expired``, ``no_exp``, ``not_yet_valid`` or ``bad_claim``; no
reason or message depends on the secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt

from core.clock import utcnow
from core.errors import Unauthenticated
from core.vocabulary import DEFAULT_TENANT

# Fixed allow-list: never let the token header pick the algorithm (no "none").
ALGORITHMS = ["HS256"]
ALL_TENANTS = "*"


class TokenProblem(StrEnum):
    """Why a request is UNAUTHENTICATED (``extensions.reason``)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_ALGORITHM = "bad_algorithm"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NO_EXP = "no_exp"
    NOT_YET_VALID = "not_yet_valid"
    BAD_CLAIM = "bad_claim"


MESSAGES: dict[TokenProblem, str] = {
    TokenProblem.MISSING: "this field needs a bearer token: send 'Authorization: Bearer <token>'",
    TokenProblem.MALFORMED: "the bearer token is not a well-formed JWT",
    TokenProblem.BAD_ALGORITHM: f"the bearer token must be signed with {ALGORITHMS[0]}",
    TokenProblem.BAD_SIGNATURE: "the bearer token was not signed with this server's secret",
    TokenProblem.EXPIRED: "the bearer token has expired: issue a new one",
    TokenProblem.NO_EXP: "the bearer token has no exp claim: this server only accepts "
    "tokens that expire",
    TokenProblem.NOT_YET_VALID: "the bearer token is not valid yet (nbf or iat in the future)",
    TokenProblem.BAD_CLAIM: "the bearer token has a claim this server does not accept",
}

# First match wins: InvalidSignatureError is a DecodeError.
_PYJWT_PROBLEMS: tuple[tuple[type[jwt.InvalidTokenError], TokenProblem], ...] = (
    (jwt.InvalidAlgorithmError, TokenProblem.BAD_ALGORITHM),
    (jwt.InvalidSignatureError, TokenProblem.BAD_SIGNATURE),
    (jwt.ExpiredSignatureError, TokenProblem.EXPIRED),
    (jwt.MissingRequiredClaimError, TokenProblem.NO_EXP),
    (jwt.ImmatureSignatureError, TokenProblem.NOT_YET_VALID),
    (jwt.DecodeError, TokenProblem.MALFORMED),
)
_DETAILED = frozenset({TokenProblem.MALFORMED, TokenProblem.BAD_CLAIM})


def refused(problem: TokenProblem, message: str | None = None) -> Unauthenticated:
    """The error for ``problem``, its message written for the person holding the token."""
    return Unauthenticated(message or MESSAGES[problem], reason=problem.value)


@dataclass(frozen=True, slots=True)
class Identity:
    """What a verified token says about its bearer."""

    email: str | None
    is_admin: bool
    tenants: frozenset[str]
    # A server-side sender: its events are never taken for bots (docs/metrics.md, Context).
    may_ingest: bool = False

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
    if not token.isascii():  # a JWT is ASCII; pyjwt would fail encoding a lone surrogate
        raise refused(TokenProblem.MALFORMED)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            options={"require": ["exp"]},
        )
    except jwt.InvalidTokenError as error:
        problem = next(
            (p for kind, p in _PYJWT_PROBLEMS if isinstance(error, kind)), TokenProblem.BAD_CLAIM
        )
        # pyjwt's own words say which part: they describe the token, never the key.
        detail = f" ({error})" if problem in _DETAILED else ""
        raise refused(problem, MESSAGES[problem] + detail) from None
    email = claims.get("email")
    return Identity(
        email=email if isinstance(email, str) and email else None,
        is_admin=claims.get("is_admin") is True,
        tenants=_tenant_scope(claims),
        may_ingest=claims.get("is_admin") is True or claims.get("ingest") is True,
    )


def authenticate(authorization: str | None, secret: str) -> Identity:
    """The identity of an ``Authorization`` header; ``Unauthenticated`` says what is wrong."""
    if not authorization or not authorization.strip():
        raise refused(TokenProblem.MISSING)
    token = bearer_token(authorization)
    if token is None:
        raise refused(TokenProblem.MALFORMED, "the Authorization header must be 'Bearer <token>'")
    return verify_token(token, secret)


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


def bearer_key(authorization: str | None) -> bytes:
    """A per-token key for in-memory counters (query budgets, live subscriptions): a
    digest of the Authorization header, so they hold no bearer secrets."""
    return hashlib.blake2b((authorization or "").encode(), digest_size=16).digest()
