"""Checkout paths the API tests do not reach: mixed currencies and checkouts left pending (expiry).

Products is `shopkit.testing.fake_products` (a real in-process gRPC server with in-memory
products); carts is a real HTTP stand-in (order_svc.tests.carts_standin).
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from order_svc.orders.errors import CheckoutFailed
from order_svc.orders.models import Order, OrderStatus
from order_svc.orders.services import order_checkout, order_expire_pending
from order_svc.tests.carts_standin import CartsStandIn
from order_svc.tests.factories import OrderFactory
from shopkit.events.models import OutboxEvent
from shopkit.grpc.products import products_client, reset_products_client
from shopkit.testing.fake_products import FakeProducts
from shopkit.testing.shoppers import Shopper

pytestmark = pytest.mark.django_db


def _pending_order(*, product_id: uuid.UUID, quantity: int, age: dt.timedelta, reserved: bool) -> Order:
    """A checkout left pending `age` ago (a crash or a lost answer), its stock held or not."""
    order = OrderFactory.create(
        status=OrderStatus.PENDING,
        created_at=timezone.now() - age,
        requested_lines=[{"product_id": str(product_id), "quantity": quantity}],
    )
    if reserved:
        products_client().reserve_stock(order.id, [(product_id, quantity)])
    return order


def test_checkout_of_products_in_different_currencies_fails_and_gives_the_stock_back(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given
    dollars = fake_products.add_product(price="5.00", stock=4, currency="USD").id
    euros = fake_products.add_product(price="5.00", stock=4, currency="EUR").id
    carts.put_cart(shopper.token, [(str(dollars), "A", 1, "5.00"), (str(euros), "B", 1, "5.00")])

    # when
    with pytest.raises(CheckoutFailed) as failed:
        order_checkout(user_id=shopper.user_id, idempotency_key="k", authorization=shopper.authorization)

    # then
    assert failed.value.code == "mixed-currencies"
    order = Order.objects.get()
    assert (order.status, order.failure_reason) == (OrderStatus.FAILED, "mixed_currencies")
    assert (fake_products.stock(dollars), fake_products.stock(euros)) == (4, 4)
    assert not fake_products.is_held(order.id)


def test_expiry_releases_stale_pending_checkouts_and_fails_them(
    shopper: Shopper, fake_products: FakeProducts, carts: CartsStandIn
) -> None:
    # given: one stale checkout holding stock, one that never reserved, one still young
    lamp = fake_products.add_product(stock=10).id
    stale = _pending_order(product_id=lamp, quantity=3, age=dt.timedelta(hours=1), reserved=True)
    never_reserved = _pending_order(product_id=lamp, quantity=1, age=dt.timedelta(hours=1), reserved=False)
    young = _pending_order(product_id=lamp, quantity=2, age=dt.timedelta(seconds=5), reserved=True)
    assert fake_products.stock(lamp) == 5

    # when
    expired = order_expire_pending(older_than=dt.timedelta(minutes=15))

    # then
    assert expired == 2
    assert fake_products.stock(lamp) == 8
    assert {o.id: (o.status, o.failure_reason) for o in Order.objects.all()} == {
        stale.id: (OrderStatus.FAILED, "abandoned"),
        never_reserved.id: (OrderStatus.FAILED, "abandoned"),
        young.id: (OrderStatus.PENDING, ""),
    }
    assert list(Order.objects.get(id=stale.id).history.values_list("status", "note")) == [
        ("failed", "Abandoned while pending")
    ]


def test_retrying_the_key_of_an_expired_checkout_answers_its_failure(
    fake_products: FakeProducts, carts: CartsStandIn, shopper: Shopper
) -> None:
    # given
    lamp = fake_products.add_product(stock=10).id
    order = _pending_order(product_id=lamp, quantity=1, age=dt.timedelta(hours=1), reserved=True)
    Order.objects.filter(id=order.id).update(user_id=shopper.user_id)
    order_expire_pending(older_than=dt.timedelta(minutes=15))

    # when
    with pytest.raises(CheckoutFailed) as failed:
        order_checkout(
            user_id=shopper.user_id, idempotency_key=order.idempotency_key, authorization=shopper.authorization
        )

    # then
    assert (failed.value.code, failed.value.status) == ("checkout-abandoned", 409)
    assert fake_products.stock(lamp) == 10
    assert carts.requests == []


def test_expiry_while_products_is_down_fails_the_checkouts_and_leaves_their_stock_to_the_hold(
    fake_products: FakeProducts, settings: Any, dead_address: str
) -> None:
    # given
    lamp = fake_products.add_product(stock=10).id
    order = _pending_order(product_id=lamp, quantity=1, age=dt.timedelta(hours=1), reserved=True)
    settings.PRODUCTS_GRPC_TARGET = dead_address.removeprefix("http://")
    reset_products_client()

    # when
    expired = order_expire_pending(older_than=dt.timedelta(minutes=15))

    # then: the order is settled now; products gives the units back when the reservation's hold ends
    # (no order confirms it), which the products suite tests
    assert expired == 1
    assert Order.objects.get(id=order.id).status == OrderStatus.FAILED
    assert fake_products.status(order.id) == "held"


def test_a_checkout_confirms_its_reservation_so_it_never_expires(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given
    lamp = fake_products.add_product(stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Lamp", 2, "10.00")])

    # when
    result = order_checkout(user_id=shopper.user_id, idempotency_key="k", authorization=shopper.authorization)

    # then
    assert result.order.status == OrderStatus.CONFIRMED
    assert fake_products.status(result.order.id) == "confirmed"
    assert fake_products.stock(lamp) == 3


def test_a_checkout_whose_confirmation_cannot_reach_products_is_placed_and_confirmed_by_its_event(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given: products answers reservations but not the confirmation that follows
    lamp = fake_products.add_product(stock=5).id
    carts.put_cart(shopper.token, [(str(lamp), "Lamp", 2, "10.00")])
    fake_products.unavailable.add("ConfirmReservation")

    # when
    result = order_checkout(user_id=shopper.user_id, idempotency_key="k", authorization=shopper.authorization)

    # then: the order stands, its units stay held, and the committed event carries the confirmation
    assert (result.created, result.order.status) == (True, OrderStatus.CONFIRMED)
    assert fake_products.calls["ConfirmReservation"] == 1
    assert fake_products.status(result.order.id) == "held"
    assert OutboxEvent.objects.filter(event_type="shop.order.confirmed.v1", key=str(result.order.id)).exists()


def test_a_retried_checkout_after_its_reservation_was_released_reserves_again(
    shopper: Shopper, carts: CartsStandIn, fake_products: FakeProducts
) -> None:
    # given: a checkout left pending whose reservation was released (a release whose answer was lost)
    lamp = fake_products.add_product(stock=5).id
    order = _pending_order(product_id=lamp, quantity=2, age=dt.timedelta(minutes=1), reserved=True)
    Order.objects.filter(id=order.id).update(user_id=shopper.user_id)
    products_client().release_stock(order.id)
    assert fake_products.stock(lamp) == 5

    # when: the customer retries the key
    result = order_checkout(
        user_id=shopper.user_id, idempotency_key=order.idempotency_key, authorization=shopper.authorization
    )

    # then: the confirmed order has its units behind it, and a cancel would give them back
    assert result.order.status == OrderStatus.CONFIRMED
    assert fake_products.status(order.id) == "confirmed"
    assert fake_products.stock(lamp) == 3


def test_expire_pending_orders_once_fails_checkouts_pending_past_the_setting_and_gives_their_stock_back(
    fake_products: FakeProducts, settings: Any
) -> None:
    # given: one checkout pending for two hours, one just begun; the configured limit (15 minutes)
    assert settings.ORDER_PENDING_EXPIRY_SECONDS == 900
    lamp = fake_products.add_product(stock=10).id
    stuck = _pending_order(product_id=lamp, quantity=4, age=dt.timedelta(hours=2), reserved=True)
    fresh = _pending_order(product_id=lamp, quantity=1, age=dt.timedelta(seconds=5), reserved=True)
    out = io.StringIO()

    # when
    call_command("expire_pending_orders", stdout=out)

    # then: the old one failed as abandoned, its stock back; the young one untouched
    assert out.getvalue() == "expired 1 pending order(s)\n"
    assert Order.objects.filter(id=stuck.id).values_list("status", "failure_reason").get() == (
        OrderStatus.FAILED,
        "abandoned",
    )
    assert Order.objects.get(id=fresh.id).status == OrderStatus.PENDING
    assert fake_products.stock(lamp) == 9
    assert fake_products.calls["ReleaseStock"] == 1


def test_expire_pending_orders_takes_an_older_than_and_refuses_one_under_a_minute(fake_products: FakeProducts) -> None:
    # given: a checkout pending for 30 minutes (past the setting, not past the hour asked for)
    lamp = fake_products.add_product(stock=10).id
    order = _pending_order(product_id=lamp, quantity=4, age=dt.timedelta(minutes=30), reserved=True)
    out = io.StringIO()

    # when
    call_command("expire_pending_orders", "--older-than", "3600", stdout=out)
    with pytest.raises(CommandError, match="--older-than must be at least 60 seconds"):
        call_command("expire_pending_orders", "--older-than", "59")

    # then
    assert out.getvalue() == "expired 0 pending order(s)\n"
    assert Order.objects.get(id=order.id).status == OrderStatus.PENDING
    assert fake_products.stock(lamp) == 6
