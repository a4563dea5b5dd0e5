"""`manage.py outbox_relay`: publish this service's outbox to Kafka until SIGTERM (or once, with --once)."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from shopkit.events.conf import EventSettings
from shopkit.events.metrics import serve_metrics
from shopkit.events.relay import OutboxRelay
from shopkit.process import stop_on_signals


class Command(BaseCommand):
    help = "Publish committed outbox events to Kafka (idempotent producer, at least once, in order)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Publish what is pending now, then exit.")
        parser.add_argument("--purge", action="store_true", help="With --once: also delete old sent rows.")

    def handle(self, *args: Any, **options: Any) -> None:
        conf = EventSettings.load()
        # First, so a supervisor sees the process alive even while the broker is still down.
        serve_metrics(conf.metrics_port)
        relay = OutboxRelay(conf)
        try:
            if options["once"]:
                relay.prepare()
                result = relay.run_once()
                purged = relay.purge() if options["purge"] else 0
                self.stdout.write(f"published {result.sent}, failed {result.failed}, purged {purged}")
            else:
                with stop_on_signals(threading.Event()) as stop:
                    relay.run(stop)
        finally:
            relay.close()
