"""Fixtures of the carts suite: customers with their own tokens, and products (fake or down).

Products is the in-memory `fake_products` of shopkit: a real gRPC server on a local port.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from shopkit.grpc.products import reset_products_client
from shopkit.testing.outbox_contracts import pytest_runtest_call  # noqa: F401 - the hook checking outbox rows
from shopkit.testing.tokens import access_token


@dataclass(frozen=True)
class Shopper:
    user_id: uuid.UUID
    client: APIClient


@pytest.fixture
def make_shopper() -> Callable[[], Shopper]:
    def make() -> Shopper:
        user_id = uuid.uuid4()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user_id, email=f'{user_id.hex[:8]}@example.com')}")
        return Shopper(user_id=user_id, client=client)

    return make


@pytest.fixture
def shopper(make_shopper: Callable[[], Shopper]) -> Shopper:
    return make_shopper()


@pytest.fixture
def products_down(settings: Any) -> Iterator[None]:
    """Nothing listens at products' address (a port the OS just handed out and took back) until the test ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.PRODUCTS_GRPC_TARGET = f"127.0.0.1:{port}"
    # Refused connections fail at once; the deadline only bounds the client's retries.
    settings.GRPC_DEADLINE_SECONDS = 1.0
    reset_products_client()
    yield
    reset_products_client()
