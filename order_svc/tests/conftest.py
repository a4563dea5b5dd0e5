"""Fixtures of the orders suite: customers with tokens, and a real HTTP stand-in for carts (see carts_standin)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from order_svc.tests.carts_standin import CartsStandIn
from shopkit.testing.outbox_contracts import pytest_runtest_call  # noqa: F401 - the hook checking outbox rows
from shopkit.testing.tokens import access_token


@dataclass(frozen=True)
class Shopper:
    user_id: uuid.UUID
    token: str
    client: APIClient

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"


@pytest.fixture
def make_shopper() -> Callable[[], Shopper]:
    def make() -> Shopper:
        user_id = uuid.uuid4()
        token = access_token(user_id, email=f"{user_id.hex[:8]}@example.com")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return Shopper(user_id=user_id, token=token, client=client)

    return make


@pytest.fixture
def shopper(make_shopper: Callable[[], Shopper]) -> Shopper:
    return make_shopper()


@pytest.fixture(scope="session")
def _carts_server() -> Iterator[CartsStandIn]:
    standin = CartsStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def carts(_carts_server: CartsStandIn, settings: Any) -> CartsStandIn:
    """The carts stand-in, empty for each test; checkout reads carts from it."""
    _carts_server.reset()
    settings.CARTS_URL = _carts_server.url
    return _carts_server


@pytest.fixture
def dead_address() -> str:
    """An address nothing listens on: a port the OS just handed out and took back."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def products_down(settings: Any, dead_address: str) -> Iterator[None]:
    """The products gRPC service is unreachable (nothing listens at its address) until the test ends."""
    from shopkit.grpc.products import reset_products_client

    previous = settings.PRODUCTS_GRPC_TARGET
    settings.PRODUCTS_GRPC_TARGET = dead_address.removeprefix("http://")
    reset_products_client()
    yield
    settings.PRODUCTS_GRPC_TARGET = previous
    reset_products_client()


@pytest.fixture
def admin_client(staff_admin_client: Any) -> Any:
    """Signed in through the admin's login page against a users stand-in (shopkit.testing), as staff do."""
    return staff_admin_client
