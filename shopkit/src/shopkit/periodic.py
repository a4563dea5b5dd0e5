"""A service's periodic jobs (`SHOP_PERIODIC_TASKS`), run by the background process the service already has."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

from shopkit.logging import get_logger

log = get_logger(__name__)


class PeriodicTasks:
    """Runs each `(dotted path, interval in seconds)` of `SHOP_PERIODIC_TASKS` when its turn comes.

    The outbox relay (orders: expiring checkouts left pending) and the event consumer (products:
    expiring reservations no order confirmed) call `run_due()` in their loops, so no scheduler
    process is needed. A job that fails is logged and tried again at its next turn; it never stops
    the loop that runs it.
    """

    def __init__(self) -> None:
        self._next: dict[str, float] = {}

    def run_due(self) -> None:
        now = time.monotonic()
        for path, interval in getattr(settings, "SHOP_PERIODIC_TASKS", ()):
            if now < self._next.get(path, 0.0):
                continue
            self._next[path] = now + float(interval)
            if not connection.in_atomic_block:  # (a test's transaction) drop connections a restart broke
                close_old_connections()
            try:
                import_string(path)()
            except Exception:  # noqa: BLE001 - a periodic job must not end the loop that runs it
                log.exception("periodic_task_failed", task=path)
