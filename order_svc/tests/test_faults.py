"""Fault switches of the orders service through its HTTP API: carts unavailable, a slow orders database.

Switched in the session's flags file (shopkit.testing.faults), read by the real flagd in-process provider;
carts is the suite's real HTTP stand-in.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from order_svc.orders.models import Order
from order_svc.tests.carts_standin import CartsStandIn
from shopkit.events.models import OutboxEvent
from shopkit.testing.fake_products import FakeProducts
from shopkit.testing.problems import assert_problem
from shopkit.testing.shoppers import Shopper

pytestmark = pytest.mark.django_db


def test_carts_unavailable_makes_checkout_503_and_stores_nothing(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts, switch_fault: Callable[..., Any]
) -> None:
    # given: a cart carts would serve
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 1, "19.99")])
    switch_fault("carts-unavailable")
    # when
    response = shopper.client.post("/api/orders", headers={"Idempotency-Key": "key-1"})
    # then
    assert_problem(response, 503, "carts-unavailable")
    assert (Order.objects.count(), OutboxEvent.objects.count()) == (0, 0)


def test_carts_back_the_same_checkout_goes_through(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts, switch_fault: Callable[..., Any]
) -> None:
    # given
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 1, "19.99")])
    switch_fault("carts-unavailable")
    assert shopper.client.post("/api/orders", headers={"Idempotency-Key": "key-1"}).status_code == 503
    # when
    switch_fault("carts-unavailable", "false")
    response = shopper.client.post("/api/orders", headers={"Idempotency-Key": "key-1"})
    # then
    assert response.status_code == 201, response.content


def test_orders_db_slow_delays_every_statement_of_a_request(shopper: Shopper, switch_fault: Callable[..., Any]) -> None:
    # given
    shopper.client.get("/api/orders")
    switch_fault("orders-db-slow", "50")
    # when
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = shopper.client.get("/api/orders")
        elapsed = time.perf_counter() - started
    # then: at least 50 ms per statement (a lower bound: sleep never returns early)
    assert response.status_code == 200
    assert len(queries) >= 1
    assert elapsed >= 0.05 * len(queries)
    sys.stdout.write(f"\nGET /api/orders with orders-db-slow 50: {len(queries)} statements, {elapsed * 1000:.0f} ms\n")
