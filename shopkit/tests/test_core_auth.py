"""Access tokens: only RS256 tokens signed with the users service's key, unexpired and of type access."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shopkit.auth import InvalidToken, verify_access_token
from shopkit.testing.tokens import access_token, signing_keypair

pytestmark = [pytest.mark.urls("shopkit_tests.core_urls")]


def _other_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_a_valid_token_gives_its_claims(settings: Any) -> None:
    # given
    user_id = uuid.uuid4()

    # when
    claims = verify_access_token(access_token(user_id, email="a@example.com", is_staff=True))

    # then
    assert (claims.user_id, claims.email, claims.is_staff) == (user_id, "a@example.com", True)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: access_token(lifetime=dt.timedelta(minutes=-5)), id="expired"),
        pytest.param(lambda: access_token(private_pem=_other_private_key()), id="signed-by-another-key"),
        pytest.param(lambda: access_token(token_type="refresh"), id="refresh-token-as-access"),
        pytest.param(lambda: access_token()[:-6] + "AAAAAA", id="tampered-signature"),
        pytest.param(lambda: "not-a-jwt", id="garbage"),
    ],
)
def test_bad_tokens_are_rejected(settings: Any, make: Any) -> None:
    with pytest.raises(InvalidToken):
        verify_access_token(make())


def test_alg_none_is_rejected(settings: Any) -> None:
    # given: a token that claims no signature at all
    payload = jwt.decode(access_token(), options={"verify_signature": False})
    unsigned = jwt.encode(payload, key=None, algorithm="none")

    # then
    with pytest.raises(InvalidToken):
        verify_access_token(unsigned)


def test_hs256_signed_with_the_public_key_is_rejected(settings: Any) -> None:
    # given: the classic key-confusion attack: HMAC keyed with the RSA public key
    import base64
    import hashlib
    import hmac

    payload = jwt.decode(access_token(), options={"verify_signature": False})

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(signing_keypair().public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()

    # then
    with pytest.raises(InvalidToken):
        verify_access_token(f"{signing_input}.{b64(signature)}")


def test_drf_views_see_the_caller_from_the_token(client: Any) -> None:
    # given
    user_id = uuid.uuid4()

    # when
    response = client.get("/api/whoami", HTTP_AUTHORIZATION=f"Bearer {access_token(user_id)}")

    # then
    assert response.status_code == 200
    assert response.json() == {"user_id": str(user_id), "is_staff": False}


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Token abc"], ids=repr)
def test_drf_views_answer_401_problems_for_missing_or_bad_credentials(client: Any, header: str) -> None:
    # when
    response = client.get("/api/whoami", **({"HTTP_AUTHORIZATION": header} if header else {}))

    # then
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
