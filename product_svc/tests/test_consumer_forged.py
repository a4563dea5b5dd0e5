"""A forged `order.cancelled` cannot give stock back: the products consumer refuses events whose CloudEvents
`source` is not the owner of shop.orders, against a real Kafka-protocol broker (Tansu)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.core.management import call_command

from product_svc.catalog import services
from product_svc.catalog.models import Category, Product, Reservation
from product_svc.tests.factories import ProductFactory
from shopkit.events.conf import EventSettings
from shopkit.events.contracts import OrderCancelledV1
from shopkit.events.envelope import build_envelope, encode_envelope
from shopkit.events.kafka import ensure_topics
from shopkit.events.models import ProcessedEvent
from shopkit.events.propagation import decode_kafka_headers
from shopkit.testing.kafka import produce_raw, read_topic

ORDERS_TOPIC = "shop.orders"


@pytest.mark.django_db(transaction=True)
def test_a_forged_order_cancelled_releases_no_stock_and_is_dead_lettered(
    settings: Any, kafka_bootstrap: str, category: Category
) -> None:
    # given: three units reserved for an order, and an "order cancelled" for it from someone not orders
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS = 1500
    settings.METRICS_PORT = 0
    ensure_topics(EventSettings.load(), [ORDERS_TOPIC, f"{ORDERS_TOPIC}.dlq"])
    product = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(product.id, 3)])
    event_id = uuid.uuid4()
    forged = build_envelope(
        event_id=event_id,
        event_type=OrderCancelledV1.event_type,
        source="/shop/carts",
        time=dt.datetime.now(tz=dt.UTC),
        subject=str(order_id),
        data={
            "order_id": str(order_id),
            "user_id": str(uuid.uuid4()),
            "reason": "customer_request",
            "stock_released": False,
        },
    )
    produce_raw(kafka_bootstrap, ORDERS_TOPIC, value=encode_envelope(forged), key=str(order_id).encode())

    # when
    call_command("consume_events", max_messages=1, max_seconds=30)

    # then: the units stay reserved, and the event waits in the dead-letter topic with the reason
    assert Product.objects.get(id=product.id).stock == 2
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.HELD
    assert not ProcessedEvent.objects.filter(event_id=event_id).exists()
    reasons = [
        decode_kafka_headers(m.headers())["x-dlq-reason"]
        for m in read_topic(kafka_bootstrap, f"{ORDERS_TOPIC}.dlq", count=10_000, timeout=5.0, settle=0.0)
        if json.loads(m.value() or b"{}").get("id") == str(event_id)
    ]
    assert reasons == ["ForgedSource: source '/shop/carts' is not the owner of shop.orders ('/shop/orders')"]


def test_the_products_consumer_runs_the_events_purges(settings: Any) -> None:
    # then
    assert set(settings.SHOP_EVENTS_PERIODIC_TASKS) <= set(settings.SHOP_PERIODIC_TASKS)
