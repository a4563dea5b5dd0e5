"""POST /api/orders/{id}/cancel: own confirmed orders only, stock back over gRPC, one event, idempotent.

Products is `shopkit.testing.fake_products` (a real in-process gRPC server with in-memory
products); carts is a real HTTP stand-in (order_svc.tests.carts_standin).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from order_svc.orders.models import Order, OrderStatus
from order_svc.tests.carts_standin import CartsStandIn
from order_svc.tests.factories import OrderFactory
from shopkit.events.models import OutboxEvent
from shopkit.grpc.products import reset_products_client
from shopkit.testing.fake_products import FakeProducts
from shopkit.testing.problems import assert_problem
from shopkit.testing.shoppers import Shopper

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed(shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts) -> tuple[Order, uuid.UUID]:
    """A confirmed order of `shopper` for 2 of a product (5 in stock before, 3 after)."""
    lamp = fake_products.add_product(name="Desk Lamp", price="19.99", stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Desk Lamp", 2, "19.99")])
    response = shopper.client.post("/api/orders", headers={"Idempotency-Key": "to-cancel"})
    assert response.status_code == 201, response.content
    assert fake_products.stock(lamp) == 3
    return Order.objects.get(id=response.json()["id"]), lamp


def _cancelled_events() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(event_type="shop.order.cancelled.v1"))


def test_cancel_gives_the_stock_back_and_writes_the_event(
    shopper: Shopper, placed: tuple[Order, uuid.UUID], fake_products: FakeProducts
) -> None:
    # given
    order, lamp = placed
    before = REGISTRY.get_sample_value("shop_orders_cancelled_total") or 0.0

    # when
    response = shopper.client.post(f"/api/orders/{order.id}/cancel")

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"]) == (str(order.id), "cancelled")
    assert [(h["status"], h["note"]) for h in body["history"]][-1] == ("cancelled", "cancelled: customer_request")
    assert Order.objects.get(id=order.id).status == OrderStatus.CANCELLED
    assert fake_products.stock(lamp) == 5
    assert not fake_products.is_held(order.id)
    [event] = _cancelled_events()
    assert (event.topic, event.key, event.payload["subject"]) == ("shop.orders", str(order.id), str(order.id))
    assert event.payload["data"] == {
        "order_id": str(order.id),
        "user_id": str(shopper.user_id),
        "reason": "customer_request",
        "stock_released": False,
    }
    assert REGISTRY.get_sample_value("shop_orders_cancelled_total") == before + 1


def test_cancelling_twice_answers_the_same_order_with_one_event(
    shopper: Shopper, placed: tuple[Order, uuid.UUID], fake_products: FakeProducts
) -> None:
    # given
    order, lamp = placed

    # when
    first = shopper.client.post(f"/api/orders/{order.id}/cancel")
    second = shopper.client.post(f"/api/orders/{order.id}/cancel")

    # then
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()
    assert len(_cancelled_events()) == 1
    assert fake_products.stock(lamp) == 5


def test_cancel_while_products_is_down_still_cancels_and_leaves_release_to_the_event(
    shopper: Shopper, placed: tuple[Order, uuid.UUID], fake_products: FakeProducts, settings: Any, dead_address: str
) -> None:
    # given
    order, lamp = placed
    settings.PRODUCTS_GRPC_TARGET = dead_address.removeprefix("http://")
    reset_products_client()

    # when
    response = shopper.client.post(f"/api/orders/{order.id}/cancel")

    # then: cancelled; products' consumer releases the still held stock on the event
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert fake_products.is_held(order.id)
    assert fake_products.stock(lamp) == 3
    [event] = _cancelled_events()
    assert event.payload["data"]["stock_released"] is False


def test_cancelling_another_customers_order_is_not_found(
    placed: tuple[Order, uuid.UUID], make_shopper: Callable[[], Shopper], fake_products: FakeProducts
) -> None:
    # given
    order, lamp = placed

    # when
    response = make_shopper().client.post(f"/api/orders/{order.id}/cancel")

    # then
    assert_problem(response, 404, "order-not-found")
    assert Order.objects.get(id=order.id).status == OrderStatus.CONFIRMED
    assert _cancelled_events() == []
    assert fake_products.stock(lamp) == 3


@pytest.mark.parametrize("order_id", [str(uuid.uuid4()), "nope"])
def test_cancelling_an_unknown_or_malformed_order_is_not_found(shopper: Shopper, order_id: str) -> None:
    # when
    response = shopper.client.post(f"/api/orders/{order_id}/cancel")

    # then
    assert_problem(response, 404)


@pytest.mark.parametrize(
    ("status", "failure_reason"), [(OrderStatus.PENDING, ""), (OrderStatus.FAILED, "insufficient_stock")]
)
def test_pending_and_failed_orders_are_not_cancellable(shopper: Shopper, status: str, failure_reason: str) -> None:
    # given
    order = OrderFactory.create(user_id=shopper.user_id, status=status, failure_reason=failure_reason)

    # when
    response = shopper.client.post(f"/api/orders/{order.id}/cancel")

    # then
    body = assert_problem(response, 409, "order-not-cancellable")
    assert body["order_status"] == status
    assert Order.objects.get(id=order.id).status == status
    assert OutboxEvent.objects.count() == 0
