"""Fixtures for the gateway: a real HTTP stand-in for the downstream services and a client speaking ASGI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

from gateway_svc import health
from gateway_svc import upstream as upstream_module
from gateway_svc.asgi import application
from gateway_svc.tests.stubs import StubUpstream
from shopkit.testing.tokens import access_token


@pytest.fixture(autouse=True)
def _fresh_gateway(settings: Any) -> Iterator[None]:
    """Generous limits and fresh counters and circuits: each test sets the tighter values it is about."""
    settings.RATE_LIMIT_ENABLED = True
    settings.CIRCUIT_FAIL_MAX = 5
    settings.CIRCUIT_RESET_SECONDS = 30.0
    cache.clear()
    upstream_module.reset_breakers()
    health.forget()
    yield
    upstream_module.reset_breakers()
    health.forget()


@pytest.fixture
def upstream(settings: Any) -> Iterator[StubUpstream]:
    """One stand-in serving all four downstream services' paths (they never overlap)."""
    stub = StubUpstream()
    settings.USERS_URL = settings.PRODUCTS_URL = settings.ORDERS_URL = settings.CARTS_URL = stub.url
    yield stub
    stub.stop()


@dataclass
class Gateway:
    client_address: tuple[str, int] = ("203.0.113.7", 40000)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return async_to_sync(self._request)(method, path, **kwargs)

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=application, client=self.client_address)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, path, **kwargs)
        finally:
            # async_to_sync runs each call on a new event loop; its upstream pool goes with it.
            await upstream_module.close_client()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def customer_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(uuid.uuid4(), email='customer@example.com')}"}


@pytest.fixture
def staff_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(uuid.uuid4(), email='staff@example.com', is_staff=True)}"}
