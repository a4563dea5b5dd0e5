"""gRPC mutual TLS in the full stack: certificates from secrets, one identity per service, a probe that speaks TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shopkit.grpc.pki import SERVICES, ensure_pki
from shopkit.grpc.server import RunningServer
from shopkit.grpc.tls import TlsFiles
from shopkit.testing.fake_products import start_fake_products
from tests.infra.support import load_compose, probe_grpc

# The orders expirer calls products too: it gives back the stock of checkouts left pending (as orders).
GRPC_CLIENTS = {"products-grpc": "products", "orders": "orders", "orders-expirer": "orders", "carts": "carts"}


def _service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = load_compose()["services"][name]
    return found


def test_each_grpc_process_presents_its_own_certificate_from_secrets() -> None:
    declared = load_compose()["secrets"]
    for name, identity in GRPC_CLIENTS.items():
        service = _service(name)
        env = {k: str(v) for k, v in service["environment"].items()}
        assert env["GRPC_TLS_CA_FILE"] == "/run/secrets/grpc_ca", name
        assert env["GRPC_TLS_CERT_FILE"] == f"/run/secrets/grpc_{identity}_cert", name
        assert env["GRPC_TLS_KEY_FILE"] == f"/run/secrets/grpc_{identity}_key", name
        assert service["secrets"] == ["grpc_ca", f"grpc_{identity}_cert", f"grpc_{identity}_key"], name
        assert declared[f"grpc_{identity}_cert"] == {"file": f"${{SHOP_SECRETS_DIR:-./secrets}}/grpc/{identity}.crt"}
        assert declared[f"grpc_{identity}_key"] == {"file": f"${{SHOP_SECRETS_DIR:-./secrets}}/grpc/{identity}.key"}
        if name != "products-grpc":
            assert env["PRODUCTS_GRPC_TARGET"] == "products-grpc:50051", name
    assert declared["grpc_ca"] == {"file": "${SHOP_SECRETS_DIR:-./secrets}/grpc/ca.crt"}


def test_no_container_gets_another_services_key_or_the_cas_key() -> None:
    declared = load_compose()["secrets"]
    assert not [name for name, spec in declared.items() if str(spec.get("file", "")).endswith("ca.key")]
    for name, service in load_compose()["services"].items():
        keys = [s for s in service.get("secrets", []) if s.startswith("grpc_") and s.endswith("_key")]
        assert keys in ([], [f"grpc_{GRPC_CLIENTS.get(name)}_key"]), (name, keys)


def test_the_grpc_server_listens_to_the_stack_and_is_probed_over_tls() -> None:
    service = _service("products-grpc")
    env = {k: str(v) for k, v in service["environment"].items()}

    assert env["PRODUCTS_GRPC_BIND"] == "0.0.0.0"  # noqa: S104 - reachable by orders and carts, mutual TLS
    # dialled by name from inside its container, as orders and carts reach it (127.0.0.1 stayed green while
    # the server listened on the container's loopback only)
    assert service["healthcheck"]["test"] == ["CMD", "python", "compose/healthcheck.py", "grpc", "products-grpc:50051"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("grpc")
    ensure_pki(directory / "stack", SERVICES)
    ensure_pki(directory / "other", ["products"])
    return directory


@pytest.fixture(scope="module")
def products_server(pki: Path) -> Iterator[RunningServer]:
    _fake, running = start_fake_products(TlsFiles.for_identity(pki / "stack", "products"))
    yield running
    running.stop(grace_seconds=0)


def test_the_probe_with_the_containers_certificate_sees_the_server_serving(
    products_server: RunningServer, pki: Path
) -> None:
    result = probe_grpc(f"127.0.0.1:{products_server.port}", TlsFiles.for_identity(pki / "stack", "products"))

    assert result.returncode == 0, result.stderr


def test_the_probe_without_certificates_says_which_settings_it_needs(products_server: RunningServer) -> None:
    result = probe_grpc(f"127.0.0.1:{products_server.port}", None)

    assert result.returncode == 2
    assert "gRPC probe needs GRPC_TLS_CA_FILE, GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE" in result.stderr


def test_the_probe_with_a_certificate_of_another_ca_fails(products_server: RunningServer, pki: Path) -> None:
    stranger = TlsFiles.for_identity(pki / "other", "products")

    mixed = TlsFiles(ca=pki / "stack" / "ca.crt", cert=stranger.cert, key=stranger.key)

    result = probe_grpc(f"127.0.0.1:{products_server.port}", mixed)

    assert result.returncode == 1
    assert f"127.0.0.1:{products_server.port}: UNAVAILABLE" in result.stderr
