"""GET/PATCH /api/users/me and POST /api/users/me/password; access tokens that must not get in."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from shopkit.testing.problems import assert_problem
from shopkit.testing.tokens import access_token, signing_keypair
from user_svc.accounts.models import RefreshToken, User
from user_svc.accounts.services import TokenPair
from user_svc.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

Login = Callable[..., TokenPair]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(payload: dict[str, Any]) -> str:
    """The key-confusion attack: HMAC-signed with the RSA public key as the shared secret."""
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(payload).encode())}"
    secret = signing_keypair().public_pem.encode()
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _other_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_me_answers_the_own_profile(user_client: APIClient, user: User) -> None:
    # when
    response = user_client.get("/api/users/me")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id),
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "is_staff": False,
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }


def test_me_reads_one_row(user_client: APIClient, user: User, django_assert_max_num_queries: Any) -> None:
    # when: the token is verified without the database; only the profile is read
    with django_assert_max_num_queries(1):
        response = user_client.get("/api/users/me")

    # then
    assert response.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer not.a.jwt", id="garbage"),
        pytest.param("Basic Zm9vOmJhcg==", id="basic"),
        pytest.param(f"Bearer {access_token(lifetime=dt.timedelta(minutes=-5))}", id="expired"),
        pytest.param(f"Bearer {access_token(private_pem=_other_key_pem())}", id="forged"),
        pytest.param(f"Bearer {access_token()[:-6]}AAAAAA", id="tampered"),
        pytest.param(f"Bearer {access_token(token_type='refresh')}", id="refresh-type"),
        pytest.param(
            "Bearer "
            + jwt.encode(jwt.decode(access_token(), options={"verify_signature": False}), key="", algorithm="none"),
            id="alg-none",
        ),
        pytest.param(
            "Bearer " + _hs256_with_public_key(jwt.decode(access_token(), options={"verify_signature": False})),
            id="hs256-with-public-key",
        ),
    ],
)
def test_me_without_a_valid_access_token_is_401(user: User, authorization: str | None) -> None:
    # given
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    # when
    response = client.get("/api/users/me")

    # then
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="shop"'


def test_me_with_a_refresh_token_as_access_is_401(user: User, login: Login) -> None:
    # given
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(user).refresh}")

    # then
    assert_problem(client.get("/api/users/me"), 401)


def test_me_of_a_deleted_account_is_404(user_client: APIClient, user: User) -> None:
    # given
    user.delete()

    # then
    assert_problem(user_client.get("/api/users/me"), 404, "user-not-found")


def test_patch_me_changes_the_names(user_client: APIClient, user: User) -> None:
    # when
    response = user_client.patch("/api/users/me", {"first_name": " Augusta ", "last_name": "King"}, format="json")

    # then
    assert response.status_code == 200
    assert (response.json()["first_name"], response.json()["last_name"]) == ("Augusta", "King")
    stored = User.objects.get(pk=user.pk)
    assert (stored.first_name, stored.last_name, stored.email) == ("Augusta", "King", "ada@example.com")


def test_patch_me_with_one_field_leaves_the_other(user_client: APIClient, user: User) -> None:
    # when
    response = user_client.patch("/api/users/me", {"last_name": "Byron"}, format="json")

    # then
    assert response.status_code == 200
    stored = User.objects.get(pk=user.pk)
    assert (stored.first_name, stored.last_name) == ("Ada", "Byron")


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        pytest.param({"email": "mallory@example.com"}, ["email"], id="email"),
        pytest.param({"first_name": "Ada", "is_staff": True}, ["is_staff"], id="is-staff"),
        pytest.param({"is_superuser": True, "id": "x"}, ["id", "is_superuser"], id="others"),
        pytest.param({"first_name": "x" * 151}, ["first_name"], id="too-long"),
        pytest.param({"last_name": None}, ["last_name"], id="null"),
    ],
)
def test_patch_me_with_fields_it_may_not_change_is_400_and_changes_nothing(
    user_client: APIClient, user: User, payload: dict[str, Any], fields: list[str]
) -> None:
    # when
    response = user_client.patch("/api/users/me", payload, format="json")

    # then
    body = assert_problem(response, 400, "validation-error")
    assert sorted(body["errors"]) == fields
    stored = User.objects.get(pk=user.pk)
    assert (stored.email, stored.first_name, stored.is_staff, stored.is_superuser) == (
        "ada@example.com",
        "Ada",
        False,
        False,
    )


def test_patch_me_needs_a_token(user: User) -> None:
    assert_problem(APIClient().patch("/api/users/me", {"first_name": "Eve"}, format="json"), 401)
    assert User.objects.get(pk=user.pk).first_name == "Ada"


def test_password_change_answers_204_and_revokes_refresh_tokens(
    user_client: APIClient, user: User, login: Login
) -> None:
    # given
    session = login(user)

    # when
    response = user_client.post(
        "/api/users/me/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase"},
        format="json",
    )

    # then
    assert response.status_code == 204
    assert User.objects.get(pk=user.pk).check_password("a-brand-new-passphrase")
    assert RefreshToken.objects.filter(revoked_at__isnull=True).count() == 0
    assert_problem(APIClient().post("/api/auth/refresh", {"refresh": session.refresh}, format="json"), 401)
    login_with_new = APIClient().post(
        "/api/auth/login", {"email": user.email, "password": "a-brand-new-passphrase"}, format="json"
    )
    assert login_with_new.status_code == 200


def test_password_change_with_wrong_current_password_is_400_and_changes_nothing(
    user_client: APIClient, user: User
) -> None:
    # when
    response = user_client.post(
        "/api/users/me/password",
        {"current_password": "not-the-password", "new_password": "a-brand-new-passphrase"},
        format="json",
    )

    # then
    body = assert_problem(response, 400, "wrong-current-password")
    assert list(body["errors"]) == ["current_password"]
    assert User.objects.get(pk=user.pk).check_password(DEFAULT_PASSWORD)


def test_password_change_to_a_weak_password_is_400_and_changes_nothing(user_client: APIClient, user: User) -> None:
    # when
    response = user_client.post(
        "/api/users/me/password", {"current_password": DEFAULT_PASSWORD, "new_password": "12345678"}, format="json"
    )

    # then
    body = assert_problem(response, 400, "invalid-password")
    assert "This password is too common." in body["errors"]["new_password"]
    assert User.objects.get(pk=user.pk).check_password(DEFAULT_PASSWORD)


def test_password_change_without_fields_is_400(user_client: APIClient, user: User) -> None:
    body = assert_problem(user_client.post("/api/users/me/password", {}, format="json"), 400, "validation-error")
    assert sorted(body["errors"]) == ["current_password", "new_password"]


def test_password_change_needs_a_token(user: User) -> None:
    response = APIClient().post(
        "/api/users/me/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase"},
        format="json",
    )
    assert_problem(response, 401)
    assert User.objects.get(pk=user.pk).check_password(DEFAULT_PASSWORD)
