"""The container probe `compose/healthcheck.py grpc <target>` dials the target as callers do, by name.

In the stack a caller reaches products-grpc by its service name, never by 127.0.0.1 inside products'
container: the probe must pass only when the server is reachable at that name, and verify the server's
certificate for that name (TLS server name = the target's host part; the SANs hold `products-grpc`,
`localhost` and the loopback addresses). Here the name is `localhost` against a real products gRPC
server (the in-memory fake behind build_server: the real TLS, authorization and health service).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shop.product.v1 import product_pb2_grpc
from shopkit.grpc.pki import SERVICES, ensure_pki
from shopkit.grpc.server import RunningServer, build_server, method_callers
from shopkit.grpc.tls import TlsFiles, server_credentials
from shopkit.testing.fake_products import CALLERS, SERVICE_NAME, FakeProducts
from shopkit.testing.processes import free_port
from tests.infra.support import probe_grpc

ServeAt = Callable[[str], RunningServer]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("grpc-probe")
    ensure_pki(directory, SERVICES)
    return directory


@pytest.fixture
def serve_products_at(pki: Path) -> Iterator[ServeAt]:
    """Start a products gRPC server bound to one address only (a free port); stopped at the end."""
    started: list[RunningServer] = []

    def serve(bind: str) -> RunningServer:
        fake = FakeProducts()
        running = build_server(
            register=lambda server: product_pb2_grpc.add_ProductServiceServicer_to_server(fake, server),
            service_names=[SERVICE_NAME],
            bind=bind,
            port=0,
            credentials=server_credentials(TlsFiles.for_identity(pki, "products")),
            callers=method_callers(SERVICE_NAME, CALLERS),
            max_workers=2,
            django_db=False,
        )
        started.append(running)
        return running

    yield serve
    for running in started:
        running.stop(grace_seconds=0)


@pytest.mark.parametrize("caller", ["products", "orders", "carts"])
def test_the_probe_reaches_the_server_by_name_with_each_containers_certificate(
    serve_products_at: ServeAt, pki: Path, caller: str
) -> None:
    # given
    running = serve_products_at("127.0.0.1")

    # when
    result = probe_grpc(f"localhost:{running.port}", TlsFiles.for_identity(pki, caller))

    # then
    assert result.returncode == 0, result.stderr


def test_the_probe_fails_when_the_server_listens_only_on_another_address(serve_products_at: ServeAt, pki: Path) -> None:
    # given: the server is up, but bound where `localhost` does not lead (127.0.0.2, not 127.0.0.1 or ::1)
    running = serve_products_at("127.0.0.2")

    # when
    result = probe_grpc(f"localhost:{running.port}", TlsFiles.for_identity(pki, "products"))

    # then
    assert result.returncode == 1
    assert f"localhost:{running.port}: UNAVAILABLE" in result.stderr


def test_the_probe_checks_the_certificate_names_the_address_it_dialled(serve_products_at: ServeAt, pki: Path) -> None:
    # given: the server is reachable at 127.0.0.2, an address its certificate does not name
    running = serve_products_at("127.0.0.2")

    # when
    result = probe_grpc(f"127.0.0.2:{running.port}", TlsFiles.for_identity(pki, "products"))

    # then: the handshake fails on the name, the probe fails
    assert result.returncode == 1
    assert f"127.0.0.2:{running.port}: UNAVAILABLE" in result.stderr


def test_the_probe_fails_when_nothing_listens_at_the_name(pki: Path) -> None:
    port = free_port()

    result = probe_grpc(f"localhost:{port}", TlsFiles.for_identity(pki, "products"))

    assert result.returncode == 1
    assert f"localhost:{port}: UNAVAILABLE" in result.stderr
