"""Per-request context handed to every resolver and permission."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from auth.tokens import Identity, authenticate
from core.budget import QueryBudgets
from core.errors import Unauthenticated
from core.settings import Settings
from metrics.context import RequestFacts
from metrics.tenants import TenantDirectory
from storage.database import Database


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request has no verified identity (an ``Unauthenticated``'s message and reason)."""

    message: str
    reason: str


@dataclass
class Context:
    database: Database
    settings: Settings
    jwt_secret: str
    # The request time: every window and alert timestamp of one request uses it.
    now: datetime
    authorization: str | None = None
    # What the request says of its caller (IP, user agent, Referer), for event context.
    facts: RequestFacts = field(default_factory=RequestFacts)
    visitor_key: bytes = b""
    # A trusted server-side sender names the shopper itself (Hanzo's customerId, or
    # nobody for a guest): then the token's own email is not the shopper's.
    shopper_named: bool = False
    shopper_override: str | None = None
    # Tenants' settings, cached per process (the app passes its one directory).
    tenant_directory: TenantDirectory | None = None
    # Admin tokens' query budgets (schema.cost), one per process; None: no budget.
    query_budgets: QueryBudgets | None = None
    # Set once a multi-request download (the CSV export) has paid for its first page.
    budget_paid: bool = False

    @property
    def tenants(self) -> TenantDirectory:
        if self.tenant_directory is None:
            self.tenant_directory = TenantDirectory(self.database, self.settings)
        return self.tenant_directory

    # The verified identity, or why there is none: the token is checked once per request.
    # A refusal is kept as its message and reason, not as the exception: a caught
    # exception holds its traceback, whose frames hold this context, a reference
    # cycle per tokenless request that only the cyclic GC would free.
    _checked: Identity | Refusal | None = field(default=None, init=False, repr=False)

    def _verified(self) -> Identity | Refusal:
        if self._checked is None:
            try:
                self._checked = authenticate(self.authorization, self.jwt_secret)
            except Unauthenticated as error:
                self._checked = Refusal(error.message, error.reason)
        return self._checked

    def identity(self) -> Identity:
        """The verified bearer identity; ``Unauthenticated`` (with its reason) otherwise."""
        checked = self._verified()
        if isinstance(checked, Refusal):
            raise Unauthenticated(checked.message, reason=checked.reason)
        return checked

    def admin(self) -> Identity | None:
        """The verified identity when it is an admin's, else None (never raises)."""
        checked = self._verified()
        return checked if isinstance(checked, Identity) and checked.is_admin else None

    def caller(self) -> RequestFacts:
        """The request's facts, trusted when its token allows ingestion (never a bot)."""
        # Read without raising: tracking asks for every request, most without a token.
        checked = self._verified()
        trusted = not isinstance(checked, Refusal) and checked.may_ingest
        return replace(self.facts, trusted=trusted) if trusted else self.facts

    def shopper_email(self) -> str | None:
        """The email of a valid bearer token, else None (tracking never fails on a bad token);
        a trusted sender's named shopper first."""
        if self.shopper_named:
            return self.shopper_override
        checked = self._verified()
        return None if isinstance(checked, Refusal) else checked.email
