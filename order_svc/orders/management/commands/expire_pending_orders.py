"""`expire_pending_orders`: give back the stock of checkouts left pending, once or every `--every` seconds.

With `--every` it is the `orders-expirer` process of `make run` and compose: it loops until SIGTERM/SIGINT
and serves its metrics on METRICS_PORT (its health check, like the relays' and consumers'). Without, it
runs once and exits (a runbook, cron).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import structlog
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from order_svc.orders.metrics import expiry_metrics
from order_svc.orders.services import order_expire_pending
from shopkit.events.metrics import serve_metrics
from shopkit.process import stop_on_signals

log = structlog.get_logger(__name__)

# A younger pending order may still be in the middle of its checkout request.
MIN_OLDER_THAN_SECONDS = 60


class Command(BaseCommand):
    help = "Fail checkouts pending longer than --older-than seconds and release their stock; with --every, repeat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            help="Seconds a checkout may stay pending (default ORDER_PENDING_EXPIRY_SECONDS; at least 60).",
        )
        parser.add_argument(
            "--every",
            type=float,
            default=None,
            help="Run again every this many seconds until SIGTERM or SIGINT, serving metrics on METRICS_PORT.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        older_than = options["older_than"]
        if older_than is None:
            older_than = int(settings.ORDER_PENDING_EXPIRY_SECONDS)
        if older_than < MIN_OLDER_THAN_SECONDS:
            raise CommandError(f"--older-than must be at least {MIN_OLDER_THAN_SECONDS} seconds")
        every = options["every"]
        if every is None:
            expired = self._expire(older_than)
            self.stdout.write(f"expired {expired} pending order(s)")
            return
        if every <= 0:
            raise CommandError("--every must be a positive number of seconds")
        self._loop(older_than=older_than, every=every)

    def _loop(self, *, older_than: int, every: float) -> None:
        # First, so a supervisor sees the process alive even while the database is still down.
        serve_metrics(int(settings.METRICS_PORT))
        expiry_metrics()  # its series at 0 before the first run ends
        with stop_on_signals(threading.Event()) as stop:
            log.info("order_expirer_started", every_seconds=every, older_than_seconds=older_than)
            while not stop.is_set():
                # Long-running process: drop connections past CONN_MAX_AGE or broken by a database restart.
                close_old_connections()
                try:
                    self._expire(older_than)
                except Exception:
                    expiry_metrics().runs.labels(outcome="failed").inc()
                    log.exception("pending_orders_expiry_failed")
                stop.wait(every)
        log.info("order_expirer_stopped")

    @staticmethod
    def _expire(older_than: int) -> int:
        expired = order_expire_pending(older_than=dt.timedelta(seconds=older_than))
        metrics = expiry_metrics()
        metrics.expired.inc(expired)
        metrics.runs.labels(outcome="ok").inc()
        return expired
