"""Bearer tokens are checked at the gateway: a bad token is a 401 problem and never reaches a service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, cast

import pytest

from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream, assert_problem
from shopkit.testing.tokens import access_token


def _forged() -> str:
    header, payload, signature = access_token(uuid.uuid4()).split(".")
    return f"{header}.{payload}.{signature[:-4]}AAAA"


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Basic Zm9vOmJhcg==", id="not-bearer"),
        pytest.param("Bearer not.a.jwt", id="malformed"),
        pytest.param("Bearer ", id="empty"),
        pytest.param("forged", id="forged"),
        pytest.param("expired", id="expired"),
        pytest.param("refresh", id="refresh-token"),
    ],
)
def test_bad_or_missing_token_is_401_without_calling_upstream(
    gateway: Gateway, upstream: StubUpstream, authorization: str | None
) -> None:
    # given
    tokens: dict[str, Callable[[], str]] = {
        "forged": _forged,
        "expired": lambda: access_token(uuid.uuid4(), lifetime=dt.timedelta(minutes=-10)),
        "refresh": lambda: access_token(uuid.uuid4(), token_type="refresh"),
    }
    if authorization in tokens:
        authorization = f"Bearer {tokens[authorization]()}"
    headers = {"Authorization": authorization} if authorization is not None else {}

    # when
    responses = [gateway.get("/api/users/me", headers=headers), gateway.get("/api/cart", headers=headers)]

    # then
    for response in responses:
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith('Bearer realm="shop"')
    assert upstream.received == []


def test_token_signed_by_the_users_jwks_is_accepted_and_its_key_cached(
    gateway: Gateway, upstream: StubUpstream, settings: Any
) -> None:
    # given: no configured PEM, so the gateway fetches the users service's JWKS
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from jwt.algorithms import RSAAlgorithm

    from shopkit.auth import keys
    from shopkit.testing.tokens import signing_keypair

    public_key = cast(RSAPublicKey, load_pem_public_key(signing_keypair().public_pem.encode()))
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    upstream.reply(
        "GET", "/api/.well-known/jwks.json", body={"keys": [{**jwk, "kid": "test", "use": "sig", "alg": "RS256"}]}
    )
    upstream.reply("GET", "/api/users/me", body={"ok": True})
    settings.JWT_PUBLIC_KEY = ""
    settings.JWT_JWKS_URL = f"{upstream.url}/api/.well-known/jwks.json"
    keys.reset()
    auth = {"Authorization": f"Bearer {access_token(uuid.uuid4())}"}
    try:
        # when
        first = gateway.get("/api/users/me", headers=auth)
        second = gateway.get("/api/users/me", headers=auth)
    finally:
        keys.reset()

    # then
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(upstream.calls("GET", "/api/.well-known/jwks.json")) == 1


def test_unreachable_jwks_is_503_not_401(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    from gateway_svc.tests.stubs import free_port_url
    from shopkit.auth import keys

    settings.JWT_PUBLIC_KEY = ""
    settings.JWT_JWKS_URL = f"{free_port_url()}/api/.well-known/jwks.json"
    keys.reset()
    try:
        # when
        response = gateway.get("/api/users/me", headers={"Authorization": f"Bearer {access_token(uuid.uuid4())}"})
    finally:
        keys.reset()

    # then
    assert_problem(response, 503)
    assert upstream.received == []
