"""A service's periodic jobs (`SHOP_PERIODIC_TASKS`), run by its event consumer process between messages."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

from shopkit.logging import get_logger

log = get_logger(__name__)


class PeriodicTasks:
    """Runs each `(dotted path, interval in seconds)` of `SHOP_PERIODIC_TASKS` when its turn comes.

    The event consumer (products: expiring reservations no order confirmed; every consumer: the events'
    purges) calls `run_due()` in its loop. The outbox relay runs none of them: it purges its own sent
    rows, and work of a service without a consumer is a process of its own (orders-expirer). A job
    that fails is logged and tried again at its next turn; it never stops the loop that runs it.
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
            except Exception:
                log.exception("periodic_task_failed", task=path)
