"""`expire_pending_orders`: give back the stock of checkouts left pending (run it periodically, e.g. cron)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from order_svc.orders.services import order_expire_pending


class Command(BaseCommand):
    help = "Release the stock of checkouts pending longer than --older-than seconds and mark them failed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, default=900, help="Seconds a checkout may stay pending.")

    def handle(self, *args: Any, **options: Any) -> None:
        older_than = options["older_than"]
        if older_than < 60:
            # A younger pending order may still be in the middle of its checkout request.
            raise ValueError("--older-than must be at least 60 seconds")
        expired = order_expire_pending(older_than=dt.timedelta(seconds=older_than))
        self.stdout.write(f"expired {expired} pending order(s)")
