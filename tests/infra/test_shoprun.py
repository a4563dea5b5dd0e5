"""`make run`'s preparation runs once: a second start with nothing changed skips keys, migrations and demo data."""

from __future__ import annotations

import json
from pathlib import Path

from tools.shoprun import DOMAIN_SERVICES, Stack


def _prepared_stack(var_dir: Path) -> tuple[Stack, str]:
    stack = Stack(environ={"PATH": "/usr/bin"}, stream=False, var_dir=var_dir)
    (var_dir / "jwt").mkdir(parents=True)
    (var_dir / "jwt" / "private.pem").write_text("key")
    for name in DOMAIN_SERVICES:
        (var_dir / f"{name}.sqlite3").write_bytes(b"")
    fingerprint = stack._fingerprint()
    (var_dir / "prepared.json").write_text(json.dumps({"fingerprint": fingerprint, "report": ["demo ready"]}))
    return stack, fingerprint


def test_a_second_start_with_nothing_changed_reuses_the_first_preparation(tmp_path: Path) -> None:
    stack, fingerprint = _prepared_stack(tmp_path)

    assert stack._already_prepared(fingerprint) == ["demo ready"]
    assert stack.prepare() == ["demo ready"]  # no manage.py command ran: none could, in this empty var dir


def test_changed_migrations_a_lost_database_or_key_or_another_database_prepare_again(tmp_path: Path) -> None:
    stack, fingerprint = _prepared_stack(tmp_path)

    assert stack._already_prepared("another-set-of-migrations") is None
    (tmp_path / "orders.sqlite3").unlink()
    assert stack._already_prepared(fingerprint) is None
    (tmp_path / "orders.sqlite3").write_bytes(b"")
    (tmp_path / "jwt" / "private.pem").unlink()
    assert stack._already_prepared(fingerprint) is None

    elsewhere = Stack(
        environ={"SHOP_ORDERS_DATABASE_URL": "postgres://db/orders"}, stream=False, var_dir=tmp_path
    )._fingerprint()
    assert elsewhere != fingerprint
