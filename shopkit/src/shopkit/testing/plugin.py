"""pytest fixtures for every Shop service: test keys, tokens, authenticated API clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shopkit.testing.tokens import access_token, signing_keypair

# The broker fixtures (`kafka_bootstrap`, `tansu_broker`) and the in-memory products service (`fake_products`).
pytest_plugins = ["shopkit.testing.kafka", "shopkit.testing.fake_products"]


@pytest.fixture(autouse=True)
def _shop_test_keys(request: pytest.FixtureRequest) -> Iterator[None]:
    """Services verify tokens with the test key pair instead of fetching the users service's JWKS."""
    if "settings" not in request.fixturenames and not _django_configured():
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.JWT_PUBLIC_KEY = signing_keypair().public_pem
    yield


def _django_configured() -> bool:
    try:
        from django.conf import settings

        return settings.configured
    except ImportError:
        return False


@pytest.fixture
def make_token() -> Callable[..., str]:
    return access_token


@pytest.fixture
def customer_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def api_client() -> Any:
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def customer_client(customer_id: uuid.UUID) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(customer_id, email='customer@example.com')}")
    return client


@pytest.fixture
def staff_client() -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {access_token(uuid.uuid4(), email='staff@example.com', is_staff=True)}"
    )
    return client
