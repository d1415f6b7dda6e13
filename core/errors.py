"""The service's own errors, each mapped to one GraphQL ``extensions.code``.

    AppError                      (abstract; never raised itself)
    ├── BadUserInput              BAD_USER_INPUT: the request is wrong; names the field
    ├── Unauthenticated           UNAUTHENTICATED: no usable bearer token; why in
    │                             ``extensions.reason`` (auth.tokens.TokenProblem)
    ├── Forbidden                 FORBIDDEN: valid token, not allowed here
    └── RateLimited               RATE_LIMITED: too many requests; when to try again in
                                  ``extensions.retryAfter`` (whole seconds, ≥ 1)

    ConfigError                   start-up configuration is invalid (not a GraphQL error)

Any other exception reaching the GraphQL layer is reported as
INTERNAL_SERVER_ERROR with no message text.
"""

from __future__ import annotations

from typing import ClassVar


class AppError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, object]:
        extensions: dict[str, object] = {"code": self.code}
        if self.field is not None:
            extensions["field"] = self.field
        return extensions


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def extensions(self) -> dict[str, object]:
        return {**super().extensions, "reason": self.reason}


class Forbidden(AppError):
    code = "FORBIDDEN"


class RateLimited(AppError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, object]:
        return {**super().extensions, "retryAfter": self.retry_after}


class ConfigError(Exception):
    """Invalid start-up configuration; ``main`` prints it as one line and exits."""
