"""Fixtures of the products service's suite: a clean cache, categories and products, a real gRPC server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connections

from product_svc.catalog.models import Category
from product_svc.catalog.servicer import SERVICE_NAME, register
from product_svc.tests.factories import CategoryFactory
from shopkit.grpc.products import ProductsClient, reset_products_client
from shopkit.grpc.server import RunningServer, build_server, method_callers
from shopkit.grpc.tls import server_credentials
from shopkit.testing.grpc_tls import GrpcTestPki
from shopkit.testing.outbox_contracts import pytest_runtest_call  # noqa: F401 - the hook checking outbox rows


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Each test starts with an empty cache (Redis in the suite, as in the full stack)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def category(db: None) -> Category:
    return CategoryFactory.create(slug="kitchen", name="Kitchen")


@pytest.fixture(scope="module")
def grpc_server(django_db_setup: None, grpc_pki: GrpcTestPki) -> Iterator[RunningServer]:
    """The real products gRPC server on a free port, against the test database: mutual TLS with products'
    test certificate and the service's own per-method authorization (PRODUCTS_GRPC_CALLERS).

    Its worker threads open their own connections; closing them after every call (CONN_MAX_AGE 0)
    keeps the test database free to flush and drop.
    """
    settings_dict: dict[str, Any] = connections["default"].settings_dict
    previous = settings_dict.get("CONN_MAX_AGE", 0)
    settings_dict["CONN_MAX_AGE"] = 0
    running = build_server(
        register=register,
        service_names=[SERVICE_NAME],
        bind="127.0.0.1",
        port=0,
        credentials=server_credentials(grpc_pki.identity("products")),
        callers=method_callers(SERVICE_NAME, django_settings.PRODUCTS_GRPC_CALLERS),
        reflection=django_settings.PRODUCTS_GRPC_REFLECTION,
        max_workers=4,
    )
    yield running
    running.stop(grace_seconds=0)
    settings_dict["CONN_MAX_AGE"] = previous


@pytest.fixture
def products_grpc(
    grpc_server: RunningServer, transactional_db: None, settings: Any, grpc_pki: GrpcTestPki
) -> Iterator[ProductsClient]:
    """The process-wide `shopkit.grpc.products` client, pointed at the real server, calling as orders does
    (the only identity allowed every method)."""
    grpc_pki.use(settings, "orders")
    settings.PRODUCTS_GRPC_TARGET = f"127.0.0.1:{grpc_server.port}"
    settings.GRPC_DEADLINE_SECONDS = 2.0
    reset_products_client()
    from shopkit.grpc.products import products_client

    yield products_client()
    reset_products_client()
