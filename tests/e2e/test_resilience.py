"""Failing dependencies, with the real processes: the shop degrades, answers fast and loses nothing.

These tests stop and restart parts of the running shop, so they run last (pytest collects files in
name order) and each one puts back what it stopped.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from shopkit.testing.polling import poll
from shopkit.testing.problems import assert_problem
from tests.e2e.conftest import Customer, Shop

# Every wait here: the shared poll with this file's deadline (a call may give its own).
_poll = functools.partial(poll, seconds=45.0, interval=0.25)


@pytest.fixture
def fast_api(shop: Shop) -> Iterator[httpx.Client]:
    """A client that gives up after 5 s: a hanging gateway fails the test instead of waiting."""
    with httpx.Client(base_url=shop.base_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def shopper(api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer]) -> Customer:
    """A customer with one confirmed order and one product in the cart."""
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"RES-{uuid.uuid4().hex[:8].upper()}"
    product = api.post(
        "/api/products",
        json={"sku": sku, "name": f"Resilient Kettle {sku}", "price": "30.00", "stock": 50, "category": category},
        headers=staff.auth,
    ).json()
    customer = new_customer()
    first = api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=customer.auth)
    assert first.status_code == 200, first.text
    order = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert order.status_code == 201, order.text
    _poll(lambda: api.get("/api/cart", headers=customer.auth).json()["lines"], lambda lines: lines == [])
    added = api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 2}, headers=customer.auth)
    assert added.status_code == 200, added.text
    customer.product_id = product["id"]  # type: ignore[attr-defined]
    return customer


def test_products_down_fails_product_routes_fast_but_carts_and_orders_still_read(
    shop: Shop, fast_api: httpx.Client, shopper: Customer
) -> None:
    # given
    product_id = shopper.product_id  # type: ignore[attr-defined]
    shop.stack.stop_process("products")
    shop.stack.stop_process("products-grpc")
    try:
        # when / then: product routes answer a problem at once, never hang
        assert_problem(fast_api.get(f"/api/products/{product_id}"), 503)
        assert_problem(fast_api.get("/api/products"), 503)
        cart = fast_api.get("/api/cart", headers=shopper.auth)
        orders = fast_api.get("/api/orders", headers=shopper.auth)
        assert cart.status_code == 200, cart.text
        assert [line["product_id"] for line in cart.json()["lines"]] == [product_id]
        assert orders.status_code == 200, orders.text
        assert orders.json()["count"] == 1
    finally:
        shop.stack.restart_process("products")
        shop.stack.restart_process("products-grpc")
        shop.stack.wait_healthy(timeout=60)
    assert fast_api.get(f"/api/products/{product_id}").status_code == 200
    # carts' gRPC channel reconnects on its own (bounded backoff): cart changes work again within seconds
    _poll(
        lambda: (
            fast_api.post(
                "/api/cart/items", json={"product_id": product_id, "quantity": 1}, headers=shopper.auth
            ).status_code
        ),
        lambda status: status == 200,
        seconds=30,
    )


def test_kafka_down_checkout_still_works_and_events_arrive_when_it_returns(
    shop: Shop, api: httpx.Client, shopper: Customer
) -> None:
    # given: the broker is down
    shop.stack.stop_process("kafka")
    try:
        # when: the customer checks out
        order = api.post("/api/orders", headers={**shopper.auth, "Idempotency-Key": str(uuid.uuid4())})

        # then: the order is confirmed; the cart waits for the event
        assert order.status_code == 201, order.text
        assert order.json()["status"] == "confirmed"
        assert api.get("/api/cart", headers=shopper.auth).json()["lines"] != []
    finally:
        shop.stack.restart_process("kafka")
        shop.stack.wait_healthy(timeout=60)
    # the outbox delivers the event once the broker is back: the cart empties
    _poll(lambda: api.get("/api/cart", headers=shopper.auth).json()["lines"], lambda lines: lines == [], seconds=90)


def test_redis_down_reads_fall_back_to_the_database_without_errors(
    shop: Shop, fast_api: httpx.Client, shopper: Customer
) -> None:
    # given
    shop.redis.stop()
    try:
        # when
        products = fast_api.get("/api/products", params={"page_size": 5})
        detail = fast_api.get(f"/api/products/{shopper.product_id}")  # type: ignore[attr-defined]
        login = fast_api.post("/api/auth/login", json={"email": shopper.email, "password": shopper.password})
        cart = fast_api.get("/api/cart", headers=shopper.auth)

        # then
        assert products.status_code == 200, products.text
        assert detail.status_code == 200, detail.text
        assert login.status_code == 200, login.text
        assert cart.status_code == 200, cart.text
    finally:
        shop.redis.start()


def test_one_database_down_fails_only_that_service(shop: Shop, fast_api: httpx.Client, shopper: Customer) -> None:
    # given: the orders database is unreachable
    shop.orders_db.cut()
    try:
        # when / then: order routes are a 503 problem; the rest of the shop serves
        assert_problem(fast_api.get("/api/orders", headers=shopper.auth), 503)
        assert fast_api.get("/api/products", params={"page_size": 3}).status_code == 200
        assert fast_api.get("/api/cart", headers=shopper.auth).status_code == 200
        assert fast_api.get("/api/users/me", headers=shopper.auth).status_code == 200
    finally:
        shop.orders_db.restore()
    _poll(lambda: fast_api.get("/api/orders", headers=shopper.auth).status_code, lambda status: status == 200)
