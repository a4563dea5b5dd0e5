"""The consumer's handlers for confirmed and cancelled orders, and the consume_events command's wiring."""

from __future__ import annotations

import datetime as dt
import uuid

from product_svc.catalog import services
from product_svc.catalog.handlers import handle_order_cancelled, handle_order_confirmed
from product_svc.catalog.management.commands.consume_events import Command
from product_svc.catalog.models import Category, Product, Reservation
from product_svc.tests.factories import ProductFactory
from shopkit.events.consumer import Event
from shopkit.events.contracts import CONTRACTS, OrderCancelledV1, OrderConfirmedV1


def _event(event_type: str, order_id: uuid.UUID, **data: object) -> Event:
    return Event(
        id=uuid.uuid4(),
        type=event_type,
        source="/shop/orders",
        subject=str(order_id),
        time=dt.datetime.now(tz=dt.UTC),
        data={"order_id": str(order_id), "user_id": str(uuid.uuid4()), **data},
        topic="shop.orders",
        key=str(order_id),
    )


def _cancelled(order_id: uuid.UUID) -> Event:
    return _event(OrderCancelledV1.event_type, order_id, reason="customer_request", stock_released=False)


def _confirmed(order_id: uuid.UUID) -> Event:
    line = {"product_id": str(uuid.uuid4()), "quantity": 1, "unit_price": "10.00"}
    return _event(OrderConfirmedV1.event_type, order_id, lines=[line], total="10.00", currency="USD")


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


def test_consume_events_listens_to_order_confirmations_and_cancellations_as_the_products_group() -> None:
    # when
    command = Command()

    # then
    assert (command.group_id, command.topics) == ("products", ("shop.orders",))
    assert command.get_handlers() == {
        "shop.order.confirmed.v1": handle_order_confirmed,
        "shop.order.cancelled.v1": handle_order_cancelled,
    }
    assert set(command.get_handlers()) == {c.event_type for c in CONTRACTS if "products" in c.consumed_by}


def test_a_confirmed_order_event_confirms_its_reservation_once_however_often_it_arrives(category: Category) -> None:
    # given: orders could not confirm over gRPC; the event is the fallback
    product = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(product.id, 3)])

    # when
    handle_order_confirmed(_confirmed(order_id))
    handle_order_confirmed(_confirmed(order_id))

    # then: confirmed, so it never expires; the units stay allocated
    reservation = Reservation.objects.get(order_id=order_id)
    assert (reservation.status, reservation.expires_at) == (Reservation.Status.CONFIRMED, None)
    assert services.stock_expire_holds(now=dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=1)) == 0
    product.refresh_from_db()
    assert (product.stock_on_hand, product.stock_allocated, product.stock) == (5, 3, 2)


def test_a_confirmation_after_the_order_was_cancelled_and_released_leaves_it_released(category: Category) -> None:
    # given: the cancellation released directly before the consumer saw the older confirmation event
    product = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(product.id, 3)])
    services.stock_release(order_id=order_id)

    # when: the confirmation, then the cancellation, arrive in their order
    handle_order_confirmed(_confirmed(order_id))
    handle_order_cancelled(_cancelled(order_id))

    # then: nothing is allocated for the cancelled order
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.RELEASED
    product.refresh_from_db()
    assert (product.stock_on_hand, product.stock_allocated, product.stock) == (5, 0, 5)
