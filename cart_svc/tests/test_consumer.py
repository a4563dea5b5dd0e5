"""The carts consumer: `shop.order.confirmed.v1` empties the ordered products out of the customer's cart.

The handler is tested directly and through the real `consume_events` command against a real
Kafka-protocol broker (Tansu, from shopkit's `kafka_bootstrap` fixture).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from cart_svc.carts.handlers import handle_order_confirmed
from cart_svc.carts.management.commands.consume_events import Command
from cart_svc.carts.models import CartLine
from cart_svc.tests.factories import CartFactory, CartLineFactory
from shopkit.events.conf import EventSettings
from shopkit.events.consumer import Event
from shopkit.events.contracts import CONTRACTS, OrderConfirmedV1
from shopkit.events.envelope import build_envelope, encode_envelope
from shopkit.events.kafka import ensure_topics
from shopkit.events.models import ProcessedEvent
from shopkit.testing.kafka import produce_raw

ORDERS_TOPIC = "shop.orders"


def _confirmed_data(*, user_id: uuid.UUID, order_id: uuid.UUID, product_ids: list[uuid.UUID]) -> dict[str, Any]:
    """`data` of `shop.order.confirmed.v1` exactly as docs/contracts.md describes it."""
    lines = [{"product_id": str(pid), "quantity": 1, "unit_price": "10.00"} for pid in product_ids]
    return {
        "order_id": str(order_id),
        "user_id": str(user_id),
        "lines": lines,
        "total": str(Decimal("10.00") * len(lines)),
        "currency": "USD",
    }


def _event(data: dict[str, Any]) -> Event:
    return Event(
        id=uuid.uuid4(),
        type=OrderConfirmedV1.event_type,
        source="/shop/orders",
        subject=data["order_id"],
        time=dt.datetime.now(tz=dt.UTC),
        data=data,
        topic=ORDERS_TOPIC,
        key=data["order_id"],
    )


@pytest.mark.django_db
def test_order_confirmed_removes_the_ordered_products_and_a_replay_is_harmless() -> None:
    # given
    cart = CartFactory.create()
    ordered = [CartLineFactory.create(cart=cart), CartLineFactory.create(cart=cart)]
    kept = CartLineFactory.create(cart=cart)
    someone_elses = CartLineFactory.create(product_id=ordered[0].product_id)
    event = _event(
        _confirmed_data(user_id=cart.user_id, order_id=uuid.uuid4(), product_ids=[line.product_id for line in ordered])
    )

    # when
    handle_order_confirmed(event)
    handle_order_confirmed(event)

    # then
    assert set(CartLine.objects.values_list("id", flat=True)) == {kept.id, someone_elses.id}


@pytest.mark.django_db
@pytest.mark.parametrize("broken", ["user_id", "lines", "product_id"])
def test_order_confirmed_with_malformed_data_raises_so_the_consumer_retries_and_dead_letters(broken: str) -> None:
    # given
    line = CartLineFactory.create()
    data = _confirmed_data(user_id=line.cart.user_id, order_id=uuid.uuid4(), product_ids=[line.product_id])
    if broken == "product_id":
        data["lines"][0]["product_id"] = "not-a-uuid"
    else:
        del data[broken]

    # when
    with pytest.raises((KeyError, ValueError)):
        handle_order_confirmed(_event(data))

    # then
    assert CartLine.objects.filter(id=line.id).exists()


@pytest.mark.django_db(transaction=True)
def test_consume_events_command_clears_the_cart_once_for_a_delivered_twice_event(
    settings: Any, kafka_bootstrap: str
) -> None:
    # given: the same confirmed event twice on shop.orders (as after a relay crash before marking it sent)
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS = 1500
    settings.METRICS_PORT = 0
    ensure_topics(EventSettings.load(), [ORDERS_TOPIC, f"{ORDERS_TOPIC}.dlq"])
    cart = CartFactory.create()
    ordered = CartLineFactory.create(cart=cart)
    kept = CartLineFactory.create(cart=cart)
    order_id = uuid.uuid4()
    event_id = uuid.uuid4()
    value = encode_envelope(
        build_envelope(
            event_id=event_id,
            event_type=OrderConfirmedV1.event_type,
            source="/shop/orders",
            time=dt.datetime.now(tz=dt.UTC),
            subject=str(order_id),
            data=_confirmed_data(user_id=cart.user_id, order_id=order_id, product_ids=[ordered.product_id]),
        )
    )
    for _ in range(2):
        produce_raw(kafka_bootstrap, ORDERS_TOPIC, value=value, key=str(order_id).encode())

    # when
    call_command("consume_events", max_messages=2, max_seconds=20)

    # then
    assert list(CartLine.objects.values_list("id", flat=True)) == [kept.id]
    assert list(ProcessedEvent.objects.values_list("consumer_group", "event_id", "event_type")) == [
        ("carts", event_id, OrderConfirmedV1.event_type)
    ]


def test_consume_events_handles_exactly_the_events_whose_contracts_name_the_carts_group() -> None:
    # when
    command = Command()

    # then
    assert (command.group_id, command.topics) == ("carts", ("shop.orders",))
    assert command.get_handlers() == {"shop.order.confirmed.v1": handle_order_confirmed}
    assert set(command.get_handlers()) == {c.event_type for c in CONTRACTS if "carts" in c.consumed_by}
