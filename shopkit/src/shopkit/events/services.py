"""Writes of the events package: emitting into the outbox, the relay's claims and outcomes, processed events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
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


@transaction.atomic
def outbox_claim_batch(*, limit: int, lease: dt.timedelta) -> list[OutboxEvent]:
    """Claim the oldest unsent rows for one relay for `lease`; rows another relay holds are skipped.

    The claim is a short transaction, so no database lock is held while Kafka is slow or down.
    """
    now = timezone.now()
    pending = (
        OutboxEvent.objects.filter(sent_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
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


def outbox_mark_failed(*, event_ids: Collection[uuid.UUID], error: str) -> int:
    """Count a failed attempt and release the claim, so the next loop retries the rows in order."""
    if not event_ids:
        return 0
    return OutboxEvent.objects.filter(id__in=event_ids, sent_at__isnull=True).update(
        attempts=F("attempts") + 1,
        last_error=error[:LAST_ERROR_MAX_LENGTH],
        claimed_until=None,
        updated_at=timezone.now(),
    )


def outbox_purge_sent(*, older_than: dt.timedelta) -> int:
    deleted, _ = OutboxEvent.objects.filter(sent_at__lt=timezone.now() - older_than).delete()
    return deleted


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
