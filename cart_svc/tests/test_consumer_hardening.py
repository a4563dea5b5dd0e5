"""The carts consumer cannot wedge and cannot be fooled: forged sources refused, database failures bounded,
dead letters replayed by staff (`replay_dead_letters`) and applied once.

Real `consume_events` and `replay_dead_letters` commands, a real Kafka-protocol broker (Tansu) and the
suite's real PostgreSQL, which a trigger makes fail the handler's deletes (SQLSTATE 40001).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cart_svc.carts.models import Cart, CartLine
from cart_svc.tests.factories import CartFactory, CartLineFactory
from shopkit.events.conf import EventSettings
from shopkit.events.contracts import OrderConfirmedV1
from shopkit.events.envelope import build_envelope, encode_envelope
from shopkit.events.kafka import ensure_topics
from shopkit.events.models import ProcessedEvent
from shopkit.events.propagation import decode_kafka_headers
from shopkit.testing.kafka import produce_raw, read_topic

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS_TOPIC = "shop.orders"


@pytest.fixture
def kafka(settings: Any, kafka_bootstrap: str) -> str:
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS = 1500
    settings.METRICS_PORT = 0
    settings.EVENT_DB_MAX_ATTEMPTS = 2
    settings.EVENT_DB_RETRY_BACKOFF_SECONDS = 0.01
    ensure_topics(EventSettings.load(), [ORDERS_TOPIC, f"{ORDERS_TOPIC}.dlq"])
    return kafka_bootstrap


@pytest.fixture
def failing_deletes_of() -> Iterator[Callable[[Cart], Callable[[], None]]]:
    """PostgreSQL fails every delete of the given cart's lines; the returned callable repairs it."""
    table = CartLine._meta.db_table

    def repair() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS shop_test_fail_deletes ON {table}")

    def install(cart: Cart) -> Callable[[], None]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                CREATE OR REPLACE FUNCTION shop_test_fail_deletes() RETURNS trigger AS $$
                BEGIN
                  IF OLD.cart_id = '{cart.id}' THEN
                    RAISE EXCEPTION 'could not serialize access due to concurrent update'
                      USING ERRCODE = 'serialization_failure';
                  END IF;
                  RETURN OLD;
                END $$ LANGUAGE plpgsql
                """
            )
            cursor.execute(
                f"CREATE TRIGGER shop_test_fail_deletes BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION shop_test_fail_deletes()"
            )
        return repair

    if connection.vendor != "postgresql":
        pytest.skip("the failure is a PostgreSQL trigger; the suite runs on PostgreSQL (tools/testall)")
    try:
        yield install
    finally:
        repair()


def _confirmed(cart: Cart, lines: list[CartLine], *, source: str = "/shop/orders") -> tuple[uuid.UUID, bytes]:
    order_id = uuid.uuid4()
    event_id = uuid.uuid4()
    envelope = build_envelope(
        event_id=event_id,
        event_type=OrderConfirmedV1.event_type,
        source=source,
        time=dt.datetime.now(tz=dt.UTC),
        subject=str(order_id),
        data={
            "order_id": str(order_id),
            "user_id": str(cart.user_id),
            "lines": [{"product_id": str(line.product_id), "quantity": 1, "unit_price": "10.00"} for line in lines],
            "total": "10.00",
            "currency": "USD",
        },
    )
    return event_id, encode_envelope(envelope)


def _dlq_reason(bootstrap: str, event_id: uuid.UUID) -> str:
    """The dead-letter reason of `event_id` (the session's broker holds other tests' dead letters too)."""
    for message in read_topic(bootstrap, f"{ORDERS_TOPIC}.dlq", count=10_000, timeout=5.0, settle=0.0):
        if json.loads(message.value() or b"{}").get("id") == str(event_id):
            return decode_kafka_headers(message.headers())["x-dlq-reason"]
    raise AssertionError(f"{event_id} is not dead-lettered")


def test_a_forged_order_confirmed_does_not_empty_a_strangers_cart(kafka: str) -> None:
    # given: an "order confirmed" for someone's cart, published by someone who is not orders
    cart = CartFactory.create()
    line = CartLineFactory.create(cart=cart)
    event_id, value = _confirmed(cart, [line], source="/shop/carts")
    produce_raw(kafka, ORDERS_TOPIC, value=value, key=b"forged")

    # when
    call_command("consume_events", max_messages=1, max_seconds=30)

    # then
    assert list(CartLine.objects.values_list("id", flat=True)) == [line.id]
    assert ProcessedEvent.objects.filter(event_id=event_id).count() == 0
    assert _dlq_reason(kafka, event_id) == (
        "ForgedSource: source '/shop/carts' is not the owner of shop.orders ('/shop/orders')"
    )


def test_staff_replay_an_order_confirmed_the_database_failed_on_and_the_cart_is_emptied_once(
    kafka: str, failing_deletes_of: Callable[[Cart], Callable[[], None]]
) -> None:
    # given: a confirmed order whose cart the database will not change, consumed until dead-lettered
    cart = CartFactory.create()
    ordered = CartLineFactory.create(cart=cart)
    kept = CartLineFactory.create(cart=cart)
    repair = failing_deletes_of(cart)
    event_id, value = _confirmed(cart, [ordered])
    produce_raw(kafka, ORDERS_TOPIC, value=value, key=str(cart.id).encode())
    call_command("consume_events", max_messages=1, max_seconds=30)
    assert CartLine.objects.count() == 2
    assert _dlq_reason(kafka, event_id).startswith("database error after 2 attempts: OperationalError:")
    repair()

    # when: staff list the dead letters, replay this one, then (by mistake) replay it again
    listing, first, second = StringIO(), StringIO(), StringIO()
    call_command("replay_dead_letters", stdout=listing)
    call_command("replay_dead_letters", "--event-id", str(event_id), "--by", "staff@example.com", stdout=first)
    call_command("replay_dead_letters", "--event-id", str(event_id), "--by", "staff@example.com", stdout=second)

    # then: the ordered line left the cart once; the other stayed
    assert str(event_id) in listing.getvalue()
    assert f"{event_id} processed" in first.getvalue()
    assert f"{event_id} duplicate" in second.getvalue()
    assert list(CartLine.objects.values_list("id", flat=True)) == [kept.id]
    assert list(ProcessedEvent.objects.filter(event_id=event_id).values_list("consumer_group", flat=True)) == ["carts"]


def test_replaying_without_saying_who_is_refused(kafka: str) -> None:
    # when / then
    with pytest.raises(CommandError, match="--by is required"):
        call_command("replay_dead_letters", "--all")


def test_the_carts_consumer_runs_the_events_purges(settings: Any) -> None:
    # then
    assert set(settings.SHOP_EVENTS_PERIODIC_TASKS) <= set(settings.SHOP_PERIODIC_TASKS)
