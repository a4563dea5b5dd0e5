"""Retention: sent outbox rows and processed-event ids are purged by the consumers' periodic jobs and by the relay."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from shopkit.events import services
from shopkit.events.models import OutboxEvent, ProcessedEvent
from shopkit.events.relay import OutboxRelay
from shopkit.events.services import outbox_event_emit
from shopkit.periodic import PeriodicTasks

pytestmark = pytest.mark.django_db


def _processed(*, days_ago: float) -> ProcessedEvent:
    return ProcessedEvent.objects.create(
        consumer_group="carts",
        event_id=uuid.uuid4(),
        event_type="shop.order.confirmed.v1",
        topic="shop.orders",
        created_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def _outbox(*, sent_days_ago: float | None, dead: bool = False) -> OutboxEvent:
    with transaction.atomic():
        event = outbox_event_emit(topic="shop.orders", event_type="shop.test.sequenced.v1", key="k", data={})
    long_ago = timezone.now() - dt.timedelta(days=40)
    OutboxEvent.objects.filter(id=event.id).update(
        created_at=long_ago,
        sent_at=None if sent_days_ago is None else timezone.now() - dt.timedelta(days=sent_days_ago),
        dead_at=long_ago if dead else None,
    )
    return event


@pytest.fixture
def events_jobs(settings: Any) -> Any:
    """The service settings' periodic jobs: the events package's purges (as every service lists them)."""
    settings.SHOP_PERIODIC_TASKS = list(settings.SHOP_EVENTS_PERIODIC_TASKS)
    settings.OUTBOX_RETENTION_DAYS = 7
    settings.PROCESSED_EVENT_RETENTION_DAYS = 30
    return settings


def test_the_consumers_periodic_jobs_forget_processed_events_past_retention_in_batches(
    events_jobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: five ids past the 30 days (more than one delete batch) and two within
    monkeypatch.setattr(services, "PURGE_BATCH_SIZE", 2)
    for _ in range(5):
        _processed(days_ago=31)
    kept = {_processed(days_ago=29).id, _processed(days_ago=0).id}

    # when: the consumer loop's periodic jobs come due
    PeriodicTasks().run_due()

    # then
    assert set(ProcessedEvent.objects.values_list("id", flat=True)) == kept


def test_the_relays_purge_deletes_only_sent_rows_past_retention_once_per_interval(events_jobs: Any) -> None:
    # given
    old_sent = _outbox(sent_days_ago=8)
    recent_sent = _outbox(sent_days_ago=6)
    old_unsent = _outbox(sent_days_ago=None)
    old_dead = _outbox(sent_days_ago=None, dead=True)
    relay = OutboxRelay()

    # when: its loop's purge comes due twice in a row; the second turn waits for EVENT_PURGE_INTERVAL_SECONDS
    relay.purge_when_due()
    again = _outbox(sent_days_ago=8)
    relay.purge_when_due()

    # then: unsent and dead rows are never purged, whatever their age
    assert set(OutboxEvent.objects.values_list("id", flat=True)) == {
        recent_sent.id,
        old_unsent.id,
        old_dead.id,
        again.id,
    }
    assert not OutboxEvent.objects.filter(id=old_sent.id).exists()


def test_a_retention_of_zero_days_keeps_everything(events_jobs: Any) -> None:
    # given
    events_jobs.OUTBOX_RETENTION_DAYS = 0
    events_jobs.PROCESSED_EVENT_RETENTION_DAYS = 0
    processed = _processed(days_ago=400)
    sent = _outbox(sent_days_ago=400)

    # when
    PeriodicTasks().run_due()

    # then
    assert ProcessedEvent.objects.filter(id=processed.id).exists()
    assert OutboxEvent.objects.filter(id=sent.id).exists()


def test_a_failing_periodic_job_is_logged_and_never_stops_the_consumers_other_jobs(settings: Any) -> None:
    # given: one job that fails and one that works, both due
    ran: list[str] = []

    def broken() -> None:
        ran.append("broken")
        raise RuntimeError("boom")

    def working() -> None:
        ran.append("working")

    import shopkit_tests

    shopkit_tests.broken_job, shopkit_tests.working_job = broken, working  # type: ignore[attr-defined]
    settings.SHOP_PERIODIC_TASKS = [("shopkit_tests.broken_job", 60), ("shopkit_tests.working_job", 0)]
    periodic = PeriodicTasks()

    # when: two turns of the consumer's loop
    periodic.run_due()
    periodic.run_due()

    # then: the failure did not stop the other job; each runs at most once per interval
    assert ran == ["broken", "working", "working"]
