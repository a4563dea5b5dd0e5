"""A test-only model: the database effect of test handlers, deliberately not unique per event."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class HandlerEffect(models.Model):
    """One row per handler run; a duplicate run would show as a second row for the same event."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.UUIDField()
    consumer_group = models.CharField(max_length=200)
    order_id = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.consumer_group} {self.event_id}"
