"""The users service's RSA keys on disk: the signing key (creation, rotation), the previous public key, `kid`, JWK.

Pure functions with no Django import, so `user_svc.settings` can derive the public key at start-up.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_SIZE = 2048
PUBLIC_EXPONENT = 65537


class KeyFileError(Exception):
    """A key file is missing, unreadable or not an RSA key of the expected kind."""


@dataclass(frozen=True)
class Rotation:
    """A finished rotation: the new signing key's kid, and the previous one's, now kept for verification."""

    kid: str
    previous_kid: str


def generate_private_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=KEY_SIZE)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def create_private_key_file(path: Path) -> bool:
    """Write a new RSA key to `path` (mode 0600) unless one exists; True when this call created it.

    Several processes may start at once: the key is written to a private temporary file and then
    hard-linked into place, which fails if the path exists, so exactly one complete key wins and
    nobody ever reads a half-written file.
    """
    if path.exists():
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".jwt-key-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(generate_private_pem())
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Replace `path` with `data` in one step: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".jwt-key-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the JWT private key file {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path} is not an RSA private key")
    return key


def public_pem(public_key: rsa.RSAPublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_pem_from_file(path: Path, *, create: bool) -> str:
    """The public PEM of the key at `path` ("" when it is missing and may not be created here)."""
    if create:
        create_private_key_file(path)
    elif not path.exists():
        return ""
    return public_pem(load_private_key(path).public_key())


def load_previous_public_key(path: Path) -> rsa.RSAPublicKey | None:
    """The previous signing key's public half, still served and accepted; None when the file is missing or empty.

    Empty counts as none so that the full stack can always mount the secret, filled only during a rotation.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyFileError(f"cannot read the previous JWT public key file {path}: {exc.strerror}") from exc
    if not data.strip():
        return None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFileError(f"{path} is not an RSA public key")
    return key


def verification_pems(private_path: Path, previous_path: Path, *, create: bool) -> str:
    """The PEMs the users service verifies its own access tokens with: the current key's, then the previous one's."""
    current = public_pem_from_file(private_path, create=create)
    previous = load_previous_public_key(previous_path)
    return current + (public_pem(previous) if previous is not None else "")


def rotate(private_path: Path, previous_path: Path) -> Rotation:
    """Keep the current key's public half as the previous key, then replace the signing key with a new one.

    Refused while another previous key is still kept: dropping it early would log its tokens out.
    The previous key is written first, so a crash in between leaves the old key in both places (harmless).
    """
    current = load_private_key(private_path).public_key()
    previous = load_previous_public_key(previous_path)
    if previous is not None and key_id(previous) != key_id(current):
        raise KeyFileError(
            f"a previous key (kid {key_id(previous)}) is still kept in {previous_path}: "
            "drop it first (jwt_keygen --drop-previous) once the overlap has passed"
        )
    _write_atomically(previous_path, public_pem(current).encode(), mode=0o644)
    _write_atomically(private_path, generate_private_pem(), mode=0o600)
    return Rotation(kid=key_id(load_private_key(private_path).public_key()), previous_kid=key_id(current))


def drop_previous(previous_path: Path) -> str | None:
    """Stop keeping the previous key; returns its kid (None when there was none)."""
    previous = load_previous_public_key(previous_path)
    if previous is None:
        return None
    previous_path.unlink()
    return key_id(previous)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _required_members(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256 over the required members, sorted, no spaces): stable per key."""
    canonical = json.dumps(_required_members(public_key), separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The RSA public JWK (RFC 7517) that verifies our tokens, with its `kid`."""
    return {**_required_members(public_key), "kid": key_id(public_key), "use": "sig", "alg": "RS256"}
