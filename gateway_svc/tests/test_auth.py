"""Bearer tokens are checked at the gateway: a bad token is a 401 problem and never reaches a service."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream
from shopkit.testing.jwks import JwksServer
from shopkit.testing.problems import assert_problem
from shopkit.testing.tokens import access_token, new_keypair, signing_keypair


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


@pytest.fixture
def users_jwks(settings: Any) -> Iterator[JwksServer]:
    """The users service's JWKS as a real HTTP server whose key set the test changes; the gateway reads only it."""
    from shopkit.auth import keys

    server = JwksServer()
    settings.JWT_PUBLIC_KEY = ""
    settings.JWT_JWKS_URL = server.url
    keys.reset()
    yield server
    keys.reset()
    server.stop()


def test_a_flood_of_tokens_with_made_up_kids_makes_the_gateway_ask_users_for_no_more_keys(
    gateway: Gateway, upstream: StubUpstream, users_jwks: JwksServer, settings: Any
) -> None:
    # given: a gateway that has the users service's key, and an attacker minting tokens with new kids
    settings.JWT_JWKS_MIN_REFRESH_SECONDS = 3600.0
    users_jwks.serve({"current": signing_keypair()})
    upstream.reply("GET", "/api/users/me", body={"ok": True})
    customer = {"Authorization": f"Bearer {access_token(uuid.uuid4(), kid='current')}"}
    assert gateway.get("/api/users/me", headers=customer).status_code == 200
    attacker = new_keypair()

    # when
    statuses = [
        gateway.get(
            "/api/users/me",
            headers={"Authorization": f"Bearer {access_token(private_pem=attacker.private_pem, kid=f'kid-{n}')}"},
        ).status_code
        for n in range(30)
    ]

    # then: no refresh at all (the key set is younger than the refresh interval); only the customer got through
    assert statuses == [401] * 30
    assert users_jwks.requests == 1
    assert len(upstream.calls("GET", "/api/users/me")) == 1
    assert gateway.get("/api/users/me", headers=customer).status_code == 200


def test_the_gateway_accepts_a_rotated_in_key_and_refuses_a_dropped_one_once_its_cache_expires(
    gateway: Gateway, upstream: StubUpstream, users_jwks: JwksServer, settings: Any
) -> None:
    # given: the gateway has verified a token of the key users signs with
    settings.JWT_JWKS_CACHE_SECONDS = 0.5
    settings.JWT_JWKS_MIN_REFRESH_SECONDS = 0.0
    old_pair, new_pair = signing_keypair(), new_keypair()
    users_jwks.serve({"old": old_pair})
    upstream.reply("GET", "/api/users/me", body={"ok": True})
    old = {"Authorization": f"Bearer {access_token(uuid.uuid4(), kid='old')}"}
    assert gateway.get("/api/users/me", headers=old).status_code == 200

    # when: users rotates (serving both keys), and later drops the old one
    users_jwks.serve({"new": new_pair, "old": old_pair})
    new = {"Authorization": f"Bearer {access_token(uuid.uuid4(), private_pem=new_pair.private_pem, kid='new')}"}
    during_overlap = (
        gateway.get("/api/users/me", headers=old).status_code,
        gateway.get("/api/users/me", headers=new).status_code,
    )
    users_jwks.serve({"new": new_pair})
    deadline = time.monotonic() + 10
    while (refused := gateway.get("/api/users/me", headers=old)).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)

    # then
    assert during_overlap == (200, 200)
    assert_problem(refused, 401)
    assert refused.json()["detail"] == "Invalid access token: token is signed with an unknown key."
    assert gateway.get("/api/users/me", headers=new).status_code == 200
