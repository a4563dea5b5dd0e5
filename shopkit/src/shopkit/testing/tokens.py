"""RSA keys and access tokens for tests, shaped exactly like the users service's tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shopkit.auth import ALGORITHM, AUDIENCE, ISSUER


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


@cache
def signing_keypair() -> KeyPair:
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
) -> str:
    now = dt.datetime.now(tz=dt.UTC)
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
    return jwt.encode(
        payload, private_pem or signing_keypair().private_pem, algorithm=ALGORITHM, headers={"kid": "test"}
    )
