"""RSA keys and access tokens for tests, shaped exactly like the users service's tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import RSAAlgorithm

from shopkit.auth import ALGORITHM, AUDIENCE, ISSUER


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str

    def jwk(self, kid: str) -> dict[str, Any]:
        """The public half as a JWKS member, the way the users service serves it."""
        public_key = load_pem_public_key(self.public_pem.encode())
        assert isinstance(public_key, rsa.RSAPublicKey)
        return {**RSAAlgorithm.to_jwk(public_key, as_dict=True), "kid": kid, "use": "sig", "alg": ALGORITHM}


@cache
def signing_keypair() -> KeyPair:
    return new_keypair()


def new_keypair() -> KeyPair:
    """A fresh RSA-2048 key pair (a rotation's next key, or an attacker's)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_pem=private_pem, public_pem=public_pem)


def access_token(
    user_id: uuid.UUID | str | None = None,
    *,
    email: str = "customer@example.com",
    is_staff: bool = False,
    is_superuser: bool = False,
    lifetime: dt.timedelta = dt.timedelta(minutes=5),
    private_pem: str | None = None,
    token_type: str = "access",  # noqa: S107 - a claim value, not a secret
    kid: str = "test",
    issued_at: dt.datetime | None = None,
) -> str:
    """An access token like users issues: `lifetime` from `issued_at` (now), signed by `private_pem` as `kid`."""
    now = issued_at or dt.datetime.now(tz=dt.UTC)
    payload = {
        "sub": str(user_id or uuid.uuid4()),
        "email": email,
        "is_staff": is_staff,
        "is_superuser": is_superuser,
        "type": token_type,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, private_pem or signing_keypair().private_pem, algorithm=ALGORITHM, headers={"kid": kid})
