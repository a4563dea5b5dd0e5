"""Signing-key rotation at the issuer: jwt_keygen --rotate, both keys in the JWKS, the previous key dropped."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from shopkit.auth import InvalidToken, verify_access_token
from shopkit.auth import keys as shopkit_keys
from shopkit.testing.processes import child_env, run_python
from user_svc.accounts import keys, tokens
from user_svc.accounts.errors import InvalidRefreshToken
from user_svc.accounts.models import User
from user_svc.accounts.services import TokenPair, auth_refresh

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class KeyFiles:
    private: Path
    previous: Path


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("jwt_keygen", *args, stdout=out)
    return out.getvalue()


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


@pytest.fixture
def key_files(settings: Any, tmp_path: Path) -> Iterator[KeyFiles]:
    """A users service with key files of its own; `reload` is what restarting it does."""
    files = KeyFiles(private=tmp_path / "jwt" / "private.pem", previous=tmp_path / "jwt" / "previous_public.pem")
    settings.JWT_PRIVATE_KEY_FILE = files.private
    settings.JWT_PREVIOUS_PUBLIC_KEY_FILE = files.previous
    _run()
    _reload(settings, files)
    yield files
    tokens.reload_keys()


def _reload(settings: Any, files: KeyFiles) -> None:
    """What a restart of users does: its settings read the key files again, and so does its token module."""
    settings.JWT_PUBLIC_KEY = keys.verification_pems(files.private, files.previous, create=False)
    tokens.reload_keys()


@pytest.fixture
def jwks_verifier(settings: Any, live_server: Any) -> Iterator[Callable[[str], str]]:
    """Another service's verifier: only the users service's JWKS URL; its cache is emptied before each check."""
    settings.JWT_JWKS_URL = f"{live_server.url}/api/.well-known/jwks.json"

    def outcome(token: str) -> str:
        pems, settings.JWT_PUBLIC_KEY = settings.JWT_PUBLIC_KEY, ""
        shopkit_keys.reset()
        try:
            return str(verify_access_token(token).user_id)
        except InvalidToken as exc:
            return str(exc)
        finally:
            settings.JWT_PUBLIC_KEY = pems

    yield outcome
    shopkit_keys.reset()


def test_jwt_keygen_rotate_keeps_the_old_public_key_and_writes_a_new_signing_key(key_files: KeyFiles) -> None:
    # given
    old = keys.load_private_key(key_files.private)
    old_kid = keys.key_id(old.public_key())

    # when
    output = _run("--rotate")

    # then
    new = keys.load_private_key(key_files.private)
    previous = keys.load_previous_public_key(key_files.previous)
    assert previous is not None
    new_kid = keys.key_id(new.public_key())
    assert new_kid != old_kid
    assert previous.public_numbers() == old.public_key().public_numbers()
    assert key_files.private.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in key_files.private.parent.iterdir()) == ["previous_public.pem", "private.pem"]
    assert output == (
        f"JWT signing key rotated: {key_files.private} (kid {new_kid}); "
        f"previous key kept in {key_files.previous} (kid {old_kid}). Reload users now.\n"
    )


def test_jwt_keygen_refuses_a_second_rotation_while_a_previous_key_is_still_kept(key_files: KeyFiles) -> None:
    # given: a rotation whose overlap has not been ended
    _run("--rotate")
    signing, previous = key_files.private.read_bytes(), key_files.previous.read_bytes()

    # when
    with pytest.raises(CommandError, match=r"a previous key \(kid .+\) is still kept"):
        _run("--rotate")

    # then: nothing changed, so the tokens of the key still kept keep verifying
    assert (key_files.private.read_bytes(), key_files.previous.read_bytes()) == (signing, previous)


def test_jwt_keygen_drop_previous_ends_the_overlap(key_files: KeyFiles) -> None:
    # given
    _run("--rotate")
    previous = keys.load_previous_public_key(key_files.previous)
    assert previous is not None

    # when
    dropped = _run("--drop-previous")
    again = _run("--drop-previous")

    # then
    kid = keys.key_id(previous)
    assert dropped == f"Previous JWT key dropped: {key_files.previous} (kid {kid}). Reload users now.\n"
    assert again == f"No previous JWT key: {key_files.previous}\n"
    assert not key_files.previous.exists()
    assert _run("--rotate").startswith("JWT signing key rotated:")


def test_jwks_serves_the_current_and_the_previous_key_and_both_kinds_of_tokens_verify_with_them(
    settings: Any, key_files: KeyFiles, user: User, login: Callable[..., TokenPair]
) -> None:
    # given: a token from before the rotation and one from after
    before = login(user)
    _run("--rotate")
    _reload(settings, key_files)
    after = login(user)

    # when
    response = APIClient().get("/api/.well-known/jwks.json")

    # then: the signing key first, then the previous one; each verifies the tokens of its kid
    assert response.status_code == 200
    served = {jwk["kid"]: jwt.PyJWK(jwk).key for jwk in response.json()["keys"]}
    assert list(served) == [_kid(after.access), _kid(before.access)]
    for pair in (before, after):
        claims = jwt.decode(
            pair.access, key=served[_kid(pair.access)], algorithms=["RS256"], audience="shop", issuer="shop-users"
        )
        assert claims["sub"] == str(user.id)


def test_tokens_of_the_previous_key_verify_during_the_overlap_and_stop_once_it_is_dropped(
    settings: Any,
    key_files: KeyFiles,
    user: User,
    login: Callable[..., TokenPair],
    jwks_verifier: Callable[[str], str],
) -> None:
    # given: a customer signed in before the rotation
    before = login(user)
    _run("--rotate")
    _reload(settings, key_files)
    after = login(user)
    me = APIClient()

    # when: during the overlap, then after the previous key is dropped
    overlap = [jwks_verifier(before.access), jwks_verifier(after.access)]
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {before.access}")
    own_api_during_overlap = me.get("/api/users/me").status_code
    _run("--drop-previous")
    _reload(settings, key_files)
    dropped = [jwks_verifier(before.access), jwks_verifier(after.access)]
    own_api_after = me.get("/api/users/me").status_code

    # then: other services (through the JWKS) and users itself (its own key files) agree
    assert overlap == [str(user.id), str(user.id)]
    assert dropped == ["token is signed with an unknown key", str(user.id)]
    assert (own_api_during_overlap, own_api_after) == (200, 401)


def test_a_refresh_token_of_the_previous_key_refreshes_to_the_new_key_during_the_overlap_only(
    settings: Any, key_files: KeyFiles, user: User, login: Callable[..., TokenPair]
) -> None:
    # given: two sessions from before the rotation
    first, second = login(user), login(user)
    old_kid = _kid(first.refresh)
    _run("--rotate")
    _reload(settings, key_files)

    # when: one customer comes back during the overlap, the other after it ended
    refreshed = auth_refresh(refresh=first.refresh)
    _run("--drop-previous")
    _reload(settings, key_files)
    with pytest.raises(InvalidRefreshToken):
        auth_refresh(refresh=second.refresh)

    # then: the first got tokens of the new key, which keep working
    new_kid = keys.key_id(keys.load_private_key(key_files.private).public_key())
    assert (_kid(refreshed.access), _kid(refreshed.refresh)) == (new_kid, new_kid)
    assert new_kid != old_kid
    assert auth_refresh(refresh=refreshed.refresh).access


def test_users_refuses_to_start_with_an_access_token_lifetime_verifiers_would_refuse(tmp_path: Path) -> None:
    # given: users would issue tokens living longer than every verifier accepts
    env = child_env(
        SHOP_VAR_DIR=str(tmp_path), JWT_ACCESS_TTL_SECONDS="1200", JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS="900"
    )

    # when
    result = run_python(["-c", "import user_svc.settings"], env=env, timeout=60)

    # then
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: JWT_ACCESS_TTL_SECONDS (1200) exceeds "
        "JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS (900) that verifiers accept"
    )
