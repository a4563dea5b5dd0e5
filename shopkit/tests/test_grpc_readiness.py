"""shopkit.grpc.readiness: Health/Check on the process's products channel, remembered briefly, one at a time.

Products is the in-memory fake behind a real gRPC server (build_server, mutual TLS) on 127.0.0.1; calls are
counted by the server's own metrics (shop_grpc_server_handled_total), as Prometheus would see them.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2
from prometheus_client import REGISTRY

from shopkit.grpc import readiness
from shopkit.grpc.products import SERVICE_NAME, ProductsServiceUnavailable, reset_products_client
from shopkit.grpc.server import RunningServer, build_server
from shopkit.grpc.tls import server_credentials
from shopkit.testing.fake_products import start_fake_products
from shopkit.testing.grpc_tls import GrpcTestPki

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _health_checks_answered() -> float:
    labels = {"grpc_service": "grpc.health.v1.Health", "grpc_method": "Check", "grpc_code": "OK"}
    return REGISTRY.get_sample_value("shop_grpc_server_handled_total", labels) or 0.0


def _point_at(settings: Any, target: str) -> None:
    settings.PRODUCTS_GRPC_TARGET = target
    reset_products_client()
    readiness.forget()


@pytest.fixture
def as_orders(settings: Any, grpc_pki: GrpcTestPki) -> Iterator[Any]:
    """This process calls products as orders does (its certificate), with a short deadline."""
    grpc_pki.use(settings, "orders")
    settings.PRODUCTS_GRPC_READY_TIMEOUT_SECONDS = 0.5
    yield settings
    readiness.forget()
    reset_products_client()


@pytest.fixture
def products_server(as_orders: Any, grpc_pki: GrpcTestPki) -> Iterator[RunningServer]:
    _fake, running = start_fake_products(grpc_pki.identity("products"))
    _point_at(as_orders, f"127.0.0.1:{running.port}")
    yield running
    running.stop(grace_seconds=0)


def test_a_burst_of_readiness_probes_is_one_health_check(products_server: RunningServer, settings: Any) -> None:
    # given
    settings.PRODUCTS_GRPC_READY_CACHE_SECONDS = 60.0
    before = _health_checks_answered()

    # when: 40 probes, 8 at a time
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: readiness.check_products_grpc(), range(40)))

    # then
    assert outcomes == [None] * 40
    assert _health_checks_answered() - before == 1


def test_without_a_cache_every_probe_asks(products_server: RunningServer, settings: Any) -> None:
    settings.PRODUCTS_GRPC_READY_CACHE_SECONDS = 0.0
    before = _health_checks_answered()

    for _ in range(3):
        readiness.check_products_grpc()

    assert _health_checks_answered() - before == 3


def test_not_serving_is_not_ready_and_the_answer_is_remembered_until_it_expires(
    products_server: RunningServer, settings: Any
) -> None:
    # given: products says NOT_SERVING (as it does while shutting down)
    settings.PRODUCTS_GRPC_READY_CACHE_SECONDS = 60.0
    products_server.health.set(SERVICE_NAME, NOT_SERVING)

    # when / then
    with pytest.raises(ProductsServiceUnavailable, match="NOT_SERVING"):
        readiness.check_products_grpc()

    # a failure is remembered like a success: serving again is seen once the answer is forgotten
    products_server.health.set(SERVICE_NAME, SERVING)
    with pytest.raises(ProductsServiceUnavailable, match="NOT_SERVING"):
        readiness.check_products_grpc()
    readiness.forget()
    readiness.check_products_grpc()


def test_a_listener_that_never_speaks_tls_is_not_ready(as_orders: Any) -> None:
    # given: something accepts connections at products' address but never answers the handshake
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        _point_at(as_orders, f"127.0.0.1:{silent.getsockname()[1]}")

        # when
        started = time.monotonic()
        with pytest.raises(ProductsServiceUnavailable, match="UNAVAILABLE|DEADLINE_EXCEEDED"):
            readiness.check_products_grpc()
        sys.stdout.write(f"\nreadiness against a silent listener failed after {time.monotonic() - started:.2f} s\n")


class _Stall(grpc.ServerInterceptor):  # type: ignore[type-arg]  # generic in the stubs only
    """Holds every Health/Check until released: a server that is up but does not answer in time."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def intercept_service(self, continuation: Any, handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(handler_call_details)
        if handler_call_details.method != "/grpc.health.v1.Health/Check" or handler is None:
            return handler
        answer = handler.unary_unary

        def stalled(request: Any, context: grpc.ServicerContext) -> Any:
            self.release.wait(timeout=30)
            return answer(request, context)

        return grpc.unary_unary_rpc_method_handler(
            stalled,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def test_a_server_that_does_not_answer_within_the_deadline_is_not_ready(as_orders: Any, grpc_pki: GrpcTestPki) -> None:
    # given: a products server whose health service hangs
    stall = _Stall()
    running = build_server(
        register=lambda server: None,
        service_names=[SERVICE_NAME],
        bind="127.0.0.1",
        port=0,
        credentials=server_credentials(grpc_pki.identity("products")),
        callers={},
        max_workers=2,
        django_db=False,
        extra_interceptors=[stall],
    )
    _point_at(as_orders, f"127.0.0.1:{running.port}")
    try:
        # when
        started = time.monotonic()
        with pytest.raises(ProductsServiceUnavailable, match="DEADLINE_EXCEEDED"):
            readiness.check_products_grpc()
        sys.stdout.write(f"\nreadiness against a stalled server failed after {time.monotonic() - started:.2f} s\n")
    finally:
        stall.release.set()
        running.stop(grace_seconds=0)


def test_the_deadline_never_exceeds_two_seconds(settings: Any) -> None:
    settings.PRODUCTS_GRPC_READY_TIMEOUT_SECONDS = 30.0
    assert readiness.deadline_seconds() == 2.0

    settings.PRODUCTS_GRPC_READY_TIMEOUT_SECONDS = 0.5
    assert readiness.deadline_seconds() == 0.5
