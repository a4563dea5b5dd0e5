"""GET /api/.well-known/jwks.json: the public key that verifies the service's tokens."""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
from rest_framework.test import APIClient

from shopkit.auth import keys as shopkit_keys
from shopkit.auth import verify_access_token
from user_svc.accounts.models import User
from user_svc.accounts.services import TokenPair

pytestmark = pytest.mark.django_db


def test_jwks_serves_the_public_key_that_verifies_a_fresh_token(user: User, login: Callable[..., TokenPair]) -> None:
    # given
    pair = login(user)

    # when: with a stray bad token, which a public endpoint ignores
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    response = client.get("/api/.well-known/jwks.json")

    # then
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    (jwk,) = response.json()["keys"]
    assert set(jwk) == {"kty", "n", "e", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["use"], jwk["alg"], jwk["e"]) == ("RSA", "sig", "RS256", "AQAB")
    assert jwt.get_unverified_header(pair.access)["kid"] == jwk["kid"]
    public_key = jwt.PyJWK(jwk).key
    claims = jwt.decode(pair.access, key=public_key, algorithms=["RS256"], audience="shop", issuer="shop-users")
    assert claims["sub"] == str(user.id)


def test_shopkit_verifies_a_fresh_token_through_the_jwks_endpoint(
    settings: object, user: User, login: Callable[..., TokenPair], live_server: object
) -> None:
    # given: a verifier with no PEM, only the users service's JWKS URL (as every other service)
    settings.JWT_PUBLIC_KEY = ""  # type: ignore[attr-defined]
    settings.JWT_JWKS_URL = f"{live_server.url}/api/.well-known/jwks.json"  # type: ignore[attr-defined]
    shopkit_keys.reset()
    pair = login(user)

    # when
    try:
        claims = verify_access_token(pair.access)
    finally:
        shopkit_keys.reset()

    # then
    assert (claims.user_id, claims.email) == (user.id, user.email)
