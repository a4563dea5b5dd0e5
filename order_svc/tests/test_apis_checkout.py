"""POST /api/orders end to end inside the service: reservation, pricing, idempotency, refusals, outages.

Products is `shopkit.testing.fake_products`: a real gRPC server in this process with in-memory
products, reached through the real client. Carts is a real HTTP stand-in
(order_svc.tests.carts_standin); the end-to-end suite runs the real services.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from order_svc.orders.models import Order, OrderLine, OrderStatus
from order_svc.tests.carts_standin import CartsStandIn
from shopkit.events.models import OutboxEvent
from shopkit.grpc.products import reset_products_client
from shopkit.testing.fake_products import FakeProducts
from shopkit.testing.problems import assert_problem
from shopkit.testing.shoppers import Shopper

pytestmark = pytest.mark.django_db


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _point_products_at(settings: Any, target: str) -> None:
    settings.PRODUCTS_GRPC_TARGET = target
    reset_products_client()


def _checkout(shopper: Shopper, key: str = "checkout-1") -> Any:
    return shopper.client.post("/api/orders", headers={"Idempotency-Key": key})


def test_checkout_places_order_priced_by_products_and_reserves_stock(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given: the cart shows stale prices; products knows the real ones
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    mug = fake_products.add_product(name="Mug", price="4.25", stock=3).id
    carts.put_cart(shopper.token, [(str(lamp), "Old Lamp", 2, "15.00"), (str(mug), "Old Mug", 1, "1.00")])
    created_before = _metric("shop_orders_created_total")
    value_before = _metric("shop_order_value_total", currency="USD")

    # when
    response = _checkout(shopper)

    # then: the answer
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == str(order.id)
    assert body["status"] == "confirmed"
    assert body["lines"] == [
        {"product_id": str(lamp), "name": "Desk Lamp", "quantity": 2, "unit_price": "19.99", "line_total": "39.98"},
        {"product_id": str(mug), "name": "Mug", "quantity": 1, "unit_price": "4.25", "line_total": "4.25"},
    ]
    assert (body["total"], body["currency"]) == ("44.23", "USD")
    assert [(h["status"], h["note"]) for h in body["history"]] == [
        ("pending", "checkout started"),
        ("confirmed", "stock reserved"),
    ]
    # the stored rows
    assert (order.user_id, order.idempotency_key, order.total) == (shopper.user_id, "checkout-1", Decimal("44.23"))
    assert list(order.lines.values_list("product_id", "quantity", "unit_price")) == [
        (lamp, 2, Decimal("19.99")),
        (mug, 1, Decimal("4.25")),
    ]
    # the stock, the cart read with the caller's own token
    assert (fake_products.stock(lamp), fake_products.stock(mug)) == (3, 2)
    assert [(r["path"], r["authorization"]) for r in carts.requests] == [("/api/cart", shopper.authorization)]
    # the event in the outbox (one: `shop.order.created.v1` is retired, nothing consumed it)
    events = list(OutboxEvent.objects.order_by("created_at"))
    data = {
        "order_id": str(order.id),
        "user_id": str(shopper.user_id),
        "lines": [
            {"product_id": str(lamp), "quantity": 2, "unit_price": "19.99"},
            {"product_id": str(mug), "quantity": 1, "unit_price": "4.25"},
        ],
        "total": "44.23",
        "currency": "USD",
    }
    assert [(e.event_type, e.topic, e.key, e.payload["subject"], e.payload["data"]) for e in events] == [
        ("shop.order.confirmed.v1", "shop.orders", str(order.id), str(order.id), data),
    ]
    assert events[0].payload["source"] == "/shop/orders"
    # the metrics
    assert _metric("shop_orders_created_total") == created_before + 1
    assert _metric("shop_order_value_total", currency="USD") == pytest.approx(value_before + 44.23)


def test_checkout_with_same_key_twice_returns_the_same_order_once(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 2, "19.99")])

    # when
    first = _checkout(shopper, "same-key")
    second = _checkout(shopper, "same-key")

    # then
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Order.objects.count() == 1
    assert fake_products.stock(lamp) == 3
    assert OutboxEvent.objects.count() == 1
    assert len(carts.requests) == 1


def test_same_key_of_another_customer_is_another_order(
    shopper: Shopper, make_shopper: Callable[[], Shopper], carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given
    other = make_shopper()
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 1, "19.99")])
    carts.put_cart(other.token, [(str(lamp), "Desk Lamp", 1, "19.99")])

    # when
    mine, theirs = _checkout(shopper, "shared-key"), _checkout(other, "shared-key")

    # then
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert fake_products.stock(lamp) == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_with_one_key_place_one_order(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given: carts holds both requests until both have passed the replay lookup, so both insert
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 2, "19.99")])
    carts.barrier = threading.Barrier(2)
    responses: list[Any] = []

    def checkout() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=shopper.authorization)
        try:
            responses.append(client.post("/api/orders", headers={"Idempotency-Key": "raced"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=checkout) for _ in range(2)]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then
    assert sorted(r.status_code for r in responses) == [200, 201]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert Order.objects.count() == 1
    assert Order.objects.get().status == OrderStatus.CONFIRMED
    assert fake_products.stock(lamp) == 3
    assert OutboxEvent.objects.count() == 1
    assert len(carts.requests) == 2


def test_checkout_with_insufficient_stock_is_409_naming_the_product_and_fails_the_order(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    mug = fake_products.add_product(name="Mug", price="4.25", stock=1).id
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 1, "19.99"), (str(mug), "Mug", 2, "4.25")])
    before = _metric("shop_checkout_failures_total", reason="insufficient_stock")

    # when
    response = _checkout(shopper, "short")
    replay = _checkout(shopper, "short")

    # then: the problem names the product; a replay of the key answers the same
    body = assert_problem(response, 409, "insufficient-stock")
    order = Order.objects.get()
    assert (body["product_id"], body["available"], body["order_id"]) == (str(mug), 1, str(order.id))
    assert assert_problem(replay, 409, "insufficient-stock") == {**body, "trace_id": replay.json()["trace_id"]}
    # nothing half done: order failed with its reason, no lines, no events, stock untouched
    assert (order.status, order.failure_reason, order.failure_product_id) == ("failed", "insufficient_stock", mug)
    assert list(order.history.values_list("status", flat=True)) == ["pending", "failed"]
    assert OrderLine.objects.count() == 0
    assert OutboxEvent.objects.count() == 0
    assert (fake_products.stock(lamp), fake_products.stock(mug)) == (5, 1)
    assert _metric("shop_checkout_failures_total", reason="insufficient_stock") == before + 1


def test_checkout_whose_total_exceeds_what_money_fields_hold_is_422_and_holds_nothing(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given: two lines of the dearest price products allow, 99 each: about 2e10, past 12 digits
    dear = [fake_products.add_product(price="99999999.99", stock=200).id for _ in range(2)]
    carts.put_cart(shopper.token, [(str(product), "Gold", 99, "99999999.99") for product in dear])

    # when
    response = _checkout(shopper)
    replay = _checkout(shopper)

    # then: a clear problem, the order failed and stored no lines, every unit back on sale
    body = assert_problem(response, 422, "order-total-too-large")
    assert body["max_total"] == "9999999999.99"
    assert assert_problem(replay, 422, "order-total-too-large")["order_id"] == body["order_id"]
    order = Order.objects.get()
    assert (order.status, order.failure_reason, order.lines.count()) == (OrderStatus.FAILED, "total_too_large", 0)
    assert [fake_products.stock(product) for product in dear] == [200, 200]
    assert not fake_products.is_held(order.id)
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize(
    ("setup", "code", "reason"),
    [
        ("inactive", "product-unavailable", "product_unavailable"),
        ("unknown", "product-not-found", "product_not_found"),
    ],
)
def test_checkout_of_an_inactive_or_unknown_product_is_409_naming_it(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts, setup: str, code: str, reason: str
) -> None:
    # given
    product = (
        fake_products.add_product(name="Gone", price="1.00", stock=5, active=False).id
        if setup == "inactive"
        else uuid.uuid4()
    )
    carts.put_cart(shopper.token, [(str(product), "Gone", 1, "1.00")])
    before = _metric("shop_checkout_failures_total", reason=reason)

    # when
    response = _checkout(shopper)

    # then
    body = assert_problem(response, 409, code)
    assert body["product_id"] == str(product)
    assert Order.objects.get().failure_reason == reason
    assert OutboxEvent.objects.count() == 0
    assert _metric("shop_checkout_failures_total", reason=reason) == before + 1


def test_checkout_when_products_is_down_is_503_and_the_same_key_completes_it_later(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts, settings: Any, dead_address: str
) -> None:
    # given: products is unreachable
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 2, "19.99")])
    _point_products_at(settings, dead_address.removeprefix("http://"))

    # when
    down = _checkout(shopper, "retry-me")

    # then: 503 and the order waits, pending, with nothing reserved and no events
    body = assert_problem(down, 503, "products-unavailable")
    order = Order.objects.get()
    assert (body["order_id"], order.status) == (str(order.id), OrderStatus.PENDING)
    assert OutboxEvent.objects.count() == 0
    assert fake_products.stock(lamp) == 5

    # when: products is back, the cart has changed meanwhile, and the customer retries the key
    _point_products_at(settings, fake_products.target)
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 5, "19.99")])
    retried = _checkout(shopper, "retry-me")

    # then: the same order completes with the lines of the first attempt
    assert retried.status_code == 201, retried.content
    assert retried.json()["id"] == str(order.id)
    assert retried.json()["status"] == "confirmed"
    assert [line["quantity"] for line in retried.json()["lines"]] == [2]
    assert fake_products.stock(lamp) == 3
    assert OutboxEvent.objects.count() == 1
    assert len(carts.requests) == 1


def test_checkout_query_count(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts, django_assert_max_num_queries: Any
) -> None:
    # given
    lines = [
        (str(fake_products.add_product(name=f"P{i}", price="1.00", stock=9).id), f"P{i}", 1, "1.00") for i in range(5)
    ]
    carts.put_cart(shopper.token, lines)

    # when: lookup; pending order + history; lock, lines (one insert), order, history, two events;
    # lines and history for the answer; 4 transaction statements. As many for 1 line as for 50.
    with django_assert_max_num_queries(15):
        response = _checkout(shopper)

    # then
    assert response.status_code == 201
