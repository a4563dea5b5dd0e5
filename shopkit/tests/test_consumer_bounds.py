"""Consumers cannot wedge: database errors are bounded, forged sources refused, dead letters replayed once.

Against a real broker (Tansu) and the suite's real PostgreSQL, which a trigger makes fail the handler's
writes with a serialization failure (an OperationalError, like a database that keeps failing).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction
from prometheus_client import REGISTRY
from shopkit_tests.models import HandlerEffect

from shopkit.events.conf import EventSettings
from shopkit.events.consumer import ConsumerCommand, Event, EventConsumer, Outcome
from shopkit.events.envelope import build_envelope, encode_envelope
from shopkit.events.kafka import ensure_topics
from shopkit.events.models import OutboxEvent, ProcessedEvent
from shopkit.events.services import outbox_event_emit
from shopkit.testing.kafka import produce_raw, read_topic

pytestmark = pytest.mark.django_db(transaction=True)

CONFIRMED = "shop.order.confirmed.v1"
ConsumerFactory = Callable[..., ConsumerCommand]
FAILING_ORDER = "db-fails"
FLAKY_ORDER = "db-flaky"


@pytest.fixture
def failing_database() -> Iterator[Callable[[], None]]:
    """PostgreSQL fails every write of a handler effect for FAILING_ORDER, and the first two for
    FLAKY_ORDER, with SQLSTATE 40001; the fixture's callable repairs it (drops the trigger)."""
    if connection.vendor != "postgresql":
        pytest.skip("the failure is a PostgreSQL trigger; the suite runs on PostgreSQL (tools/testall)")
    table = HandlerEffect._meta.db_table

    def repair() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS shop_test_fail_effects ON {table}")

    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE IF NOT EXISTS shop_test_flaky_seq")
        cursor.execute("ALTER SEQUENCE shop_test_flaky_seq RESTART")
        cursor.execute(
            f"""
            CREATE OR REPLACE FUNCTION shop_test_fail_effects() RETURNS trigger AS $$
            BEGIN
              IF NEW.order_id = '{FAILING_ORDER}'
                 OR (NEW.order_id = '{FLAKY_ORDER}' AND nextval('shop_test_flaky_seq') <= 2) THEN
                RAISE EXCEPTION 'could not serialize access due to concurrent update'
                  USING ERRCODE = 'serialization_failure';
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql
            """
        )
        cursor.execute(
            f"CREATE TRIGGER shop_test_fail_effects BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION shop_test_fail_effects()"
        )
    try:
        yield repair
    finally:
        repair()


def _publish(topic: str, *, order_id: str, key: str = "order-1") -> OutboxEvent:
    with transaction.atomic():
        event = outbox_event_emit(
            topic=topic, event_type=CONFIRMED, key=key, subject=order_id, data={"order_id": order_id}
        )
    call_command("outbox_relay", "--once")
    return event


def _record(group: str) -> Callable[[Event], None]:
    def handle(event: Event) -> None:
        HandlerEffect.objects.create(event_id=event.id, consumer_group=group, order_id=event.data["order_id"])

    return handle


def _headers(message: Any) -> dict[str, str]:
    return {name: value.decode() for name, value in message.headers() or []}


def _consumed(topic: str, group_id: str, outcome: str) -> float | None:
    return REGISTRY.get_sample_value(
        "shop_events_consumed_total", {"topic": topic, "consumer": group_id, "outcome": outcome}
    )


def test_a_handler_the_database_keeps_failing_is_dead_lettered_with_the_reason_and_its_partition_moves_on(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory, failing_database: Callable[[], None]
) -> None:
    # given: an event whose handler write the database always fails, then one of the same key it accepts
    kafka_settings.EVENT_DB_MAX_ATTEMPTS = 3
    stuck = _publish(topic, order_id=FAILING_ORDER)
    later = _publish(topic, order_id="order-ok")
    command = consumer_command({CONFIRMED: _record("carts")})

    # when
    call_command(command, max_messages=2, max_seconds=30)

    # then: the stuck event is in the dead-letter topic, whole, with the database's reason
    [dead] = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, f"{topic}.dlq", count=1)
    assert json.loads(dead.value()) == stuck.payload
    headers = _headers(dead)
    assert headers["x-dlq-reason"].startswith(
        "database error after 3 attempts: OperationalError: could not serialize access due to concurrent update"
    )
    assert (headers["x-dlq-attempts"], headers["x-dlq-consumer"]) == ("3", command.group_id)
    # and the later event of its partition was handled
    assert list(HandlerEffect.objects.values_list("event_id", flat=True)) == [later.id]
    assert list(ProcessedEvent.objects.values_list("event_id", flat=True)) == [later.id]
    assert _consumed(topic, command.group_id, "failed") == 1
    assert _consumed(topic, command.group_id, "processed") == 1


def test_a_database_that_recovers_within_the_bound_gets_the_event_handled_once_without_a_dead_letter(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory, failing_database: Callable[[], None]
) -> None:
    # given: the database fails the handler's first two writes, then works
    kafka_settings.EVENT_DB_MAX_ATTEMPTS = 5
    event = _publish(topic, order_id=FLAKY_ORDER)
    command = consumer_command({CONFIRMED: _record("carts")})

    # when
    call_command(command, max_messages=1, max_seconds=30)

    # then
    assert list(HandlerEffect.objects.values_list("event_id", flat=True)) == [event.id]
    assert read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, f"{topic}.dlq", count=0, timeout=1.0) == []


def test_staff_replay_an_event_dead_lettered_by_a_failing_database_and_it_is_handled_once(
    kafka_settings: Any,
    topic: str,
    consumer_command: ConsumerFactory,
    failing_database: Callable[[], None],
    events_log: list[dict[str, Any]],
) -> None:
    # given: an event dead-lettered while the database failed, and the database repaired since
    kafka_settings.EVENT_DB_MAX_ATTEMPTS = 2
    stuck = _publish(topic, order_id=FAILING_ORDER)
    command = consumer_command({CONFIRMED: _record("carts")})
    call_command(command, max_messages=1, max_seconds=30)
    assert HandlerEffect.objects.count() == 0
    failing_database()
    consumer = command.build_consumer(EventSettings.load())
    [dead] = consumer.dead_letters()
    assert (dead.event_id, dead.event_type, dead.original_topic) == (stuck.id, CONFIRMED, topic)

    # when: staff replay it, and by mistake replay it again
    first = consumer.replay([dead], requested_by="staff@example.com")
    second = consumer.replay(consumer.dead_letters(), requested_by="staff@example.com")

    # then: handled exactly once, recorded under the original topic, and each replay logged with who
    assert [r.outcome for r in first] == [Outcome.PROCESSED]
    assert [r.outcome for r in second] == [Outcome.DUPLICATE]
    assert list(HandlerEffect.objects.values_list("event_id", "order_id")) == [(stuck.id, FAILING_ORDER)]
    assert list(ProcessedEvent.objects.values_list("event_id", "topic")) == [(stuck.id, topic)]
    replays = [e for e in events_log if e["event"] == "dead_letter_replayed"]
    assert [(e["event_id"], e["outcome"], e["requested_by"]) for e in replays] == [
        (str(stuck.id), "processed", "staff@example.com"),
        (str(stuck.id), "duplicate", "staff@example.com"),
    ]


def test_an_event_whose_source_is_not_the_topics_owner_is_dead_lettered_unhandled(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory
) -> None:
    # given: a forged event (another service's source) on the topic, then a genuine one
    ensure_topics(EventSettings.load(), [topic, f"{topic}.dlq"])
    forged_id = uuid.uuid4()
    forged = build_envelope(
        event_id=forged_id,
        event_type=CONFIRMED,
        source="/shop/carts",
        time=dt.datetime.now(tz=dt.UTC),
        subject="order-x",
        data={"order_id": "order-x"},
    )
    produce_raw(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, value=encode_envelope(forged), key=b"order-x")
    genuine = _publish(topic, order_id="order-y", key="order-x")
    calls: list[uuid.UUID] = []

    def handle(event: Event) -> None:
        calls.append(event.id)

    command = consumer_command({CONFIRMED: handle})

    # when
    call_command(command, max_messages=2, max_seconds=30)

    # then
    assert calls == [genuine.id]
    [dead] = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, f"{topic}.dlq", count=1)
    assert json.loads(dead.value())["id"] == str(forged_id)
    assert _headers(dead)["x-dlq-reason"] == (
        f"ForgedSource: source '/shop/carts' is not the owner of {topic} ('/shop/shopkit-tests')"
    )
    assert list(ProcessedEvent.objects.values_list("event_id", flat=True)) == [genuine.id]
    assert _consumed(topic, command.group_id, "rejected") == 1


def test_a_replayed_forged_event_is_refused_again(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory
) -> None:
    # given: a forged event in the dead-letter topic
    ensure_topics(EventSettings.load(), [topic, f"{topic}.dlq"])
    forged = build_envelope(
        event_id=uuid.uuid4(),
        event_type=CONFIRMED,
        source="/shop/attacker",
        time=dt.datetime.now(tz=dt.UTC),
        subject="order-x",
        data={"order_id": "order-x"},
    )
    produce_raw(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, value=encode_envelope(forged), key=b"order-x")
    calls: list[Event] = []
    command = consumer_command({CONFIRMED: calls.append})
    call_command(command, max_messages=1, max_seconds=30)
    consumer = command.build_consumer(EventSettings.load())

    # when
    [result] = consumer.replay(consumer.dead_letters(), requested_by="staff@example.com")

    # then
    assert result.outcome is Outcome.REJECTED
    assert calls == []
    assert ProcessedEvent.objects.count() == 0


def test_a_consumer_of_a_topic_without_an_owner_refuses_to_start(kafka_settings: Any) -> None:
    # given
    kafka_settings.SHOP_EVENT_TOPIC_OWNERS = {"shop.orders": "/shop/orders"}

    # when / then
    with pytest.raises(ImproperlyConfigured, match="no owner for shop.unowned"):
        EventConsumer(group_id="g", topics=["shop.orders", "shop.unowned"], handlers={})


def test_the_platform_topics_are_owned_by_the_services_that_emit_them(settings: Any) -> None:
    # then: events are emitted with source /shop/<SERVICE_NAME> (shopkit.events.services)
    from shopkit import base_settings

    assert base_settings.SHOP_EVENT_TOPIC_OWNERS == {"shop.users": "/shop/users", "shop.orders": "/shop/orders"}
