"""Per-request context handed to every resolver and permission."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from auth.tokens import Identity, bearer_token, verify_token
from core.errors import Unauthenticated
from core.settings import Settings
from storage.database import Database


@dataclass
class Context:
    database: Database
    settings: Settings
    jwt_secret: str
    # The request time: every window and alert timestamp of one request uses it.
    now: datetime
    authorization: str | None = None
    _identity: Identity | None = field(default=None, init=False, repr=False)
    _token_checked: bool = field(default=False, init=False, repr=False)

    def identity(self) -> Identity:
        """The verified bearer identity; ``Unauthenticated`` if missing or invalid."""
        if not self._token_checked:
            self._token_checked = True
            token = bearer_token(self.authorization)
            if token is not None:
                try:
                    self._identity = verify_token(token, self.jwt_secret)
                except Unauthenticated:
                    self._identity = None
        if self._identity is None:
            raise Unauthenticated("a valid bearer token is required")
        return self._identity

    def shopper_email(self) -> str | None:
        """The email of a valid bearer token, else None (tracking never fails on a bad token)."""
        try:
            return self.identity().email
        except Unauthenticated:
            return None
