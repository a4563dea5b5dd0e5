"""pytest fixtures for every Shop service: test keys, tokens, authenticated API clients, signed-in admin clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shopkit.testing import django_configured
from shopkit.testing.processes import free_port
from shopkit.testing.shoppers import Shopper, new_shopper
from shopkit.testing.tokens import access_token, signing_keypair
from shopkit.testing.users_standin import UsersStandIn

STAFF_EMAIL = "staff@example.com"
STAFF_PASSWORD = "a-staff-passphrase"  # noqa: S105  # pragma: allowlist secret

# The broker fixtures (`kafka_bootstrap`, `tansu_broker`), the in-memory products service (`fake_products`)
# and gRPC test certificates (`grpc_pki`; every test runs with its service's identity).
pytest_plugins = [
    "shopkit.testing.kafka",
    "shopkit.testing.grpc_tls",
    "shopkit.testing.fake_products",
    "shopkit.testing.faults",
]


@pytest.fixture(autouse=True, scope="session")
def _shop_faults_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every fault off in tests: a flags file of the session's own, never the operator's var/faults.json.
    A test switches a fault with `python -m tools.faults --file $SHOP_FAULTS_FILE` (see docs/faults.md)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOP_FAULTS_FILE", str(tmp_path_factory.mktemp("faults") / "faults.json"))
        patch.setenv("SHOP_FAULTS_POLL_MS", "50")
        yield


@pytest.fixture(autouse=True)
def _shop_test_keys(request: pytest.FixtureRequest) -> Iterator[None]:
    """Services verify tokens with the test key pair instead of fetching the users service's JWKS."""
    if "settings" not in request.fixturenames and not django_configured():
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.JWT_PUBLIC_KEY = signing_keypair().public_pem
    yield


@pytest.fixture
def make_token() -> Callable[..., str]:
    return access_token


@pytest.fixture
def customer_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def make_shopper() -> Callable[[], Shopper]:
    """Another customer on each call (their own id, token and API client)."""
    return new_shopper


@pytest.fixture
def shopper() -> Shopper:
    return new_shopper()


@pytest.fixture
def products_down(settings: Any) -> Iterator[None]:
    """Nothing listens at products' gRPC address (a port the OS just handed out and took back) until the test ends."""
    from shopkit.grpc.products import reset_products_client

    settings.PRODUCTS_GRPC_TARGET = f"127.0.0.1:{free_port()}"
    reset_products_client()
    yield
    reset_products_client()


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


@pytest.fixture(scope="session")
def _users_standin_server() -> Iterator[UsersStandIn]:
    standin = UsersStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def users_service(_users_standin_server: UsersStandIn, settings: Any) -> UsersStandIn:
    """A real HTTP stand-in for the users service's sign-in and session checks, empty for each test."""
    _users_standin_server.reset()
    settings.USERS_URL = _users_standin_server.url
    return _users_standin_server


@pytest.fixture
def staff_admin_client(users_service: UsersStandIn, settings: Any, db: None) -> Any:
    """A Django test client signed in to this service's admin as staff, the way staff sign in.

    Through the admin's login page against the users stand-in (shopkit.admin_auth), so the session
    holds its refresh token as a real one does; `force_login` sessions have none and are ended.
    """
    from django.test import Client

    settings.ADMIN_LOGIN_RATE = ""
    users_service.add_account(STAFF_EMAIL, STAFF_PASSWORD, is_staff=True)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": STAFF_EMAIL, "password": STAFF_PASSWORD})
    assert response.status_code == 302, response.content
    return client
