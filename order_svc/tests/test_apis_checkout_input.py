"""POST /api/orders before any stock moves: the Idempotency-Key header, empty carts and carts outages.

Carts is a real HTTP stand-in here (order_svc.tests.carts_standin); the end-to-end suite runs
the real carts service.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from order_svc.orders.models import Order
from order_svc.tests.carts_standin import CartsStandIn
from shopkit.events.models import OutboxEvent
from shopkit.testing.problems import assert_problem
from shopkit.testing.shoppers import Shopper

pytestmark = pytest.mark.django_db

PRODUCT = "6a1f8d7e-0c2b-4e8a-9f3d-1b2c3d4e5f60"


def _failures(reason: str) -> float:
    return REGISTRY.get_sample_value("shop_checkout_failures_total", {"reason": reason}) or 0.0


def test_checkout_without_idempotency_key_is_400_and_reads_no_cart(shopper: Shopper, carts: CartsStandIn) -> None:
    # given
    carts.put_cart(shopper.token, [(PRODUCT, "Lamp", 1, "10.00")])

    # when
    response = shopper.client.post("/api/orders")

    # then
    body = assert_problem(response, 400, "idempotency-key-required")
    assert body["errors"] == {"Idempotency-Key": ["This header is required."]}
    assert carts.requests == []
    assert Order.objects.count() == 0


@pytest.mark.parametrize("key", ["", "k" * 65, "two words", "tab\tkey", "caf\u00e9"])
def test_checkout_with_malformed_idempotency_key_is_400(shopper: Shopper, carts: CartsStandIn, key: str) -> None:
    # given
    carts.put_cart(shopper.token, [(PRODUCT, "Lamp", 1, "10.00")])

    # when
    response = shopper.client.post("/api/orders", headers={"Idempotency-Key": key})

    # then
    body = assert_problem(response, 400, "invalid-idempotency-key")
    assert list(body["errors"]) == ["Idempotency-Key"]
    assert carts.requests == []
    assert Order.objects.count() == 0


def test_checkout_of_empty_cart_is_422_and_stores_nothing(shopper: Shopper, carts: CartsStandIn) -> None:
    # given: carts answers an empty cart for this customer
    before = _failures("empty_cart")

    # when
    response = shopper.client.post("/api/orders", headers={"Idempotency-Key": "k" * 64})

    # then
    assert_problem(response, 422, "empty-cart")
    assert [r["authorization"] for r in carts.requests] == [shopper.authorization]
    assert (Order.objects.count(), OutboxEvent.objects.count()) == (0, 0)
    assert _failures("empty_cart") == before + 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, None),
        (500, None),
        (401, None),
        (200, b"not json"),
        (200, b'{"lines": "nope"}'),
        (200, b'{"lines": [{"product_id": "x", "quantity": 1}]}'),
        (200, b'{"lines": [{"product_id": "6a1f8d7e-0c2b-4e8a-9f3d-1b2c3d4e5f60", "quantity": 0}]}'),
        (200, b'{"lines": [{"product_id": "6a1f8d7e-0c2b-4e8a-9f3d-1b2c3d4e5f60", "quantity": true}]}'),
    ],
)
def test_checkout_when_carts_fails_or_answers_nonsense_is_503_and_stores_nothing(
    shopper: Shopper, carts: CartsStandIn, status: int, body: bytes | None
) -> None:
    # given
    carts.forced_status, carts.forced_body = status, body
    before = _failures("carts_unavailable")

    # when
    response = shopper.client.post("/api/orders", headers={"Idempotency-Key": "key-1"})

    # then
    assert_problem(response, 503, "carts-unavailable")
    assert (Order.objects.count(), OutboxEvent.objects.count()) == (0, 0)
    assert _failures("carts_unavailable") == before + 1


def test_checkout_when_carts_is_down_is_503_and_stores_nothing(
    shopper: Shopper, settings: Any, dead_address: str
) -> None:
    # given: nothing listens at the carts address
    settings.CARTS_URL = dead_address

    # when
    response = shopper.client.post("/api/orders", headers={"Idempotency-Key": "key-1"})

    # then
    assert_problem(response, 503, "carts-unavailable")
    assert Order.objects.count() == 0


def test_checkout_of_a_cart_with_too_many_products_is_422(shopper: Shopper, carts: CartsStandIn) -> None:
    # given
    carts.put_cart(shopper.token, [(f"00000000-0000-4000-8000-{i:012d}", f"P{i}", 1, "1.00") for i in range(101)])

    # when
    response = shopper.client.post("/api/orders", headers={"Idempotency-Key": "key-1"})

    # then
    body = assert_problem(response, 422, "cart-too-large")
    assert body["max_lines"] == 100
    assert Order.objects.count() == 0
