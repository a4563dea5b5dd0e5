"""Outbox rows waiting for (or done with) the relay, and the events each consumer group has processed."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Kafka's own limit on topic names.
TOPIC_MAX_LENGTH = 249
EVENT_TYPE_MAX_LENGTH = 200
KEY_MAX_LENGTH = 200
CONSUMER_GROUP_MAX_LENGTH = 200


class OutboxEvent(models.Model):
    """One event, written in the transaction of the change it describes; the relay publishes it."""

    # The CloudEvents id: consumers deduplicate on it.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.CharField(max_length=TOPIC_MAX_LENGTH)
    key = models.CharField(max_length=KEY_MAX_LENGTH)
    event_type = models.CharField(max_length=EVENT_TYPE_MAX_LENGTH)
    payload = models.JSONField(encoder=DjangoJSONEncoder, help_text="The full CloudEvents JSON envelope.")
    headers = models.JSONField(default=dict, blank=True, help_text="W3C trace context captured at emit time.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # No relay takes the row before then: a relay's claim (a crashed relay's simply expires), or the
    # wait before retrying a row the broker refused.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(
        default=0, help_text="Publish attempts that failed because of this row (broker outages are not counted)."
    )
    last_error = models.TextField(blank=True, default="")
    # Set after OUTBOX_MAX_ATTEMPTS: the relay no longer tries the row, and holds back the later rows of
    # its key (per-key order) until staff publish it again or delete it (docs/runbooks/OutboxDeadRows.md).
    dead_at = models.DateTimeField(null=True, blank=True, help_text="When the relay gave up on this row.")

    class Meta:
        ordering = ("created_at",)
        indexes = (
            models.Index(fields=("created_at",), name="shop_outbox_unsent_idx", condition=Q(sent_at__isnull=True)),
            models.Index(fields=("sent_at",), name="shop_outbox_sent_idx", condition=Q(sent_at__isnull=False)),
            # The claim's "no earlier undelivered row of this key waits" check.
            models.Index(
                fields=("topic", "key", "created_at"),
                name="shop_outbox_key_unsent_idx",
                condition=Q(sent_at__isnull=True),
            ),
        )
        constraints = (
            models.CheckConstraint(condition=~Q(topic=""), name="shop_outbox_topic_not_empty"),
            models.CheckConstraint(condition=~Q(event_type=""), name="shop_outbox_type_not_empty"),
        )

    def __str__(self) -> str:
        return f"{self.event_type} {self.id}"


class ProcessedEvent(models.Model):
    """An event a consumer group has handled; written in the same transaction as the handler's changes."""

    id = models.BigAutoField(primary_key=True)
    consumer_group = models.CharField(max_length=CONSUMER_GROUP_MAX_LENGTH)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=EVENT_TYPE_MAX_LENGTH)
    topic = models.CharField(max_length=TOPIC_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("consumer_group", "event_id"), name="shop_processed_event_once"),
        )
        indexes = (models.Index(fields=("created_at",), name="shop_processed_created_idx"),)

    def __str__(self) -> str:
        return f"{self.consumer_group} {self.event_id}"
