"""Outbox rows the broker keeps refusing: capped attempts, dead rows, per-key holds, requeue by staff, metrics."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from shopkit.events.models import OutboxEvent
from shopkit.events.relay import OutboxRelay
from shopkit.events.services import outbox_event_emit
from shopkit.testing.kafka import read_topic

pytestmark = pytest.mark.django_db

CREATED = "shop.test.sequenced.v1"
# Over librdkafka's default message.max.bytes (1 MB): the producer refuses the row every time.
TOO_LARGE = "x" * 1_100_000


def _emit(topic: str, key: str, **data: Any) -> OutboxEvent:
    with transaction.atomic():
        return outbox_event_emit(topic=topic, event_type=CREATED, key=key, subject=key, data=data)


def _ce_ids(messages: list[Any]) -> list[str]:
    return [dict(m.headers())["ce_id"].decode() for m in messages]


def _sample(name: str, labels: dict[str, str] | None = None) -> float | None:
    return REGISTRY.get_sample_value(name, labels or {})


def _relay_until_settled(relay: OutboxRelay, *, rounds: int) -> None:
    """Run the relay's loop body `rounds` times (each an attempt for a refused row past its wait)."""
    for _ in range(rounds):
        relay.run_once()


def test_a_row_the_broker_keeps_refusing_dies_after_the_cap_and_holds_only_its_own_key(
    kafka_settings: Any, topic: str, events_log: list[dict[str, Any]]
) -> None:
    # given: a row too large to publish, a later row of the same key, and a row of another key
    kafka_settings.OUTBOX_MAX_ATTEMPTS = 3
    kafka_settings.OUTBOX_RETRY_BACKOFF_SECONDS = 0
    dead_total_before = _sample("shop_outbox_dead_total", {"topic": topic}) or 0
    poison = _emit(topic, "order-a", blob=TOO_LARGE)
    held = _emit(topic, "order-a", seq=2)
    other = _emit(topic, "order-b", seq=1)
    relay = OutboxRelay()
    relay.prepare()

    # when: the relay runs as often as the cap allows, and once more
    try:
        _relay_until_settled(relay, rounds=4)
    finally:
        relay.close()

    # then: the refused row is dead after exactly 3 attempts, with the broker's reason
    poison.refresh_from_db()
    assert (poison.attempts, poison.sent_at, poison.claimed_until) == (3, None, None)
    assert poison.dead_at is not None
    assert "MSG_SIZE_TOO_LARGE" in poison.last_error
    # the later row of its key waits behind it, untried; the other key was published
    held.refresh_from_db()
    assert (held.sent_at, held.dead_at, held.attempts) == (None, None, 0)
    assert OutboxEvent.objects.get(id=other.id).sent_at is not None
    assert _ce_ids(read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=1)) == [str(other.id)]
    # and it is counted: dead and held rows apart from the backlog a slow relay would have
    assert _sample("shop_outbox_dead_rows") == 1
    assert _sample("shop_outbox_held_rows") == 1
    assert _sample("shop_outbox_backlog") == 0
    assert _sample("shop_outbox_dead_total", {"topic": topic}) == dead_total_before + 1
    [dead_log] = [e for e in events_log if e["event"] == "outbox_row_dead"]
    assert (dead_log["event_id"], dead_log["key"], dead_log["attempts"]) == (str(poison.id), "order-a", 3)


def test_a_refused_row_waits_before_its_next_attempt_and_does_not_slow_the_other_keys(
    kafka_settings: Any, topic: str
) -> None:
    # given: a refused row with a long wait before its next attempt
    kafka_settings.OUTBOX_MAX_ATTEMPTS = 5
    kafka_settings.OUTBOX_RETRY_BACKOFF_SECONDS = 3600
    poison = _emit(topic, "order-a", blob=TOO_LARGE)
    relay = OutboxRelay()
    relay.prepare()
    try:
        first = relay.run_once()
        # when: more rows come while it waits
        others = [_emit(topic, f"order-{i}", seq=i) for i in range(3)]
        second = relay.run_once()
    finally:
        relay.close()

    # then: one attempt so far; the next batch did not take it again and published the others at once
    poison.refresh_from_db()
    assert (first.claimed, first.sent, first.failed, first.retry_later) == (1, 0, 1, 0)
    assert (second.claimed, second.sent, second.failed) == (3, 3, 0)
    assert poison.attempts == 1
    assert poison.dead_at is None
    assert poison.claimed_until is not None
    # (the wait doubles per attempt from OUTBOX_RETRY_BACKOFF_SECONDS, at most 5 minutes)
    assert timezone.now() + dt.timedelta(minutes=4) < poison.claimed_until <= timezone.now() + dt.timedelta(minutes=5)
    messages = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=3)
    assert sorted(_ce_ids(messages)) == sorted(str(e.id) for e in others)


def test_staff_requeue_a_dead_row_from_the_admin_and_its_key_is_published_in_order(
    kafka_settings: Any, topic: str, staff_admin_client: Client, events_log: list[dict[str, Any]]
) -> None:
    # given: a row the relay gave up on (say the broker refused its topic until its ACL was fixed)
    # and a later row of its key held behind it
    dead = _emit(topic, "order-a", seq=1)
    OutboxEvent.objects.filter(id=dead.id).update(
        attempts=8, dead_at=timezone.now(), last_error="Broker: Topic authorization failed"
    )
    held = _emit(topic, "order-a", seq=2)
    relay = OutboxRelay()
    relay.prepare()
    try:
        assert relay.run_once().claimed == 0
        changelist = staff_admin_client.get("/admin/shop_events/outboxevent/", {"delivery": "dead"})
        assert changelist.status_code == 200
        assert str(dead.id) in changelist.text
        assert str(held.id) not in changelist.text

        # when
        response = staff_admin_client.post(
            "/admin/shop_events/outboxevent/",
            {"action": "requeue_dead_rows", "_selected_action": [str(dead.id), str(held.id)]},
        )
        result = relay.run_once()
    finally:
        relay.close()

    # then: the dead row goes first, then the row it held, on one partition
    assert response.status_code == 302
    assert (result.claimed, result.sent) == (2, 2)
    messages = read_topic(kafka_settings.KAFKA_BOOTSTRAP_SERVERS, topic, count=2)
    assert _ce_ids(messages) == [str(dead.id), str(held.id)]
    assert [json.loads(m.value())["data"]["seq"] for m in messages] == [1, 2]
    assert len({m.partition() for m in messages}) == 1
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 0
    [requeued] = [e for e in events_log if e["event"] == "outbox_dead_row_requeued"]
    assert (requeued["event_id"], requeued["requested_by"], requeued["attempts"]) == (
        str(dead.id),
        "staff@example.com",
        8,
    )


def test_a_row_that_is_not_dead_cannot_be_requeued(staff_admin_client: Client, kafka_settings: Any, topic: str) -> None:
    # given
    pending = _emit(topic, "order-a", seq=1)

    # when
    staff_admin_client.post(
        "/admin/shop_events/outboxevent/", {"action": "requeue_dead_rows", "_selected_action": [str(pending.id)]}
    )

    # then
    pending.refresh_from_db()
    assert (pending.attempts, pending.dead_at, pending.sent_at) == (0, None, None)
