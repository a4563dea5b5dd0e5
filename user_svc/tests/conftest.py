"""Fixtures of the users service's suite: the test signing key, fast hashing, users and their tokens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from shopkit.testing.outbox_contracts import pytest_runtest_call  # noqa: F401 - the hook checking outbox rows
from shopkit.testing.tokens import signing_keypair
from user_svc.accounts import services
from user_svc.accounts.models import User
from user_svc.tests.factories import DEFAULT_PASSWORD, UserFactory


@pytest.fixture(scope="session")
def _test_private_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jwt") / "private.pem"
    path.write_text(signing_keypair().private_pem)
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def _users_test_settings(settings: Any, _test_private_key_file: Path) -> None:
    """Sign with the shared test key pair (whose public half shopkit's plugin sets as JWT_PUBLIC_KEY)."""
    settings.JWT_PRIVATE_KEY_FILE = _test_private_key_file
    # No previous key, whatever a developer's var/ holds after a rotation of their own.
    settings.JWT_PREVIOUS_PUBLIC_KEY_FILE = _test_private_key_file.with_name("no-previous-key.pem")
    # The production hasher is deliberately slow; the suite checks behaviour, not key stretching.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create(email="ada@example.com", first_name="Ada", last_name="Lovelace")


@pytest.fixture
def login(db: None) -> Callable[..., services.TokenPair]:
    def do(user: User, password: str = DEFAULT_PASSWORD) -> services.TokenPair:
        return services.auth_login(email=user.email, password=password)

    return do


@pytest.fixture
def user_client(user: User, login: Callable[..., services.TokenPair]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(user).access}")
    return client
