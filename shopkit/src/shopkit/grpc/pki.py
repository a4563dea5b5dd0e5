"""The stack's own certificate authority: a CA and one certificate per service, for gRPC mutual TLS.

    ensure_pki(Path("var/grpc"), ["products", "orders", "carts"])

writes `ca.crt`, `ca.key`, `<service>.crt` and `<service>.key` once and leaves them alone on later calls,
except what is missing, no longer signed by the CA on disk, or about to expire. A service's certificate
names it twice: subject CN `<service>` and SAN URI `spiffe://shop/<service>` (what servers authorize on),
plus the DNS names and loopback addresses it may be reached at (`<service>`, `<service>-grpc`, `localhost`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SPIFFE_TRUST_DOMAIN = "shop"
SERVICES = ("products", "orders", "carts")
CA_DAYS = 3650
LEAF_DAYS = 397
# A certificate this close to its end is issued again by the next `ensure_pki`.
RENEW_BEFORE = dt.timedelta(days=30)


def spiffe_id(service: str) -> str:
    return f"spiffe://{SPIFFE_TRUST_DOMAIN}/{service}"


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def create_authority(common_name: str = "Shop internal CA", *, days: int = CA_DAYS) -> Authority:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key=key, cert=cert)


def issue(
    authority: Authority, service: str, *, days: int = LEAF_DAYS
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A key and a certificate for `service`, usable both to serve and to call (server and client auth)."""
    key = _new_key()
    now = _now()
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(spiffe_id(service)),
        x509.DNSName(service),
        x509.DNSName(f"{service}-grpc"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), authority.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    return key, cert


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with `mode` from the start: a key is never readable by others, even briefly."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)  # the umask may have taken bits away
    temporary.replace(path)


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def _load_authority(directory: Path) -> Authority | None:
    try:
        cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key() or not _fresh(cert):
        return None
    return Authority(key=key, cert=cert)


def _valid_leaf(directory: Path, service: str, authority: Authority) -> bool:
    try:
        cert = x509.load_pem_x509_certificate((directory / f"{service}.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / f"{service}.key").read_bytes(), password=None)
        cert.verify_directly_issued_by(authority.cert)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    return key.public_key() == cert.public_key() and _fresh(cert)


def ensure_pki(directory: Path, services: Iterable[str] = SERVICES, *, key_mode: int = 0o600) -> list[str]:
    """Create what is missing or stale under `directory`; returns the names written (`ca`, services)."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    authority = _load_authority(directory)
    if authority is None:
        authority = create_authority()
        _write(directory / "ca.key", _key_pem(authority.key), 0o600)
        _write(directory / "ca.crt", _cert_pem(authority.cert), 0o644)
        written.append("ca")
    for service in services:
        if _valid_leaf(directory, service, authority):
            continue
        key, cert = issue(authority, service)
        _write(directory / f"{service}.key", _key_pem(key), key_mode)
        _write(directory / f"{service}.crt", _cert_pem(cert), 0o644)
        written.append(service)
    return written


__all__ = ["SERVICES", "Authority", "create_authority", "ensure_pki", "issue", "spiffe_id"]
