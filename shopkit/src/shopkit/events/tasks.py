"""Periodic jobs of the events package (`SHOP_EVENTS_PERIODIC_TASKS`): purge sent outbox rows and old processed ids."""

from __future__ import annotations

import datetime as dt

from shopkit.events.conf import EventSettings
from shopkit.events.services import outbox_purge_sent, processed_event_purge
from shopkit.logging import get_logger

log = get_logger(__name__)


def purge_sent_outbox_rows() -> int:
    """Delete outbox rows published more than OUTBOX_RETENTION_DAYS ago (0 keeps them forever)."""
    days = EventSettings.load().retention_days
    if days <= 0:
        return 0
    deleted = outbox_purge_sent(older_than=dt.timedelta(days=days))
    log.info("outbox_sent_rows_purged", deleted=deleted, retention_days=days)
    return deleted


def purge_processed_events() -> int:
    """Delete processed-event ids older than PROCESSED_EVENT_RETENTION_DAYS (0 keeps them forever)."""
    days = EventSettings.load().processed_retention_days
    if days <= 0:
        return 0
    deleted = processed_event_purge(older_than=dt.timedelta(days=days))
    log.info("processed_events_purged", deleted=deleted, retention_days=days)
    return deleted
