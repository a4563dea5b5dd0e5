"""Reads of the events package: the outbox backlog the relay reports as metrics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Min

from shopkit.events.models import OutboxEvent


@dataclass(frozen=True)
class OutboxBacklog:
    unsent: int
    oldest_created_at: dt.datetime | None


def outbox_backlog() -> OutboxBacklog:
    stats = OutboxEvent.objects.filter(sent_at__isnull=True).aggregate(unsent=Count("id"), oldest=Min("created_at"))
    return OutboxBacklog(unsent=stats["unsent"], oldest_created_at=stats["oldest"])
