"""Service identity on gRPC: mutual TLS with the stack's CA, and the caller's name read from its certificate.

Every gRPC server and channel of the shop is TLS with a client certificate; there is no plaintext mode.
A process finds its files through `GRPC_TLS_CA_FILE`, `GRPC_TLS_CERT_FILE` and `GRPC_TLS_KEY_FILE`
(by default `var/grpc/ca.crt` and `var/grpc/<SERVICE_NAME>.crt|.key`, which `make run` creates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from shopkit.grpc.pki import SPIFFE_TRUST_DOMAIN

SPIFFE_PREFIX = f"spiffe://{SPIFFE_TRUST_DOMAIN}/"


@dataclass(frozen=True)
class TlsFiles:
    """Where one process's CA bundle, certificate and private key are."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def for_identity(cls, directory: Path | str, name: str) -> TlsFiles:
        """The layout `shopkit.grpc.pki.ensure_pki` writes: `ca.crt`, `<name>.crt`, `<name>.key`."""
        base = Path(directory)
        return cls(ca=base / "ca.crt", cert=base / f"{name}.crt", key=base / f"{name}.key")

    @classmethod
    def from_settings(cls) -> TlsFiles:
        default = cls.for_identity(settings.GRPC_TLS_DIR, str(settings.SERVICE_NAME))
        return cls(
            ca=Path(settings.GRPC_TLS_CA_FILE or default.ca),
            cert=Path(settings.GRPC_TLS_CERT_FILE or default.cert),
            key=Path(settings.GRPC_TLS_KEY_FILE or default.key),
        )

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(CA bundle, certificate chain, private key); a missing file fails loudly, naming its setting."""
        contents = []
        for setting, path in (
            ("GRPC_TLS_CA_FILE", self.ca),
            ("GRPC_TLS_CERT_FILE", self.cert),
            ("GRPC_TLS_KEY_FILE", self.key),
        ):
            try:
                contents.append(path.read_bytes())
            except OSError as exc:
                raise ImproperlyConfigured(
                    f"{setting}: cannot read {path} ({exc.strerror}); gRPC needs the stack's CA and this "
                    "service's certificate (`make run` creates them under var/grpc, `make certs` for compose)"
                ) from exc
        ca, cert, key = contents
        return ca, cert, key


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """TLS that refuses any client without a certificate signed by the stack's CA."""
    ca, cert, key = files.read()
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    """TLS that trusts only the stack's CA and presents this service's certificate."""
    ca, cert, key = files.read()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def peer_identity(context: grpc.ServicerContext) -> str | None:
    """The calling service's name: its SPIFFE ID `spiffe://shop/<name>`, else its certificate's subject CN.

    None for a peer without a verified certificate, or whose SPIFFE ID belongs to another trust domain.
    """
    # grpcio returns lists of bytes per property (its stubs say bytes).
    auth = cast(Mapping[str, list[bytes]], context.auth_context())
    spiffe = [value.decode() for value in auth.get("peer_spiffe_id", [])]
    if spiffe:
        name = spiffe[0].removeprefix(SPIFFE_PREFIX)
        return name if spiffe[0].startswith(SPIFFE_PREFIX) and name and "/" not in name else None
    common_names = [value.decode() for value in auth.get("x509_common_name", [])]
    return common_names[0] if len(common_names) == 1 and common_names[0] else None
