"""The one-shot commands compose runs (`migrate --noinput`, `seed_demo`) write only JSON lines with
LOG_FORMAT=json, and Django's usual text in console mode.

Each case runs the real command in a child process against a fresh PostgreSQL database of its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db.migrations.loader import MigrationLoader

from shopkit.settings import REPO_ROOT, env
from shopkit.testing.processes import child_env, run_python
from shopkit.testing.server_logs import LINE_KEYS

PG_BASE = env.str("TEST_PG_BASE_URL", default="postgres://postgres@127.0.0.1:5432")


@pytest.fixture
def fresh_database() -> Iterator[Callable[[], str]]:
    """Creates empty databases on demand (not the suite's, which pytest-django owns); drops them after."""
    names: list[str] = []

    def create() -> str:
        name = f"shop_command_logs_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return f"{PG_BASE}/{name}"

    yield create
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(
    manage: list[str], *args: str, database: str, log_format: str = "json", settings: str | None = None
) -> subprocess.CompletedProcess[str]:
    overrides = {
        "DATABASE_URL": database,
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": "INFO",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    }
    # The settings module is the case's own, never the suite's (inherited from pytest-django).
    environment = child_env(DJANGO_SETTINGS_MODULE=settings, **overrides)
    return run_python([*manage, *args], env=environment, timeout=300)


def _events(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """Every line of both streams as JSON (a line that is not JSON fails the test, naming it)."""
    events = []
    for line in (result.stdout + result.stderr).splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    assert all(LINE_KEYS <= set(event) for event in events), events
    return events


SHOPKIT_TESTS = ["-m", "django"]


def test_migrate_in_json_mode_logs_one_event_per_migration_and_a_summary(fresh_database: Callable[[], str]) -> None:
    # given
    database = fresh_database()
    on_disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations

    # when: a fresh database, then again with nothing left to do
    first = _manage(SHOPKIT_TESTS, "migrate", "--noinput", database=database, settings="shopkit_tests.settings")
    second = _manage(SHOPKIT_TESTS, "migrate", "--noinput", database=database, settings="shopkit_tests.settings")

    # then
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    events = _events(first)
    applied = {(e["app"], e["migration"]) for e in events if e["event"] == "migration_applied"}
    assert applied == set(on_disk)
    [done] = [e for e in events if e["event"] == "migrations_done"]
    assert (done["applied"], done["unapplied"], done["database"], done["level"]) == (len(on_disk), 0, "default", "info")
    assert events[-1] is done
    [again] = [e for e in _events(second) if e["event"] == "migrations_done"]
    assert again["applied"] == 0
    assert first.stdout == ""


def test_migrate_in_console_mode_prints_django_text(fresh_database: Callable[[], str]) -> None:
    # when
    result = _manage(
        SHOPKIT_TESTS,
        "migrate",
        "--noinput",
        database=fresh_database(),
        log_format="console",
        settings="shopkit_tests.settings",
    )

    # then
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "Operations to perform:",
        "  Apply all migrations: admin, auth, contenttypes, sessions, shop_events, shopkit_tests",
    ]
    assert "  Applying contenttypes.0001_initial... OK" in lines


def test_a_command_error_in_json_mode_is_one_json_line(fresh_database: Callable[[], str]) -> None:
    # when
    result = _manage(
        SHOPKIT_TESTS, "migrate", "no_such_app", database=fresh_database(), settings="shopkit_tests.settings"
    )

    # then
    assert result.returncode == 1
    [event] = _events(result)
    assert (event["event"], event["level"], event["command"]) == ("command_error", "error", "migrate")
    assert event["output"] == "CommandError: No installed app with label 'no_such_app'."


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        (
            "user_svc",
            [
                "users: created demo customer customer@example.com / customer-demo-pass",
                "users: created staff superuser staff@example.com / staff-demo-pass",
            ],
        ),
        ("product_svc", [r"products: \d+ demo products in \d+ categories"]),
    ],
)
def test_compose_one_shot_jobs_of_a_service_write_only_json(
    fresh_database: Callable[[], str], package: str, expected: list[str]
) -> None:
    # given: compose's migrate and seed jobs of the service, on an empty database
    database, manage = fresh_database(), [str(REPO_ROOT / package / "manage.py")]

    # when
    migrated = _manage(manage, "migrate", "--noinput", database=database)
    seeded = _manage(manage, "seed_demo", database=database)

    # then
    assert (migrated.returncode, seeded.returncode) == (0, 0), migrated.stderr + seeded.stderr
    applied = [e for e in _events(migrated) if e["event"] == "migration_applied"]
    [done] = [e for e in _events(migrated) if e["event"] == "migrations_done"]
    assert done["applied"] == len(applied) > 0
    outputs = [(e["command"], e["output"]) for e in _events(seeded) if e["event"] == "command_output"]
    assert [command for command, _ in outputs] == ["seed_demo"] * len(expected)
    assert all(re.fullmatch(pattern, output) for pattern, (_, output) in zip(expected, outputs, strict=True)), outputs
    assert seeded.stdout == ""
