"""Reads of the events package: the outbox backlog, dead rows and held rows the relay reports as metrics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, Min, OuterRef

from shopkit.events.models import OutboxEvent


@dataclass(frozen=True)
class OutboxBacklog:
    unsent: int
    oldest_created_at: dt.datetime | None
    # Rows the relay gave up on, and rows held behind a dead row of their key (per-key order).
    dead: int = 0
    held: int = 0


def outbox_backlog() -> OutboxBacklog:
    """Unsent rows the relay is working through, apart from dead rows and the rows they hold back
    (those are the OutboxDeadRows alert's, not a slow relay's)."""
    undelivered = OutboxEvent.objects.filter(sent_at__isnull=True)
    behind_dead = Exists(
        OutboxEvent.objects.filter(
            topic=OuterRef("topic"),
            key=OuterRef("key"),
            created_at__lt=OuterRef("created_at"),
            sent_at__isnull=True,
            dead_at__isnull=False,
        )
    )
    alive = undelivered.filter(dead_at__isnull=True)
    dead = undelivered.filter(dead_at__isnull=False).count()
    held = alive.filter(behind_dead).count() if dead else 0
    flowing = alive.exclude(behind_dead) if dead else alive
    stats = flowing.aggregate(unsent=Count("id"), oldest=Min("created_at"))
    return OutboxBacklog(unsent=stats["unsent"], oldest_created_at=stats["oldest"], dead=dead, held=held)
