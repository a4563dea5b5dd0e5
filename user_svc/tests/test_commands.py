"""Management commands: jwt_keygen and seed_demo."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from psycopg import sql

from shopkit.events.models import OutboxEvent
from shopkit.testing.tokens import signing_keypair
from user_svc.accounts import keys
from user_svc.accounts.models import User

ROOT = Path(__file__).resolve().parents[2]
PG_BASE = os.environ.get("TEST_PG_BASE_URL", "postgres://postgres@127.0.0.1:5432")  # noqa: TID251 - set by tools.testall


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


@pytest.fixture
def production_database() -> Iterator[str]:
    """A database of its own for a production process (not the suite's, which pytest-django owns)."""
    name = f"shop_users_production_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_BASE}/{name}"
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_seed_demo_in_production_creates_only_the_staff_superuser(production_database: str, tmp_path: Path) -> None:
    # given: the users-seed job of compose (SHOP_ENV=production), its database migrated by the same settings
    key = tmp_path / "private.pem"
    key.write_text(signing_keypair().private_pem)
    inherited = os.environ.items()  # noqa: TID251 - the child process inherits the test environment
    env = {k: v for k, v in inherited if not k.startswith(("DJANGO_", "CACHE_", "SHOP_"))}
    env.update(
        SHOP_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DATABASE_URL=production_database,
        JWT_PRIVATE_KEY_FILE=str(key),
        SHOP_DEMO_STAFF_EMAIL="ops@shop.test",
        SHOP_DEMO_STAFF_PASSWORD=secrets.token_urlsafe(24),
    )

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, str(ROOT / "user_svc" / "manage.py"), *args]
        return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    migrated = manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr

    # when
    seeded = manage("seed_demo")

    # then
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.splitlines() == [
        "users: no demo customer in production (SHOP_ENV=production)",
        "users: created staff superuser ops@shop.test / SHOP_DEMO_STAFF_PASSWORD",
    ]
    with psycopg.connect(production_database) as conn:
        query = sql.SQL("SELECT email, is_staff, is_superuser FROM {}").format(sql.Identifier(User._meta.db_table))
        users = conn.execute(query).fetchall()
    assert users == [("ops@shop.test", True, True)]
