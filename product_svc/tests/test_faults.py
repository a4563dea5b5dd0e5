"""Fault switches of the products service seen through its real interfaces: HTTP API, gRPC server, catalog cache.

The faults are switched in the session's flags file (shopkit.testing.faults) and read by the real flagd
in-process provider; nothing of OpenFeature is mocked.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from product_svc.catalog.models import Category
from product_svc.tests.factories import ProductFactory
from shopkit import faults
from shopkit.grpc.products import ProductsClient, ProductsServiceUnavailable


def _cache_lookups(result: str) -> float:
    return REGISTRY.get_sample_value("shop_catalog_cache_requests_total", {"result": result}) or 0.0


def test_http_latency_slows_every_api_request(
    api_client: Any, category: Category, switch_fault: Callable[..., Any]
) -> None:
    # given
    product = ProductFactory.create(category=category)
    api_client.get(f"/api/products/{product.id}")
    started = time.perf_counter()
    api_client.get(f"/api/products/{product.id}")
    before = time.perf_counter() - started
    switch_fault("products-http-latency", "300")
    # when
    started = time.perf_counter()
    response = api_client.get(f"/api/products/{product.id}")
    elapsed = time.perf_counter() - started
    # then: at least the added latency (a lower bound: sleep never returns early)
    assert response.status_code == 200
    assert elapsed >= 0.3
    sys.stdout.write(f"\nproducts HTTP: {before * 1000:.0f} ms without the fault, {elapsed * 1000:.0f} ms with 300\n")


def test_http_errors_answer_the_share_of_requests_with_503(
    api_client: Any, category: Category, switch_fault: Callable[..., Any]
) -> None:
    # given
    ProductFactory.create(category=category)
    switch_fault("products-errors", "0.5")
    # when
    statuses = [api_client.get("/api/products").status_code for _ in range(60)]
    # then: some fail, some do not (all 60 alike has a chance of 2 in 10^18)
    assert set(statuses) == {200, 503}
    sys.stdout.write(f"\nproducts-errors 0.5: {statuses.count(503)} of 60 answered 503\n")


def test_an_injected_error_is_a_problem_response(
    api_client: Any, category: Category, switch_fault: Callable[..., Any]
) -> None:
    # given
    switch_fault("products-errors", "1")
    # when
    response = api_client.get("/api/products")
    health = api_client.get("/health/live")
    # then
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "https://shop.example/problems/fault-injected"
    assert health.status_code == 200  # probes are left alone: the process is fine, its answers are not


def test_a_fault_switched_off_has_no_effect(
    api_client: Any, category: Category, switch_fault: Callable[..., Any]
) -> None:
    # given
    switch_fault("products-errors", "1")
    assert api_client.get("/api/products").status_code == 503
    # when
    switch_fault("products-errors", "0")
    # then
    assert [api_client.get("/api/products").status_code for _ in range(10)] == [200] * 10


def test_catalog_cache_off_misses_every_read(
    api_client: Any, category: Category, switch_fault: Callable[..., Any], django_assert_num_queries: Any
) -> None:
    # given: a read the cache holds
    product = ProductFactory.create(category=category)
    api_client.get(f"/api/products/{product.id}")
    switch_fault("catalog-cache-off")
    hits, misses = _cache_lookups("hit"), _cache_lookups("miss")
    # when
    for _ in range(3):
        assert api_client.get(f"/api/products/{product.id}").status_code == 200
    # then: no hit, every read went to the database
    assert _cache_lookups("hit") == hits
    assert _cache_lookups("miss") == misses + 3


@pytest.mark.django_db(transaction=True)
def test_grpc_errors_answer_unavailable(products_grpc: ProductsClient, switch_fault: Callable[..., Any]) -> None:
    # given
    product = ProductFactory.create()
    switch_fault("products-errors", "1")
    # when / then: the client's retries on UNAVAILABLE run out
    with pytest.raises(ProductsServiceUnavailable):
        products_grpc.get_product(product.id)


@pytest.mark.django_db(transaction=True)
def test_grpc_latency_slows_every_call(products_grpc: ProductsClient, switch_fault: Callable[..., Any]) -> None:
    # given
    product = ProductFactory.create()
    switch_fault("products-grpc-latency", "300")
    # when
    started = time.perf_counter()
    info = products_grpc.get_product(product.id)
    elapsed = time.perf_counter() - started
    # then
    assert info.id == product.id
    assert elapsed >= 0.3
    sys.stdout.write(f"\nproducts gRPC GetProduct with 300 ms latency: {elapsed * 1000:.0f} ms\n")


def test_memory_leak_keeps_memory_per_api_request(
    api_client: Any, category: Category, switch_fault: Callable[..., Any]
) -> None:
    # given
    switch_fault("memory-leak", "16")
    before = faults.leaked_bytes()
    # when
    for _ in range(3):
        assert api_client.get("/api/categories").status_code == 200
    api_client.get("/health/live")
    # then: 16 KiB more per API request (probes excepted), held by the process
    assert faults.leaked_bytes() == before + 3 * 16 * 1024
