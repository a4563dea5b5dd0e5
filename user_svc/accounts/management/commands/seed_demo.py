"""`seed_demo`: the demo customer (never in production) and the staff account (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shopkit.commands import LogOutputMixin
from shopkit.errors import ApplicationError
from shopkit.settings import is_production
from user_svc.accounts import services
from user_svc.accounts.selectors import user_find_by_email

DEMO_CUSTOMER_EMAIL = "customer@example.com"
DEMO_CUSTOMER_PASSWORD = "customer-demo-pass"  # noqa: S105 - the documented demo account


class Command(LogOutputMixin, BaseCommand):
    help = (
        "Create the demo customer (not in production) and the staff superuser "
        "(SHOP_DEMO_STAFF_EMAIL / SHOP_DEMO_STAFF_PASSWORD)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        staff_email, staff_password = settings.SHOP_DEMO_STAFF_EMAIL, settings.SHOP_DEMO_STAFF_PASSWORD
        if not staff_email or not staff_password:
            raise CommandError("SHOP_DEMO_STAFF_EMAIL and SHOP_DEMO_STAFF_PASSWORD must be set")
        try:
            if is_production():
                # A customer whose password is in the README would be anyone's account. Production's
                # only seed is its first staff superuser, from the environment (docs/security.md).
                self.stdout.write("users: no demo customer in production (SHOP_ENV=production)")
            else:
                self._customer()
            self._staff(staff_email, staff_password)
        except ApplicationError as exc:
            raise CommandError(f"{exc.detail} {exc.extra.get('errors', '')}".strip()) from exc

    def _customer(self) -> None:
        if user_find_by_email(email=DEMO_CUSTOMER_EMAIL) is not None:
            self.stdout.write(f"users: demo customer {DEMO_CUSTOMER_EMAIL} already exists")
            return
        services.user_register(
            email=DEMO_CUSTOMER_EMAIL, password=DEMO_CUSTOMER_PASSWORD, first_name="Ada", last_name="Lovelace"
        )
        self.stdout.write(f"users: created demo customer {DEMO_CUSTOMER_EMAIL} / {DEMO_CUSTOMER_PASSWORD}")

    def _staff(self, email: str, password: str) -> None:
        if user_find_by_email(email=email) is not None:
            self.stdout.write(f"users: staff {email} already exists")
            return
        services.user_staff_create(email=email, password=password, first_name="Shop", last_name="Staff")
        # Locally the sign-in is printed so a newcomer can open the admins (`make run` shows it in its
        # banner); in production it is a real secret from the environment and output goes to the logs.
        shown = "SHOP_DEMO_STAFF_PASSWORD" if is_production() else password
        self.stdout.write(f"users: created staff superuser {email} / {shown}")
