"""The outbox relay against a real broker: envelope, key and trace headers, ordering, outages, two relays."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone
from opentelemetry import trace
from prometheus_client import REGISTRY
from shopkit_tests.models import HandlerEffect

from shopkit.events.consumer import ConsumerCommand, Event
from shopkit.events.models import OutboxEvent, ProcessedEvent
from shopkit.events.relay import OutboxRelay
from shopkit.events.services import outbox_event_emit
from shopkit.testing.kafka import TansuBroker, read_topic
from shopkit.testing.polling import poll


def _emit(topic: str, key: str, n: int = 1) -> list[OutboxEvent]:
    with transaction.atomic():
        return [
            outbox_event_emit(topic=topic, event_type="shop.test.sequenced.v1", key=key, subject=key, data={"seq": i})
            for i in range(n)
        ]


def _headers(message: Any) -> dict[str, str]:
    return {name: value.decode() for name, value in message.headers() or []}


@pytest.mark.django_db
def test_relay_once_publishes_envelope_key_and_trace_headers(kafka_settings: Any, topic: str) -> None:
    # given
    order_id = str(uuid.uuid4())
    with trace.get_tracer("test").start_as_current_span("checkout") as checkout:
        [event] = _emit(topic, order_id)

    # when
    call_command("outbox_relay", "--once")

    # then
    [message] = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=1)
    assert message.key() == order_id.encode()
    assert json.loads(message.value()) == event.payload
    headers = _headers(message)
    assert set(headers) == {"traceparent", "ce_type", "ce_id"}
    assert (headers["ce_type"], headers["ce_id"]) == ("shop.test.sequenced.v1", str(event.id))
    _, trace_id, parent_span_id, _ = headers["traceparent"].split("-")
    ctx = checkout.get_span_context()
    # Same trace as the checkout; the parent is the relay's producer span, not the checkout span.
    assert trace_id == f"{ctx.trace_id:032x}"
    assert parent_span_id != f"{ctx.span_id:016x}"
    stored = OutboxEvent.objects.get()
    assert stored.sent_at is not None
    assert (stored.attempts, stored.claimed_until, stored.last_error) == (0, None, "")
    assert REGISTRY.get_sample_value(
        "shop_events_published_total", {"topic": topic, "event_type": "shop.test.sequenced.v1"}
    ) == pytest.approx(1)
    assert REGISTRY.get_sample_value("shop_outbox_backlog") == 0


@pytest.mark.django_db
def test_relay_once_publishes_one_aggregates_events_in_order(kafka_settings: Any, topic: str) -> None:
    # given
    events = _emit(topic, "order-1", n=5)

    # when
    call_command("outbox_relay", "--once")

    # then
    messages = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=5)
    assert [_headers(m)["ce_id"] for m in messages] == [str(e.id) for e in events]
    assert len({m.partition() for m in messages}) == 1
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_relay_once_with_nothing_pending_publishes_nothing(kafka_settings: Any, topic: str) -> None:
    # given
    with transaction.atomic():
        pass

    # when
    relay = OutboxRelay()
    result = relay.run_once()
    relay.close()

    # then
    assert (result.claimed, result.sent, result.failed) == (0, 0, 0)
    assert read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=0, timeout=1.0) == []


@pytest.mark.django_db
def test_relay_purge_deletes_only_sent_rows_past_retention(kafka_settings: Any, topic: str) -> None:
    # given
    kafka_settings.OUTBOX_RETENTION_DAYS = 7
    old_sent, recent_sent, old_unsent = _emit(topic, "k", n=3)
    long_ago = timezone.now() - dt.timedelta(days=8)
    OutboxEvent.objects.filter(id=old_sent.id).update(sent_at=long_ago, created_at=long_ago)
    OutboxEvent.objects.filter(id=recent_sent.id).update(sent_at=timezone.now())
    OutboxEvent.objects.filter(id=old_unsent.id).update(created_at=long_ago)

    # when
    call_command("outbox_relay", "--once", "--purge")

    # then
    remaining = {row.id: row for row in OutboxEvent.objects.all()}
    assert set(remaining) == {recent_sent.id, old_unsent.id}
    # The old unsent row was published just now, so it is kept for the retention period.
    assert remaining[old_unsent.id].sent_at is not None


def _run_relay(relay: OutboxRelay, stop: threading.Event) -> None:
    try:
        relay.run(stop)
    finally:
        relay.close()
        connections.close_all()


@contextlib.contextmanager
def _warm_relay(topic: str) -> Iterator[threading.Thread]:
    """A relay thread that has already published once (its idempotent producer holds a producer id);
    stopped and joined on exit."""
    stop = threading.Event()
    relay = threading.Thread(target=_run_relay, args=(OutboxRelay(), stop), daemon=True)
    relay.start()
    try:
        _emit(topic, "order-0")
        poll(lambda: not OutboxEvent.objects.filter(sent_at__isnull=True).exists(), seconds=15, what="warm-up")
        yield relay
    finally:
        stop.set()
        relay.join(timeout=15)


@pytest.mark.django_db(transaction=True)
def test_relay_keeps_events_through_a_broker_outage_and_delivers_each_once(
    kafka_settings: Any, topic: str, tansu_broker: TansuBroker, consumer_command: Callable[..., ConsumerCommand]
) -> None:
    # given: a running relay that has already published through its (idempotent) producer
    kafka_settings.KAFKA_BOOTSTRAP_SERVERS = tansu_broker.bootstrap
    kafka_settings.OUTBOX_DELIVERY_TIMEOUT_SECONDS = 1.0
    with _warm_relay(topic) as relay:
        # when: the broker goes away, events are committed, and the broker comes back empty (memory storage,
        # so it has also forgotten the producer id: the relay must replace its producer)
        tansu_broker.stop()
        events = _emit(topic, "order-9", n=3)
        poll(lambda: OutboxEvent.objects.exclude(last_error="").count() == 3, seconds=15, what="failed attempts")
        assert OutboxEvent.objects.filter(id__in=[e.id for e in events], sent_at__isnull=False).count() == 0
        # An outage is nobody's fault: no row counts an attempt towards OUTBOX_MAX_ATTEMPTS or dies.
        assert (
            list(OutboxEvent.objects.filter(id__in=[e.id for e in events]).values_list("attempts", "dead_at"))
            == [(0, None)] * 3
        )
        assert relay.is_alive()
        poll(lambda: REGISTRY.get_sample_value("shop_outbox_backlog") == 3, seconds=15, what="backlog gauge")
        tansu_broker.start()
        poll(lambda: not OutboxEvent.objects.filter(sent_at__isnull=True).exists(), seconds=30, what="delivery")

    # then: each event is on the (new) broker once, and a consumer applies each once
    messages = read_topic(tansu_broker.bootstrap, topic, count=3)
    assert sorted(_headers(m)["ce_id"] for m in messages) == sorted(str(e.id) for e in events)
    assert not relay.is_alive()

    def record(event: Event) -> None:
        HandlerEffect.objects.create(event_id=event.id, consumer_group="outage")

    call_command(consumer_command({"shop.test.sequenced.v1": record}), max_messages=3, max_seconds=20)
    assert Counter(HandlerEffect.objects.values_list("event_id", flat=True)) == {e.id: 1 for e in events}
    assert ProcessedEvent.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_publish_each_event_exactly_once(kafka_settings: Any, topic: str) -> None:
    # given
    kafka_settings.OUTBOX_BATCH_SIZE = 5
    events = [event for i in range(6) for event in _emit(topic, f"order-{i}", n=5)]
    relays = [OutboxRelay(), OutboxRelay()]
    for relay in relays:
        relay.prepare()
    results: list[Any] = []
    start = threading.Barrier(2)

    def run(relay: OutboxRelay) -> None:
        try:
            start.wait(timeout=10)
            results.append(relay.run_once())
        finally:
            relay.close()
            connections.close_all()

    # when
    threads = [threading.Thread(target=run, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then
    messages = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=30)
    assert Counter(_headers(m)["ce_id"] for m in messages) == {str(e.id): 1 for e in events}
    assert sum(r.sent for r in results) == 30
    assert sum(r.failed for r in results) == 0
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_relay_recovers_when_the_broker_restarts_empty_while_its_producer_is_retrying(
    kafka_settings: Any, topic: str, tansu_broker: TansuBroker
) -> None:
    # given: a running relay whose idempotent producer has a producer id on the broker
    kafka_settings.KAFKA_BOOTSTRAP_SERVERS = tansu_broker.bootstrap
    kafka_settings.OUTBOX_DELIVERY_TIMEOUT_SECONDS = 2.0
    with _warm_relay(topic):
        # when: the broker restarts at once, without its state, while events are in flight; librdkafka
        # retries them under the forgotten producer id and reports only "message timed out"
        tansu_broker.stop()
        events = _emit(topic, "order-7", n=2)
        tansu_broker.start()

        # then: the relay replaces its producer and every event is delivered
        poll(lambda: not OutboxEvent.objects.filter(sent_at__isnull=True).exists(), seconds=40, what="delivery")
    messages = read_topic(tansu_broker.bootstrap, topic, count=2)
    assert sorted(_headers(m)["ce_id"] for m in messages) == sorted(str(e.id) for e in events)


@pytest.mark.django_db
def test_the_relay_runs_no_job_a_service_lists_in_its_settings(settings: Any) -> None:
    # given: a job in SHOP_PERIODIC_TASKS, due (the relay ran such jobs once: orders' expiry hid there)
    ran: list[str] = []
    import shopkit_tests

    shopkit_tests.listed_job = lambda: ran.append("listed")  # type: ignore[attr-defined]
    settings.SHOP_PERIODIC_TASKS = [("shopkit_tests.listed_job", 0)]
    relay = OutboxRelay()

    # when: its loop's housekeeping comes due
    relay.purge_when_due()

    # then: a service's own work runs in a process of its own (orders-expirer), not in the relay
    assert ran == []
