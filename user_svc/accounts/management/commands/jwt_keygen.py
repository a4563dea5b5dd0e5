"""`jwt_keygen`: create the RSA signing key (JWT_PRIVATE_KEY_FILE, mode 0600) unless it exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from user_svc.accounts import keys


class Command(BaseCommand):
    help = "Create the users service's RSA-2048 JWT signing key when it is missing (never overwrites one)."

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.JWT_PRIVATE_KEY_FILE)
        created = keys.create_private_key_file(path)
        try:
            public_key = keys.load_private_key(path).public_key()
        except keys.KeyFileError as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if created else "exists"
        self.stdout.write(f"JWT signing key {verb}: {path} (kid {keys.key_id(public_key)})")
