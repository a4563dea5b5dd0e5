"""Test certificates for gRPC mutual TLS: a CA and service identities made as `make run` makes them.

    def test_carts_may_not_reserve(grpc_pki):
        client = ProductsClient(target, deadline_seconds=1, tls=grpc_pki.identity("carts"))

Every test of a Django service runs with its own identity (`SERVICE_NAME`) in `GRPC_TLS_*`, so the
process-wide products client presents the certificate the service has in the stack. `foreign(name)` is
the same name signed by a CA the servers do not trust.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shopkit.grpc.pki import ensure_pki
from shopkit.grpc.tls import TlsFiles
from shopkit.testing import django_configured


@dataclass(frozen=True)
class GrpcTestPki:
    """A test CA under `directory` (identities issued on demand) and an untrusted one beside it."""

    directory: Path

    def identity(self, name: str) -> TlsFiles:
        ensure_pki(self.directory / "trusted", [name])
        return TlsFiles.for_identity(self.directory / "trusted", name)

    def use(self, settings: Any, name: str) -> TlsFiles:
        """Point `GRPC_TLS_*` of (pytest-django's) `settings` at `name`'s identity."""
        files = self.identity(name)
        settings.GRPC_TLS_CA_FILE = str(files.ca)
        settings.GRPC_TLS_CERT_FILE = str(files.cert)
        settings.GRPC_TLS_KEY_FILE = str(files.key)
        return files

    def foreign(self, name: str) -> TlsFiles:
        """`name`'s certificate from another CA; the CA bundle is the trusted one, so only the peer refuses."""
        ensure_pki(self.directory / "foreign", [name])
        own = TlsFiles.for_identity(self.directory / "foreign", name)
        return TlsFiles(ca=self.directory / "trusted" / "ca.crt", cert=own.cert, key=own.key)


@pytest.fixture(scope="session")
def grpc_pki(tmp_path_factory: pytest.TempPathFactory) -> GrpcTestPki:
    pki = GrpcTestPki(tmp_path_factory.mktemp("grpc-pki"))
    for name in ("products", "orders", "carts"):
        pki.identity(name)
    pki.foreign("orders")
    return pki


@pytest.fixture(autouse=True)
def _shop_test_grpc_identity(request: pytest.FixtureRequest, grpc_pki: GrpcTestPki) -> Iterator[None]:
    """The service's own test certificate in `GRPC_TLS_*` (Django suites only)."""
    if "settings" not in request.fixturenames and not django_configured():
        yield
        return
    settings = request.getfixturevalue("settings")
    grpc_pki.use(settings, str(settings.SERVICE_NAME))
    yield
