"""Writes of the events package: emitting into the outbox, the relay's claims and outcomes, processed events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from shopkit.events.envelope import Event, build_envelope
from shopkit.events.errors import EmitOutsideTransaction, InvalidEvent
from shopkit.events.models import (
    EVENT_TYPE_MAX_LENGTH,
    KEY_MAX_LENGTH,
    TOPIC_MAX_LENGTH,
    OutboxEvent,
    ProcessedEvent,
)
from shopkit.events.propagation import capture_trace_headers
from shopkit.logging import get_logger

log = get_logger(__name__)

LAST_ERROR_MAX_LENGTH = 2000
PURGE_BATCH_SIZE = 1000
# The longest wait before a refused row is tried again.
MAX_ROW_BACKOFF_SECONDS = 300.0


def _check_bound(name: str, value: str, limit: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise InvalidEvent(f"{name} is longer than {limit} characters")


def outbox_event_emit(
    *, topic: str, event_type: str, key: str, data: dict[str, Any], subject: str | None = None
) -> OutboxEvent:
    """Store the event's envelope and the current trace context; the relay publishes it after commit.

    Deliberately not atomic itself: the row must commit or roll back with the caller's change.
    """
    if not connection.in_atomic_block:
        raise EmitOutsideTransaction(
            "emit_event() must run inside transaction.atomic(), in the transaction of the change it describes"
        )
    _check_bound("topic", topic, TOPIC_MAX_LENGTH)
    _check_bound("event_type", event_type, EVENT_TYPE_MAX_LENGTH)
    _check_bound("key", key, KEY_MAX_LENGTH)
    if subject is not None and not isinstance(subject, str):
        raise InvalidEvent("subject must be a string or None")
    if not isinstance(data, dict):
        raise InvalidEvent("data must be a dict (a JSON object)")
    event_id = uuid.uuid4()
    now = timezone.now()
    payload = build_envelope(
        event_id=event_id,
        event_type=event_type,
        source=f"/shop/{settings.SERVICE_NAME}",
        time=now,
        subject=subject,
        data=data,
    )
    # No full_clean(): its uniqueness check would add a query to every checkout; bounds are checked above.
    event = OutboxEvent.objects.create(
        id=event_id,
        topic=topic,
        key=key,
        event_type=event_type,
        payload=payload,
        headers=capture_trace_headers(),
        created_at=now,
    )
    log.debug("outbox_event_emitted", event_id=str(event_id), event_type=event_type, topic=topic)
    return event


def _waiting_earlier_row_of_same_key(now: dt.datetime) -> Exists:
    """An earlier undelivered row of the same topic and key that no relay may take now: dead, waiting
    before its retry, or claimed by a relay. Its later rows wait too, so each key stays in order."""
    return Exists(
        OutboxEvent.objects.filter(
            topic=OuterRef("topic"),
            key=OuterRef("key"),
            created_at__lt=OuterRef("created_at"),
            sent_at__isnull=True,
        ).filter(Q(dead_at__isnull=False) | Q(claimed_until__gt=now))
    )


@transaction.atomic
def outbox_claim_batch(*, limit: int, lease: dt.timedelta) -> list[OutboxEvent]:
    """Claim the oldest unsent rows for one relay for `lease`; rows another relay holds are skipped, and
    so are dead rows and the rows of a key behind an earlier row that waits or is dead.

    The claim is a short transaction, so no database lock is held while Kafka is slow or down.
    """
    now = timezone.now()
    pending = (
        OutboxEvent.objects.filter(sent_at__isnull=True, dead_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .exclude(_waiting_earlier_row_of_same_key(now))
        .order_by("created_at")
    )
    if connection.features.has_select_for_update_skip_locked:
        pending = pending.select_for_update(skip_locked=True)
    events = list(pending[:limit])
    if events:
        OutboxEvent.objects.filter(id__in=[e.id for e in events]).update(claimed_until=now + lease, updated_at=now)
    return events


def outbox_mark_sent(*, event_ids: Collection[uuid.UUID]) -> int:
    if not event_ids:
        return 0
    now = timezone.now()
    return OutboxEvent.objects.filter(id__in=event_ids).update(
        sent_at=now, claimed_until=None, last_error="", updated_at=now
    )


def outbox_release(*, event_ids: Collection[uuid.UUID], error: str = "") -> int:
    """Release the claim of rows that failed for a reason not their own (broker down, producer reset)
    or were not tried: the next loop retries them in order, and no attempt is counted against them."""
    if not event_ids:
        return 0
    changes: dict[str, Any] = {"claimed_until": None, "updated_at": timezone.now()}
    if error:
        changes["last_error"] = error[:LAST_ERROR_MAX_LENGTH]
    return OutboxEvent.objects.filter(id__in=event_ids, sent_at__isnull=True).update(**changes)


def outbox_row_backoff(*, attempts: int, base_seconds: float) -> dt.timedelta:
    """The wait before a row refused `attempts` times is tried again: doubling, at most 5 minutes."""
    return dt.timedelta(seconds=min(MAX_ROW_BACKOFF_SECONDS, base_seconds * 2 ** max(0, attempts - 1)))


@transaction.atomic
def outbox_mark_refused(
    *, events: Collection[OutboxEvent], error: str, max_attempts: int, backoff_seconds: float
) -> list[OutboxEvent]:
    """Count an attempt the broker refused the rows for (too large, not authorized, invalid): each waits
    longer before its next try, and a row that reaches `max_attempts` is marked dead. Returns the dead."""
    now = timezone.now()
    dead: list[OutboxEvent] = []
    for event in events:
        attempts = event.attempts + 1
        changes: dict[str, Any] = {"attempts": attempts, "last_error": error[:LAST_ERROR_MAX_LENGTH], "updated_at": now}
        if attempts >= max_attempts:
            changes.update(dead_at=now, claimed_until=None)
        else:
            changes["claimed_until"] = now + outbox_row_backoff(attempts=attempts, base_seconds=backoff_seconds)
        if OutboxEvent.objects.filter(id=event.id, sent_at__isnull=True).update(**changes) and attempts >= max_attempts:
            event.attempts, event.dead_at = attempts, now
            dead.append(event)
    return dead


@transaction.atomic
def outbox_requeue_dead(*, event_ids: Collection[uuid.UUID], requested_by: str) -> list[uuid.UUID]:
    """Give dead rows a fresh set of attempts (staff fixed the cause): the relay publishes them, then the
    rows of their keys held behind them, in order. Returns the ids requeued."""
    rows = list(
        OutboxEvent.objects.select_for_update()
        .filter(id__in=event_ids, dead_at__isnull=False, sent_at__isnull=True)
        .values_list("id", "event_type", "key", "attempts", "last_error")
    )
    requeued = [row[0] for row in rows]
    OutboxEvent.objects.filter(id__in=requeued).update(
        dead_at=None, attempts=0, claimed_until=None, updated_at=timezone.now()
    )
    for event_id, event_type, key, attempts, last_error in rows:
        log.warning(
            "outbox_dead_row_requeued",
            event_id=str(event_id),
            event_type=event_type,
            key=key,
            attempts=attempts,
            last_error=last_error,
            requested_by=requested_by,
        )
    return requeued


def _delete_in_batches(queryset: QuerySet[Any]) -> int:
    """Delete in primary-key batches: one big DELETE would hold its locks (and SQLite's writer) for long."""
    deleted = 0
    while batch := list(queryset.values_list("pk", flat=True)[:PURGE_BATCH_SIZE]):
        count, _ = queryset.model.objects.filter(pk__in=batch).delete()
        deleted += count
        if len(batch) < PURGE_BATCH_SIZE:
            break
    return deleted


def outbox_purge_sent(*, older_than: dt.timedelta) -> int:
    """Delete rows published more than `older_than` ago; unsent and dead rows are never purged."""
    return _delete_in_batches(OutboxEvent.objects.filter(sent_at__lt=timezone.now() - older_than))


def processed_event_purge(*, older_than: dt.timedelta) -> int:
    """Forget events handled more than `older_than` ago: longer than any redelivery or replay can come."""
    return _delete_in_batches(ProcessedEvent.objects.filter(created_at__lt=timezone.now() - older_than))


def processed_event_record(*, consumer_group: str, event: Event) -> bool:
    """Record that `consumer_group` handled `event`; False when it already had (a duplicate).

    Runs inside the handler's transaction: a concurrent duplicate waits on the unique index.
    """
    _, created = ProcessedEvent.objects.get_or_create(
        consumer_group=consumer_group,
        event_id=event.id,
        defaults={"event_type": event.type[:EVENT_TYPE_MAX_LENGTH], "topic": event.topic[:TOPIC_MAX_LENGTH]},
    )
    return created
