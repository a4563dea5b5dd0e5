"""Tokens: issuing, rotation, reuse detection, logout and password change revoking refresh tokens."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from prometheus_client import REGISTRY

from shopkit.auth import verify_access_token
from shopkit.testing.tokens import signing_keypair
from user_svc.accounts import keys, tokens
from user_svc.accounts.errors import InvalidCredentials, InvalidRefreshToken, WrongCurrentPassword
from user_svc.accounts.models import RefreshToken, User
from user_svc.accounts.services import (
    TokenPair,
    auth_login,
    auth_logout,
    auth_refresh,
    user_password_change,
)
from user_svc.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

Login = Callable[..., TokenPair]


def test_login_issues_access_token_that_shopkit_verifies_with_contract_claims(user: User) -> None:
    # when
    pair = auth_login(email="ADA@example.com", password=DEFAULT_PASSWORD)

    # then
    claims = verify_access_token(pair.access)
    assert (claims.user_id, claims.email, claims.is_staff, claims.is_superuser) == (
        user.id,
        "ada@example.com",
        False,
        False,
    )
    header = jwt.get_unverified_header(pair.access)
    payload = jwt.decode(pair.access, options={"verify_signature": False})
    assert header["alg"] == "RS256"
    assert header["kid"] == keys.key_id(tokens.signing_key().public_key)
    assert set(payload) == {"sub", "email", "is_staff", "is_superuser", "type", "iss", "aud", "iat", "exp", "jti"}
    assert (payload["type"], payload["iss"], payload["aud"]) == ("access", "shop-users", "shop")
    assert payload["exp"] - payload["iat"] == 300
    assert (pair.token_type, pair.expires_in) == ("Bearer", 300)
    stored = RefreshToken.objects.get()
    refresh_payload = jwt.decode(pair.refresh, options={"verify_signature": False})
    assert refresh_payload["type"] == "refresh"
    assert (refresh_payload["jti"], refresh_payload["fam"]) == (str(stored.id), str(stored.family_id))
    assert stored.expires_at - stored.created_at == dt.timedelta(days=14)
    assert User.objects.get(pk=user.pk).last_login is not None


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("ada@example.com", "wrong-password", id="wrong-password"),
        pytest.param("nobody@example.com", DEFAULT_PASSWORD, id="unknown-email"),
    ],
)
def test_login_with_wrong_credentials_is_refused_without_tokens(user: User, email: str, password: str) -> None:
    with pytest.raises(InvalidCredentials):
        auth_login(email=email, password=password)
    assert RefreshToken.objects.count() == 0


def test_login_of_inactive_user_is_refused() -> None:
    # given
    user = UserFactory.create(is_active=False)

    # then
    with pytest.raises(InvalidCredentials):
        auth_login(email=user.email, password=DEFAULT_PASSWORD)


def test_refresh_rotates_the_token_and_spends_the_old_one(user: User, login: Login) -> None:
    # given
    first = login(user)

    # when
    second = auth_refresh(refresh=first.refresh)

    # then
    assert verify_access_token(second.access).user_id == user.id
    old = RefreshToken.objects.get(pk=tokens.refresh_token_decode(first.refresh).token_id)
    new = RefreshToken.objects.get(pk=tokens.refresh_token_decode(second.refresh).token_id)
    assert old.used_at is not None
    assert old.revoked_at is None
    assert (new.used_at, new.revoked_at, new.family_id) == (None, None, old.family_id)
    assert jwt.decode(second.refresh, options={"verify_signature": False})["jti"] == str(new.id)


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(user: User, login: Login) -> None:
    # given: a family rotated once, and a second, unrelated session
    first = login(user)
    second = auth_refresh(refresh=first.refresh)
    other_session = login(user)

    # when: the spent token is replayed
    with pytest.raises(InvalidRefreshToken):
        auth_refresh(refresh=first.refresh)

    # then: the legitimate successor stops working too; the other session does not
    with pytest.raises(InvalidRefreshToken):
        auth_refresh(refresh=second.refresh)
    family = jwt.decode(first.refresh, options={"verify_signature": False})["fam"]
    assert RefreshToken.objects.filter(family_id=family, revoked_at__isnull=True).count() == 0
    assert auth_refresh(refresh=other_session.refresh).access


def test_refresh_of_expired_token_is_refused(user: User, login: Login) -> None:
    # given
    pair = login(user)
    claims = tokens.refresh_token_decode(pair.refresh)
    past = timezone.now() - dt.timedelta(days=30)
    expired = tokens.refresh_token_encode(
        token_id=claims.token_id,
        family_id=claims.family_id,
        user_id=user.id,
        issued_at=past,
        expires_at=past + dt.timedelta(days=1),
    )

    # then
    with pytest.raises(InvalidRefreshToken, match="expired"):
        auth_refresh(refresh=expired)


def test_refresh_of_deactivated_user_is_refused_and_revokes_the_family(user: User, login: Login) -> None:
    # given
    pair = login(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    # then
    with pytest.raises(InvalidRefreshToken):
        auth_refresh(refresh=pair.refresh)
    assert RefreshToken.objects.get().revoked_at is not None


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda pair: pair.access, id="access-token-as-refresh"),
        pytest.param(lambda pair: pair.refresh[:-6] + "AAAAAA", id="tampered"),
        pytest.param(lambda pair: "not-a-jwt", id="garbage"),
        pytest.param(
            lambda pair: jwt.encode(
                jwt.decode(pair.refresh, options={"verify_signature": False}), key="", algorithm="none"
            ),
            id="alg-none",
        ),
    ],
)
def test_refresh_with_bad_token_is_refused_and_changes_nothing(
    user: User, login: Login, make: Callable[[TokenPair], str]
) -> None:
    # given
    pair = login(user)

    # then
    with pytest.raises(InvalidRefreshToken):
        auth_refresh(refresh=make(pair))
    assert RefreshToken.objects.get().used_at is None


def test_logout_revokes_the_family_and_is_idempotent(user: User, login: Login) -> None:
    # given
    first = login(user)
    second = auth_refresh(refresh=first.refresh)
    other_session = login(user)

    # when
    auth_logout(refresh=second.refresh)
    auth_logout(refresh=second.refresh)

    # then
    with pytest.raises(InvalidRefreshToken):
        auth_refresh(refresh=second.refresh)
    assert RefreshToken.objects.filter(revoked_at__isnull=True).count() == 1
    assert auth_refresh(refresh=other_session.refresh).access


def test_password_change_sets_password_and_revokes_every_refresh_token(user: User, login: Login) -> None:
    # given
    sessions = [login(user), login(user)]

    # when
    user_password_change(user_id=user.id, current_password=DEFAULT_PASSWORD, new_password="a-brand-new-passphrase")

    # then
    assert User.objects.get(pk=user.pk).check_password("a-brand-new-passphrase")
    assert RefreshToken.objects.filter(revoked_at__isnull=True).count() == 0
    for pair in sessions:
        with pytest.raises(InvalidRefreshToken):
            auth_refresh(refresh=pair.refresh)


def test_password_change_with_wrong_current_password_changes_nothing(user: User, login: Login) -> None:
    # given
    login(user)

    # when
    with pytest.raises(WrongCurrentPassword):
        user_password_change(user_id=user.id, current_password="not-it", new_password="a-brand-new-passphrase")

    # then
    assert User.objects.get(pk=user.pk).check_password(DEFAULT_PASSWORD)
    assert RefreshToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_signing_key_missing_in_production_fails_loudly(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("SHOP_ENV", "production")
    settings.JWT_PRIVATE_KEY_FILE = tmp_path / "missing.pem"

    # then
    with pytest.raises(ImproperlyConfigured, match="missing"):
        tokens.signing_key()
    assert not (tmp_path / "missing.pem").exists()


def test_signing_key_missing_in_development_is_created_once(settings: Any, tmp_path: Path) -> None:
    # given
    path = tmp_path / "dev" / "private.pem"
    settings.JWT_PRIVATE_KEY_FILE = path

    # when
    key = tokens.signing_key()

    # then
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.load_private_key(path).public_key().public_numbers() == key.public_key.public_numbers()
    assert keys.create_private_key_file(path) is False
    assert key.kid == keys.key_id(key.public_key)


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # given: RFC 7638 section 3.1's example key
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3o"
        "knjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHz"
        "u6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8"
        "awapJzKnqDKgw"
    )
    e = "AQAB"

    def to_int(value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")

    public_key = RSAPublicNumbers(to_int(e), to_int(n)).public_key()

    # then
    assert keys.key_id(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert signing_keypair().public_pem == keys.public_pem(tokens.signing_key().public_key)


def test_concurrent_key_creation_leaves_one_complete_key(tmp_path: Path) -> None:
    # given: several workers starting at once with no key yet
    path = tmp_path / "jwt" / "private.pem"

    # when
    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(lambda _: keys.create_private_key_file(path), range(4)))

    # then
    assert created.count(True) == 1
    assert keys.load_private_key(path).key_size == 2048
    assert [p.name for p in path.parent.iterdir()] == ["private.pem"]


def test_login_outcomes_are_counted(user: User) -> None:
    # given
    def count(outcome: str) -> float:
        return REGISTRY.get_sample_value("shop_logins_total", {"outcome": outcome}) or 0.0

    succeeded, failed = count("succeeded"), count("failed")

    # when
    auth_login(email=user.email, password=DEFAULT_PASSWORD)
    with pytest.raises(InvalidCredentials):
        auth_login(email=user.email, password="wrong-password")

    # then
    assert (count("succeeded"), count("failed")) == (succeeded + 1, failed + 1)
