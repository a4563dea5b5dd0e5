"""Event faults against the real broker and database: a stalled outbox relay, a consumer failing every event.

The faults are switched in the session's flags file (shopkit.testing.faults) and read by the real flagd
in-process provider; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from prometheus_client import REGISTRY
from shopkit_tests.models import HandlerEffect

from shopkit.events.consumer import ConsumerCommand, Event
from shopkit.events.models import OutboxEvent, ProcessedEvent
from shopkit.events.relay import OutboxRelay
from shopkit.events.services import outbox_event_emit
from shopkit.testing.kafka import read_topic
from shopkit.testing.polling import poll

pytestmark = pytest.mark.django_db(transaction=True)

CREATED = "shop.test.sequenced.v1"


def _emit(topic: str, key: str, n: int = 1) -> list[OutboxEvent]:
    with transaction.atomic():
        return [
            outbox_event_emit(topic=topic, event_type=CREATED, key=key, subject=key, data={"seq": i}) for i in range(n)
        ]


def _unsent() -> int:
    return OutboxEvent.objects.filter(sent_at__isnull=True).count()


def _run_relay(relay: OutboxRelay, stop: threading.Event) -> None:
    try:
        relay.run(stop)
    finally:
        relay.close()
        connections.close_all()


@contextlib.contextmanager
def _running_relay(topic: str) -> Iterator[threading.Thread]:
    """An outbox relay running in a thread, warmed up by one published event; stopped at the end."""
    stop = threading.Event()
    relay = threading.Thread(target=_run_relay, args=(OutboxRelay(), stop), daemon=True)
    relay.start()
    try:
        _emit(topic, "order-0")
        poll(lambda: _unsent() == 0, seconds=15, what="warm-up")
        yield relay
    finally:
        stop.set()
        relay.join(timeout=15)


def test_a_stalled_relay_publishes_nothing_while_the_backlog_grows_then_catches_up(
    kafka_settings: Any, topic: str, switch_fault: Callable[..., Any]
) -> None:
    # given: a running relay that publishes
    with _running_relay(topic) as relay:
        # when: stalled, events keep coming
        switch_fault("outbox-relay-stalled")
        _emit(topic, "order-1", n=3)
        poll(lambda: REGISTRY.get_sample_value("shop_outbox_backlog") == 3, seconds=15, what="backlog 3")
        # then: the loop is alive, nothing went out
        assert relay.is_alive()
        assert _unsent() == 3
        # when: switched off, the same relay (no restart) sends the backlog
        switch_fault("outbox-relay-stalled", "false")
        poll(lambda: _unsent() == 0, seconds=15, what="the backlog sent")
    assert len(read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=4)) == 4


def test_a_consumer_with_the_fault_dead_letters_every_event(
    kafka_settings: Any,
    topic: str,
    consumer_command: Callable[..., ConsumerCommand],
    switch_fault: Callable[..., Any],
) -> None:
    # given
    with transaction.atomic():
        emitted = outbox_event_emit(topic=topic, event_type=CREATED, key="order-7", subject="order-7", data={"seq": 1})
    call_command("outbox_relay", "--once")
    calls: list[Event] = []

    def record(event: Event) -> None:
        calls.append(event)
        HandlerEffect.objects.create(event_id=event.id, consumer_group="faults")

    command = consumer_command({CREATED: record})
    switch_fault("consumer-fail-every-event")
    # when
    call_command(command, max_messages=1, max_seconds=20)
    # then: the handler never ran, nothing recorded, the event is on the dead-letter topic
    assert calls == []
    assert HandlerEffect.objects.count() == 0
    assert ProcessedEvent.objects.count() == 0
    [dead] = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, f"{topic}.dlq", count=1)
    assert json.loads(dead.value()) == emitted.payload
    reason = {k: v.decode() for k, v in dead.headers() or []}["x-dlq-reason"]
    assert reason == "FaultInjected: Fault 'consumer-fail-every-event' is switched on."
    assert REGISTRY.get_sample_value(
        "shop_events_dead_lettered_total", {"topic": topic, "consumer": command.group_id}
    ) == pytest.approx(1)


def test_with_kafka_unreachable_the_relay_keeps_events_and_delivers_them_once_switched_off(
    kafka_settings: Any, topic: str, switch_fault: Callable[..., Any]
) -> None:
    # given: a running relay that publishes
    kafka_settings.OUTBOX_DELIVERY_TIMEOUT_SECONDS = 1.0
    with _running_relay(topic) as relay:
        # when: its producer cannot reach the broker
        switch_fault("kafka-unreachable")
        events = _emit(topic, "order-1", n=2)
        poll(lambda: OutboxEvent.objects.exclude(last_error="").count() == 2, seconds=20, what="failed attempts")
        # then: the events wait, as in a real broker outage (no attempt counted, nothing dead)
        assert relay.is_alive()
        assert _unsent() == 2
        assert (
            list(OutboxEvent.objects.filter(id__in=[e.id for e in events]).values_list("attempts", "dead_at"))
            == [(0, None)] * 2
        )
        # when: switched off, the same relay delivers them
        switch_fault("kafka-unreachable", "false")
        poll(lambda: _unsent() == 0, seconds=30, what="delivery")
    assert len(read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=3)) == 3
