"""Catalog reads are cached in Redis under a version key that every change bumps."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache, caches

from product_svc.catalog import services
from product_svc.catalog.cache import VERSION_KEY
from product_svc.catalog.errors import InsufficientStock
from product_svc.catalog.models import Category, Product
from product_svc.tests.factories import ProductFactory


def test_cache_is_redis_in_the_suite() -> None:
    assert "redis" in type(caches["default"]).__module__


def test_a_second_read_is_served_from_the_cache(
    api_client: Any, category: Category, django_assert_num_queries: Any
) -> None:
    # given
    product = ProductFactory.create(category=category)
    api_client.get(f"/api/products/{product.id}")
    api_client.get("/api/products", {"page_size": 5})
    api_client.get("/api/categories")

    # when / then: no database work at all
    with django_assert_num_queries(0):
        detail = api_client.get(f"/api/products/{product.id}")
        listed = api_client.get("/api/products", {"page_size": 5})
        categories = api_client.get("/api/categories")
    assert detail.json()["id"] == str(product.id)
    assert listed.json()["count"] == 1
    assert categories.json()["count"] == 1


def test_a_change_through_the_api_is_visible_at_once(
    api_client: Any, staff_client: Any, category: Category, django_capture_on_commit_callbacks: Any
) -> None:
    # given: detail and list are cached
    product = ProductFactory.create(price=Decimal("10.00"), stock=4, category=category)
    assert api_client.get(f"/api/products/{product.id}").json()["price"] == "10.00"
    assert api_client.get("/api/products").json()["items"][0]["stock"] == 4

    # when
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"/api/products/{product.id}", {"price": "7.00", "stock_on_hand": 11}, format="json")

    # then
    shown = api_client.get(f"/api/products/{product.id}").json()
    assert (shown["price"], shown["stock"]) == ("7.00", 11)
    assert api_client.get("/api/products").json()["items"][0]["stock"] == 11


def test_a_reservation_invalidates_cached_stock(
    api_client: Any, category: Category, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    product = ProductFactory.create(stock=4, category=category)
    assert api_client.get(f"/api/products/{product.id}").json()["stock"] == 4

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_reserve(order_id=uuid.uuid4(), lines=[(product.id, 3)])

    # then
    assert api_client.get(f"/api/products/{product.id}").json()["stock"] == 1


def test_a_new_product_appears_in_a_cached_list(
    api_client: Any, staff_client: Any, category: Category, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    assert api_client.get("/api/products").json()["count"] == 0

    # when
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/api/products",
            {"sku": "NEW-1", "name": "New", "price": "1.00", "stock": 1, "category": "kitchen"},
            format="json",
        )

    # then
    assert api_client.get("/api/products").json()["count"] == 1


def test_a_rolled_back_change_does_not_invalidate(category: Category, django_capture_on_commit_callbacks: Any) -> None:
    # given
    product = ProductFactory.create(stock=1, category=category)
    cache.set(VERSION_KEY, 5, timeout=None)

    # when: the reservation fails, so its transaction never commits
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(InsufficientStock):
            services.stock_reserve(order_id=uuid.uuid4(), lines=[(product.id, 2)])

    # then
    assert callbacks == []
    assert cache.get(VERSION_KEY) == 5
    assert Product.objects.get(id=product.id).stock == 1


def test_staff_and_customers_have_separate_cache_entries(
    api_client: Any, staff_client: Any, category: Category
) -> None:
    # given: a customer's read of an inactive product is cached as a 404-free empty list
    ProductFactory.create(name="Hidden", active=False, category=category)
    assert api_client.get("/api/products").json()["count"] == 0

    # when
    staff_view = staff_client.get("/api/products")

    # then
    assert staff_view.json()["count"] == 1


def test_a_reused_version_shows_another_process_change_after_the_window_and_its_own_at_once(
    api_client: Any, category: Category, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the embedded setting (a process may reuse the version it read for a moment)
    import time

    from product_svc.catalog import cache as catalog_cache

    settings.CATALOG_VERSION_REUSE_SECONDS = 0.3
    catalog_cache._seen["until"] = 0.0
    product = ProductFactory.create(stock=5, category=category)
    assert api_client.get(f"/api/products/{product.id}").json()["stock"] == 5

    # when: another process (the gRPC server) allocates a unit and bumps the version
    Product.objects.filter(id=product.id).update(stock_allocated=1)
    cache.incr(VERSION_KEY)

    # then: this process may answer from its reused version until the window ends, then sees it
    deadline = time.monotonic() + 5
    while api_client.get(f"/api/products/{product.id}").json()["stock"] != 4:
        assert time.monotonic() < deadline, "the change never showed"
        time.sleep(0.05)

    # and its own change shows at once
    with django_capture_on_commit_callbacks(execute=True):
        services.product_update(product_id=product.id, stock_on_hand=3)
    assert api_client.get(f"/api/products/{product.id}").json()["stock"] == 2
