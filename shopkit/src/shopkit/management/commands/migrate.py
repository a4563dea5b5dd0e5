"""`migrate`: Django's, logging one `migration_applied` event per migration and `migrations_done` in JSON mode.

Every service lists the shopkit app, and a command of an installed app takes precedence over Django's
own of the same name. Console mode (LOG_FORMAT=console) prints Django's usual text.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db.migrations import Migration

from shopkit.commands import LogOutputMixin
from shopkit.logging import get_logger

log = get_logger(__name__)


class Command(LogOutputMixin, DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        if settings.LOG_FORMAT != "json":
            super().handle(*args, **options)
            return
        self._applied = 0
        self._unapplied = 0
        self._started = time.monotonic()
        super().handle(*args, **options)
        if self.verbosity < 1:
            return
        log.info(
            "migrations_done",
            database=options["database"],
            applied=self._applied,
            unapplied=self._unapplied,
            seconds=round(time.monotonic() - self._started, 3),
        )

    def migration_progress_callback(self, action: str, migration: Migration | None = None, fake: bool = False) -> None:
        if settings.LOG_FORMAT != "json":
            super().migration_progress_callback(action, migration, fake)
            return
        if self.verbosity < 1:
            return
        if action in ("apply_start", "unapply_start"):
            self._migration_started = time.monotonic()
        elif action in ("apply_success", "unapply_success") and migration is not None:
            applied = action == "apply_success"
            if applied:
                self._applied += 1
            else:
                self._unapplied += 1
            log.info(
                "migration_applied" if applied else "migration_unapplied",
                app=migration.app_label,
                migration=migration.name,
                fake=fake,
                seconds=round(time.monotonic() - self._migration_started, 3),
            )
