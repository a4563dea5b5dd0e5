"""The consumer framework against a real broker: handlers, dedupe, retries, dead letters, poison, tracing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.core.management import call_command
from django.db import transaction
from opentelemetry import trace
from prometheus_client import REGISTRY
from shopkit_tests.models import HandlerEffect

from shopkit.events.conf import EventSettings
from shopkit.events.consumer import ConsumerCommand, Event
from shopkit.events.kafka import ensure_topics
from shopkit.events.models import OutboxEvent, ProcessedEvent
from shopkit.events.services import outbox_event_emit
from shopkit.testing.kafka import produce_raw, read_topic

pytestmark = pytest.mark.django_db(transaction=True)

CONFIRMED = "shop.order.confirmed.v1"
ConsumerFactory = Callable[..., ConsumerCommand]


def _publish(topic: str, *, order_id: str, event_type: str = CONFIRMED) -> OutboxEvent:
    """Emit through the outbox and publish with the relay: the path production events take."""
    with transaction.atomic():
        event = outbox_event_emit(
            topic=topic, event_type=event_type, key=order_id, subject=order_id, data={"order_id": order_id}
        )
    call_command("outbox_relay", "--once")
    return event


def _committed_offset(bootstrap: str, group_id: str, topic: str, partition: int) -> int:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        [committed] = probe.committed([TopicPartition(topic, partition)], timeout=5)
        return int(committed.offset)
    finally:
        probe.close()


def _consumed(topic: str, group_id: str, outcome: str) -> float | None:
    return REGISTRY.get_sample_value(
        "shop_events_consumed_total", {"topic": topic, "consumer": group_id, "outcome": outcome}
    )


def _headers(message: Any) -> dict[str, str]:
    return {name: value.decode() for name, value in message.headers() or []}


def test_consumer_runs_the_handler_in_the_producers_trace_and_records_the_event(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory
) -> None:
    # given
    order_id = str(uuid.uuid4())
    with trace.get_tracer("test").start_as_current_span("checkout") as checkout:
        emitted = _publish(topic, order_id=order_id)
    seen: list[tuple[Event, int]] = []

    def handle(event: Event) -> None:
        seen.append((event, trace.get_current_span().get_span_context().trace_id))
        HandlerEffect.objects.create(event_id=event.id, consumer_group="carts", order_id=event.data["order_id"])

    command = consumer_command({CONFIRMED: handle})

    # when
    call_command(command, max_messages=1, max_seconds=20)

    # then
    [(event, trace_id)] = seen
    assert (event.id, event.type, event.source, event.subject, event.topic, event.key) == (
        emitted.id,
        CONFIRMED,
        "/shop/shopkit-tests",
        order_id,
        topic,
        order_id,
    )
    assert event.data == {"order_id": order_id}
    assert event.time.isoformat() == emitted.payload["time"]
    assert trace_id == checkout.get_span_context().trace_id
    assert list(HandlerEffect.objects.values_list("event_id", "order_id")) == [(emitted.id, order_id)]
    assert list(ProcessedEvent.objects.values_list("consumer_group", "event_id", "event_type", "topic")) == [
        (command.group_id, emitted.id, CONFIRMED, topic)
    ]
    assert _consumed(topic, command.group_id, "processed") == 1


def test_consumer_applies_a_redelivered_event_once_and_counts_the_duplicate(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory
) -> None:
    # given: the same message twice on the topic, as after a relay crash before marking it sent
    emitted = _publish(topic, order_id="order-1")
    [message] = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=1)
    produce_raw(
        kafka_settings.KAFKA_BOOTSTRAP_SERVERS,
        topic,
        value=message.value(),
        key=message.key(),
        headers=message.headers(),
    )

    def handle(event: Event) -> None:
        HandlerEffect.objects.create(event_id=event.id, consumer_group="carts")

    command = consumer_command({CONFIRMED: handle})

    # when
    call_command(command, max_messages=2, max_seconds=20)

    # then
    assert list(HandlerEffect.objects.values_list("event_id", flat=True)) == [emitted.id]
    assert ProcessedEvent.objects.count() == 1
    assert _consumed(topic, command.group_id, "processed") == 1
    assert _consumed(topic, command.group_id, "duplicate") == 1


def test_consumer_retries_a_failing_handler_then_dead_letters_the_message(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory
) -> None:
    # given
    emitted = _publish(topic, order_id="order-2")
    calls: list[uuid.UUID] = []

    def handle(event: Event) -> None:
        calls.append(event.id)
        HandlerEffect.objects.create(event_id=event.id, consumer_group="carts")
        raise ValueError("cart service rejected the order")

    command = consumer_command({CONFIRMED: handle})

    # when
    call_command(command, max_messages=1, max_seconds=20)

    # then
    assert calls == [emitted.id] * 3
    assert HandlerEffect.objects.count() == 0
    assert ProcessedEvent.objects.count() == 0
    [dead] = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, f"{topic}.dlq", count=1)
    assert json.loads(dead.value()) == emitted.payload
    assert dead.key() == b"order-2"
    headers = _headers(dead)
    assert headers["x-dlq-reason"] == "ValueError: cart service rejected the order"
    assert headers["x-dlq-consumer"] == command.group_id
    assert headers["x-dlq-attempts"] == "3"
    assert (headers["ce_id"], headers["ce_type"]) == (str(emitted.id), CONFIRMED)
    assert "traceparent" in headers
    partition = int(headers["x-dlq-original-partition"])
    assert _committed_offset(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, command.group_id, topic, partition) == (
        int(headers["x-dlq-original-offset"]) + 1
    )
    assert _consumed(topic, command.group_id, "failed") == 1
    assert REGISTRY.get_sample_value(
        "shop_events_dead_lettered_total", {"topic": topic, "consumer": command.group_id}
    ) == pytest.approx(1)


def test_a_handler_failing_once_is_retried_and_its_first_attempt_rolled_back(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory
) -> None:
    # given
    emitted = _publish(topic, order_id="order-3")
    calls: list[uuid.UUID] = []

    def handle(event: Event) -> None:
        calls.append(event.id)
        HandlerEffect.objects.create(event_id=event.id, consumer_group="carts")
        if len(calls) == 1:
            raise ConnectionResetError("flaky dependency")

    command = consumer_command({CONFIRMED: handle})

    # when
    call_command(command, max_messages=1, max_seconds=20)

    # then
    assert calls == [emitted.id, emitted.id]
    assert list(HandlerEffect.objects.values_list("event_id", flat=True)) == [emitted.id]
    assert ProcessedEvent.objects.count() == 1
    assert read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, f"{topic}.dlq", count=0, timeout=1.0) == []


def test_consumer_dead_letters_a_poison_message_without_calling_handlers(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory
) -> None:
    # given
    ensure_topics(EventSettings.load(), [topic])
    produce_raw(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, value=b"not json {", key=b"k1")
    calls: list[Event] = []
    command = consumer_command({CONFIRMED: calls.append})

    # when
    call_command(command, max_messages=1, max_seconds=20)

    # then
    assert calls == []
    [dead] = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, f"{topic}.dlq", count=1)
    assert (dead.key(), dead.value()) == (b"k1", b"not json {")
    headers = _headers(dead)
    assert headers["x-dlq-reason"].startswith("EnvelopeError: the value is not JSON")
    assert (headers["x-dlq-consumer"], headers["x-dlq-attempts"]) == (command.group_id, "1")
    assert _committed_offset(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, command.group_id, topic, dead.partition()) == 1
    assert ProcessedEvent.objects.count() == 0


def test_consumer_acknowledges_event_types_it_has_no_handler_for(
    kafka_settings: Any, topic: str, consumer_command: ConsumerFactory
) -> None:
    # given
    _publish(topic, order_id="order-4", event_type="shop.test.sequenced.v1")
    calls: list[Event] = []
    command = consumer_command({CONFIRMED: calls.append})

    # when
    call_command(command, max_messages=1, max_seconds=20)

    # then
    assert calls == []
    assert ProcessedEvent.objects.count() == 0
    assert _consumed(topic, command.group_id, "skipped") == 1
    assert read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, f"{topic}.dlq", count=0, timeout=1.0) == []


def test_consumer_command_without_group_or_topics_is_refused() -> None:
    # given
    class Command(ConsumerCommand):
        def get_handlers(self) -> dict[str, Any]:
            return {}

    # when / then
    with pytest.raises(Exception, match="needs a group_id and at least one topic"):
        call_command(Command(), max_seconds=1)
