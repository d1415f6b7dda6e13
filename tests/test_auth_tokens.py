from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from auth.tokens import bearer_token, issue_token, verify_token
from core.errors import Unauthenticated

SECRET = "s" * 64


def test_round_trip_with_tenant_scopes() -> None:
    plain = verify_token(issue_token(SECRET, email="a@x.co"), SECRET)
    assert (plain.email, plain.is_admin, plain.tenants) == ("a@x.co", False, frozenset({"default"}))
    one = verify_token(issue_token(SECRET, email="a@x.co", admin=True, tenant="shop1"), SECRET)
    assert (one.is_admin, one.tenants) == (True, frozenset({"shop1"}))
    assert one.may_read("shop1") and not one.may_read("default")
    every = verify_token(issue_token(SECRET, email="a@x.co", admin=True, tenant="*"), SECRET)
    assert every.may_read("anything")


def test_tenants_list_claim() -> None:
    claims = {"email": "a@x.co", "is_admin": True, "tenants": ["a", "b"], "exp": 4102444800}
    identity = verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET)
    assert identity.tenants == frozenset({"a", "b"})


def test_is_admin_must_be_true_not_truthy() -> None:
    claims = {"email": "a@x.co", "is_admin": "yes", "exp": 4102444800}
    assert verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET).is_admin is False


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        issue_token("another-secret-of-sufficient-length", email="a@x.co", admin=True),
        issue_token(SECRET, email="a@x.co", admin=True, now=datetime.now(UTC) - timedelta(days=40)),
        jwt.encode({"email": "a@x.co", "is_admin": True}, SECRET, algorithm="HS256"),  # no exp
        jwt.encode({"is_admin": True, "exp": 4102444800}, None, algorithm="none"),
        jwt.encode({"is_admin": True, "exp": 4102444800}, SECRET, algorithm="HS512"),
    ],
    ids=["malformed", "wrong-signature", "expired", "no-exp", "alg-none", "alg-not-allowed"],
)
def test_unusable_tokens_are_unauthenticated(token: str) -> None:
    with pytest.raises(Unauthenticated):
        verify_token(token, SECRET)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
    ],
)
def test_bearer_token(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected
