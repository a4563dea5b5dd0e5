"""The readiness tests of every service that calls products over gRPC (orders, carts): ready only when
products' gRPC server answers on the service's own channel (mutual TLS, the service's identity).

A service's suite runs them with `from shopkit.testing.products_readiness import *`; they need its
`grpc_pki` and `products_down` fixtures. Products here is the in-memory fake behind a real gRPC server
(build_server: the real service's TLS, authorization and health service) on 127.0.0.1; the readiness
check calls it over a real channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings

from shopkit.grpc import readiness
from shopkit.grpc.products import reset_products_client
from shopkit.grpc.server import RunningServer
from shopkit.grpc.tls import TlsFiles
from shopkit.testing.fake_products import start_fake_products
from shopkit.testing.grpc_tls import GrpcTestPki
from shopkit.testing.problems import assert_problem

pytestmark = pytest.mark.django_db

__all__ = [
    "pytestmark",
    "_fresh_readiness",
    "serve_products",
    "test_ready_when_products_grpc_answers_serving",
    "test_not_ready_once_products_grpc_stops",
    "test_not_ready_when_nothing_listens_at_products_address",
    "test_not_ready_when_products_presents_a_certificate_of_another_ca",
]


@pytest.fixture(autouse=True)
def _fresh_readiness() -> Iterator[None]:
    readiness.forget()
    yield
    readiness.forget()
    reset_products_client()


@pytest.fixture
def serve_products(settings: Any) -> Iterator[Any]:
    """Start a products gRPC server presenting `tls` and point this service at it; stopped at the end."""
    started: list[RunningServer] = []

    def serve(tls: TlsFiles) -> RunningServer:
        _fake, running = start_fake_products(tls)
        started.append(running)
        settings.PRODUCTS_GRPC_TARGET = f"127.0.0.1:{running.port}"
        reset_products_client()
        return running

    yield serve
    for running in started:
        running.stop(grace_seconds=0)


def test_ready_when_products_grpc_answers_serving(client: Any, serve_products: Any, grpc_pki: GrpcTestPki) -> None:
    # given
    serve_products(grpc_pki.identity("products"))

    # when
    response = client.get("/health/ready")

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "service": django_settings.SERVICE_NAME,
        "checks": {"database": "ok", "cache": "ok", "products_grpc": "ok"},
    }


def test_not_ready_once_products_grpc_stops(client: Any, serve_products: Any, grpc_pki: GrpcTestPki) -> None:
    # given: ready, then products' gRPC server goes away
    running = serve_products(grpc_pki.identity("products"))
    assert client.get("/health/ready").status_code == 200
    running.stop(grace_seconds=0)
    readiness.forget()

    # when
    response = client.get("/health/ready")

    # then
    body = assert_problem(response, 503)
    assert body["service"] == django_settings.SERVICE_NAME
    assert body["checks"] == {"database": "ok", "cache": "ok", "products_grpc": "error: ProductsServiceUnavailable"}


def test_not_ready_when_nothing_listens_at_products_address(client: Any, products_down: None) -> None:
    response = client.get("/health/ready")

    body = assert_problem(response, 503)
    assert body["checks"]["products_grpc"] == "error: ProductsServiceUnavailable"
    assert body["checks"]["database"] == "ok"


def test_not_ready_when_products_presents_a_certificate_of_another_ca(
    client: Any, serve_products: Any, grpc_pki: GrpcTestPki
) -> None:
    # given: a server named products, but signed by a CA this service does not trust
    serve_products(grpc_pki.foreign("products"))

    # when
    response = client.get("/health/ready")

    # then
    body = assert_problem(response, 503)
    assert body["checks"]["products_grpc"] == "error: ProductsServiceUnavailable"
