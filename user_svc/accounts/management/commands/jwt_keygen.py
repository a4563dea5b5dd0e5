"""`jwt_keygen`: create the RSA signing key (JWT_PRIVATE_KEY_FILE, mode 0600) unless it exists; rotate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from user_svc.accounts import keys


class Command(BaseCommand):
    help = (
        "Create the users service's RSA-2048 JWT signing key when it is missing (never overwrites one); "
        "--rotate replaces it and keeps the old public key as the previous one; --drop-previous ends the overlap."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--rotate",
            action="store_true",
            help="new signing key; the current one's public half goes to JWT_PREVIOUS_PUBLIC_KEY_FILE",
        )
        action.add_argument(
            "--drop-previous",
            action="store_true",
            help="remove JWT_PREVIOUS_PUBLIC_KEY_FILE: tokens signed by the previous key stop verifying",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.JWT_PRIVATE_KEY_FILE)
        previous_path = Path(settings.JWT_PREVIOUS_PUBLIC_KEY_FILE)
        try:
            if options["rotate"]:
                rotation = keys.rotate(path, previous_path)
                self.stdout.write(
                    f"JWT signing key rotated: {path} (kid {rotation.kid}); "
                    f"previous key kept in {previous_path} (kid {rotation.previous_kid}). Reload users now."
                )
                return
            if options["drop_previous"]:
                dropped = keys.drop_previous(previous_path)
                if dropped is None:
                    self.stdout.write(f"No previous JWT key: {previous_path}")
                else:
                    self.stdout.write(f"Previous JWT key dropped: {previous_path} (kid {dropped}). Reload users now.")
                return
            created = keys.create_private_key_file(path)
            public_key = keys.load_private_key(path).public_key()
        except keys.KeyFileError as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if created else "exists"
        self.stdout.write(f"JWT signing key {verb}: {path} (kid {keys.key_id(public_key)})")
