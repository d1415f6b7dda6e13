from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from app.http import create_app
from auth.tokens import authenticate, bearer_token, issue_token, verify_token
from core.errors import Unauthenticated
from core.settings import Settings
from storage.embedded import EmbeddedDatabase
from tests.conftest import SECRET, Run, cost


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


SIGNED = {"email": "a@x.co", "is_admin": True, "exp": 4102444800}


def signed(claims: dict[str, object], *, key: str | None = SECRET, alg: str = "HS256") -> str:
    """A JWS over ``claims`` as given: pyjwt's encode would refuse some on purpose."""
    return jwt.PyJWS().encode(json.dumps(claims).encode(), key, algorithm=alg)


# (Authorization header, extensions.reason, message): every way a token is refused.
REFUSALS = [
    (None, "missing", "this field needs a bearer token: send 'Authorization: Bearer <token>'"),
    ("", "missing", "this field needs a bearer token: send 'Authorization: Bearer <token>'"),
    ("Basic YTpi", "malformed", "the Authorization header must be 'Bearer <token>'"),
    ("Bearer", "malformed", "the Authorization header must be 'Bearer <token>'"),
    (
        "Bearer not-a-jwt",
        "malformed",
        "the bearer token is not a well-formed JWT (Not enough segments)",
    ),
    (
        "Bearer " + signed({"exp": "tomorrow"}),
        "malformed",
        "the bearer token is not a well-formed JWT "
        "(Expiration Time claim (exp) must be an integer.)",
    ),
    (
        "Bearer " + signed(SIGNED, key=None, alg="none"),
        "bad_algorithm",
        "the bearer token must be signed with HS256",
    ),
    (
        "Bearer " + signed(SIGNED, key=SECRET * 2, alg="HS512"),
        "bad_algorithm",
        "the bearer token must be signed with HS256",
    ),
    (
        "Bearer " + issue_token("another-secret-of-sufficient-length", email="a@x.co"),
        "bad_signature",
        "the bearer token was not signed with this server's secret",
    ),
    (
        # Expired and wrongly signed: the signature is checked first, so nothing about
        # the claims is told to someone without the secret.
        "Bearer " + signed({**SIGNED, "exp": 1}, key="another-secret-of-sufficient-length"),
        "bad_signature",
        "the bearer token was not signed with this server's secret",
    ),
    (
        "Bearer " + issue_token(SECRET, email="a@x.co", now=datetime.now(UTC) - timedelta(days=40)),
        "expired",
        "the bearer token has expired: issue a new one",
    ),
    (
        "Bearer " + signed({"email": "a@x.co", "is_admin": True}),
        "no_exp",
        "the bearer token has no exp claim: this server only accepts tokens that expire",
    ),
    (
        "Bearer " + signed({**SIGNED, "nbf": 4102444000}),
        "not_yet_valid",
        "the bearer token is not valid yet (nbf or iat in the future)",
    ),
    (
        "Bearer " + signed({**SIGNED, "aud": "another-service"}),
        "bad_claim",
        "the bearer token has a claim this server does not accept (Invalid audience)",
    ),
]
REFUSAL_IDS = [
    "no-header",
    "empty-header",
    "basic-scheme",
    "bearer-without-token",
    "not-a-jwt",
    "exp-not-a-number",
    "alg-none",
    "alg-not-allowed",
    "wrong-signature",
    "expired-and-wrong-signature",
    "expired",
    "no-exp",
    "not-before-in-the-future",
    "audience",
]


@pytest.mark.parametrize(("header", "reason", "message"), REFUSALS, ids=REFUSAL_IDS)
def test_every_refusal_says_why(header: str | None, reason: str, message: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        authenticate(header, SECRET)
    assert (refused.value.message, refused.value.extensions) == (
        message,
        {"code": "UNAUTHENTICATED", "reason": reason},
    )


@pytest.mark.parametrize(("header", "reason", "message"), REFUSALS, ids=REFUSAL_IDS)
async def test_refusal_reason_through_the_schema(
    run: Run, header: str | None, reason: str, message: str
) -> None:
    result = await run("{ dashboardStats { mode } }", authorization=header)
    assert result.data is None
    assert [(e.message, e.extensions) for e in result.errors or []] == [
        (message, {"code": "UNAUTHENTICATED", "reason": reason})
    ]


@pytest.mark.parametrize(("header", "reason", "message"), REFUSALS, ids=REFUSAL_IDS)
async def test_refusal_reason_over_http(
    settings: Settings, database: EmbeddedDatabase, header: str | None, reason: str, message: str
) -> None:
    transport = httpx.ASGITransport(app=create_app(settings, database=database))
    headers = {} if header is None else {"Authorization": header}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/graphql", json={"query": "{ dashboardStats { mode } }"}, headers=headers
        )
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": message,
                "locations": [{"line": 1, "column": 3}],
                "path": ["dashboardStats"],
                "extensions": {"code": "UNAUTHENTICATED", "reason": reason},
            }
        ],
        "extensions": cost(3),
    }
    assert SECRET not in response.text


def test_a_valid_header_authenticates() -> None:
    identity = authenticate("Bearer " + issue_token(SECRET, email="a@x.co", admin=True), SECRET)
    assert (identity.email, identity.is_admin) == ("a@x.co", True)


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
