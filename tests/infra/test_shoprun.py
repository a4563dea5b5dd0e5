"""`make run` prepares once: keys, gRPC certificates, migrations and demo data are not made again unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography import x509

from tools.shoprun import DOMAIN_SERVICES, ROOT, Stack


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


def _identity(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )


def test_make_run_makes_the_grpc_ca_and_one_certificate_per_service_once(tmp_path: Path) -> None:
    # given
    stack, _ = _prepared_stack(tmp_path)
    grpc_dir = tmp_path / "grpc"

    # when
    stack.prepare()
    first = {path.name: path.read_bytes() for path in grpc_dir.iterdir()}
    again = stack.ensure_grpc_certificates()

    # then
    assert sorted(first) == sorted(
        ["ca.crt", "ca.key", *(f"{name}.{ext}" for name in ("products", "orders", "carts") for ext in ("crt", "key"))]
    )
    assert again == []
    assert {path.name: path.read_bytes() for path in grpc_dir.iterdir()} == first
    ca = x509.load_pem_x509_certificate(first["ca.crt"])
    for name in ("products", "orders", "carts"):
        cert = x509.load_pem_x509_certificate(first[f"{name}.crt"])
        cert.verify_directly_issued_by(ca)
        assert _identity(cert) == [f"spiffe://shop/{name}"]
        assert (grpc_dir / f"{name}.key").stat().st_mode & 0o777 == 0o600
    assert (grpc_dir / "ca.key").stat().st_mode & 0o777 == 0o600


def test_a_lost_service_key_is_issued_again_and_nothing_else(tmp_path: Path) -> None:
    # given
    stack, _ = _prepared_stack(tmp_path)
    stack.ensure_grpc_certificates()
    grpc_dir = tmp_path / "grpc"
    products_cert = (grpc_dir / "products.crt").read_bytes()
    (grpc_dir / "orders.key").unlink()

    # when
    written = stack.ensure_grpc_certificates()

    # then
    assert written == ["orders"]
    assert (grpc_dir / "products.crt").read_bytes() == products_cert
    assert (grpc_dir / "orders.key").exists()


def test_make_runs_plan_runs_the_pending_order_expiry_as_its_own_process(tmp_path: Path) -> None:
    # given
    stack = Stack(
        environ={"PATH": "/usr/bin", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, stream=False, var_dir=tmp_path
    )

    # when
    plan = {proc.name: proc for proc in stack.plan()}

    # then: its own entry, observed like the relays and consumers (/metrics is its health and its scrape)
    expirer = plan["orders-expirer"]
    assert expirer.argv[1:] == [str(ROOT / "order_svc" / "manage.py"), "expire_pending_orders", "--every", "60"]
    assert (expirer.env, expirer.health_url, expirer.metrics_port) == (
        {"METRICS_PORT": "9405"},
        "http://127.0.0.1:9405/metrics",
        9405,
    )
    assert plan["orders-relay"].argv[1:] == [str(ROOT / "order_svc" / "manage.py"), "outbox_relay"]
