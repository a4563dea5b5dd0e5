"""The consumer's handler for cancelled orders, and the consume_events command's wiring."""

from __future__ import annotations

import datetime as dt
import uuid

from product_svc.catalog import services
from product_svc.catalog.handlers import ORDER_CANCELLED, handle_order_cancelled
from product_svc.catalog.management.commands.consume_events import Command
from product_svc.catalog.models import Category, Product, Reservation
from product_svc.tests.factories import ProductFactory
from shopkit.events.consumer import Event


def _cancelled(order_id: uuid.UUID) -> Event:
    return Event(
        id=uuid.uuid4(),
        type=ORDER_CANCELLED,
        source="/shop/orders",
        subject=str(order_id),
        time=dt.datetime.now(tz=dt.UTC),
        data={"order_id": str(order_id), "user_id": str(uuid.uuid4()), "reason": "customer", "stock_released": False},
        topic="shop.orders",
        key=str(order_id),
    )


def test_a_cancelled_order_releases_its_stock_once_however_often_it_arrives(category: Category) -> None:
    # given
    product = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(product.id, 3)])

    # when: delivered twice (at least once delivery, a different event id each time)
    handle_order_cancelled(_cancelled(order_id))
    handle_order_cancelled(_cancelled(order_id))

    # then
    assert Product.objects.get(id=product.id).stock == 5
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.RELEASED


def test_cancelling_an_order_without_a_reservation_changes_nothing(category: Category) -> None:
    # given
    product = ProductFactory.create(stock=5, category=category)

    # when
    handle_order_cancelled(_cancelled(uuid.uuid4()))

    # then
    assert Product.objects.get(id=product.id).stock == 5
    assert not Reservation.objects.exists()


def test_consume_events_listens_to_order_cancellations_as_the_products_group() -> None:
    # when
    command = Command()

    # then
    assert (command.group_id, command.topics) == ("products", ("shop.orders",))
    assert command.get_handlers() == {"shop.order.cancelled.v1": handle_order_cancelled}
