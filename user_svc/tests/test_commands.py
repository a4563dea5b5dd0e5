"""Management commands: jwt_keygen and seed_demo."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from shopkit.events.models import OutboxEvent
from user_svc.accounts import keys
from user_svc.accounts.models import User


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_jwt_keygen_creates_a_private_key_readable_only_by_its_owner(settings: Any, tmp_path: Path) -> None:
    # given
    path = tmp_path / "jwt" / "private.pem"
    settings.JWT_PRIVATE_KEY_FILE = path

    # when
    output = _run("jwt_keygen")

    # then
    key = keys.load_private_key(path)
    assert key.key_size == 2048
    assert path.stat().st_mode & 0o777 == 0o600
    assert output == f"JWT signing key created: {path} (kid {keys.key_id(key.public_key())})\n"


def test_jwt_keygen_never_replaces_an_existing_key(settings: Any, tmp_path: Path) -> None:
    # given
    path = tmp_path / "private.pem"
    settings.JWT_PRIVATE_KEY_FILE = path
    _run("jwt_keygen")
    before = path.read_bytes()

    # when
    output = _run("jwt_keygen")

    # then
    assert path.read_bytes() == before
    assert output.startswith(f"JWT signing key exists: {path}")
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.django_db
def test_seed_demo_creates_customer_and_staff_once(settings: Any) -> None:
    # given
    settings.SHOP_DEMO_STAFF_EMAIL = "boss@example.com"
    settings.SHOP_DEMO_STAFF_PASSWORD = "a-staff-passphrase"

    # when
    first = _run("seed_demo")
    second = _run("seed_demo")

    # then
    assert first.splitlines() == [
        "users: created demo customer customer@example.com / customer-demo-pass",
        "users: created staff superuser boss@example.com / a-staff-passphrase",
    ]
    assert second.splitlines() == [
        "users: demo customer customer@example.com already exists",
        "users: staff boss@example.com already exists",
    ]
    customer = User.objects.get(email="customer@example.com")
    assert (customer.first_name, customer.last_name, customer.is_staff) == ("Ada", "Lovelace", False)
    assert customer.check_password("customer-demo-pass")
    staff = User.objects.get(email="boss@example.com")
    assert (staff.is_staff, staff.is_superuser, staff.is_active) == (True, True, True)
    assert staff.check_password("a-staff-passphrase")
    assert User.objects.count() == 2
    assert OutboxEvent.objects.filter(key=str(customer.id)).count() == 1


@pytest.mark.django_db
def test_seed_demo_defaults_to_the_documented_staff_account_in_development(settings: Any) -> None:
    # when: the development defaults of user_svc.settings
    _run("seed_demo")

    # then
    assert User.objects.get(email=settings.SHOP_DEMO_STAFF_EMAIL).check_password(settings.SHOP_DEMO_STAFF_PASSWORD)
    assert (settings.SHOP_DEMO_STAFF_EMAIL, settings.SHOP_DEMO_STAFF_PASSWORD) == (
        "staff@example.com",
        "staff-demo-pass",
    )


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_without_staff_credentials(settings: Any) -> None:
    # given: production settings have no default staff credentials
    settings.SHOP_DEMO_STAFF_EMAIL = ""
    settings.SHOP_DEMO_STAFF_PASSWORD = ""

    # when
    with pytest.raises(CommandError, match="SHOP_DEMO_STAFF_EMAIL and SHOP_DEMO_STAFF_PASSWORD must be set"):
        _run("seed_demo")

    # then
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_seed_demo_refuses_a_weak_staff_password(settings: Any) -> None:
    # given
    settings.SHOP_DEMO_STAFF_PASSWORD = "password"

    # when
    with pytest.raises(CommandError, match="too common"):
        _run("seed_demo")

    # then: nothing half-done for the staff account
    assert not User.objects.filter(is_staff=True).exists()


@pytest.mark.django_db
def test_seed_demo_in_production_does_not_print_the_staff_password(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the full stack (SHOP_ENV=production), where command output ends up in the logs
    monkeypatch.setenv("SHOP_ENV", "production")
    settings.SHOP_DEMO_STAFF_EMAIL = "ops@example.com"
    settings.SHOP_DEMO_STAFF_PASSWORD = "a-real-secret-from-env"

    # when
    output = _run("seed_demo")

    # then
    assert "a-real-secret-from-env" not in output
    assert "users: created staff superuser ops@example.com / SHOP_DEMO_STAFF_PASSWORD" in output
