"""RS256 token issuing for the users service: access and refresh JWTs, the signing key and the JWKS.

Verifying access tokens is `shopkit.auth`'s job, here as in every service; this module only
decodes refresh tokens, which no other service ever sees.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from shopkit.auth import ALGORITHM, AUDIENCE, ISSUER
from shopkit.settings import is_production
from user_svc.accounts import keys
from user_svc.accounts.errors import InvalidRefreshToken

log = structlog.get_logger(__name__)

ACCESS = "access"
REFRESH = "refresh"


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    kid: str


@dataclass(frozen=True)
class RefreshClaims:
    token_id: uuid.UUID
    family_id: uuid.UUID
    user_id: uuid.UUID


_lock = threading.Lock()
_keys: dict[Path, SigningKey] = {}


def signing_key() -> SigningKey:
    """The key in `JWT_PRIVATE_KEY_FILE`, loaded once per process.

    Missing in production: fail loudly (it is a mounted secret). Missing in development: create it.
    """
    path = Path(settings.JWT_PRIVATE_KEY_FILE)
    with _lock:
        if path not in _keys:
            if not path.exists():
                if is_production():
                    raise ImproperlyConfigured(f"JWT_PRIVATE_KEY_FILE {path} is missing (SHOP_ENV=production)")
                if keys.create_private_key_file(path):
                    log.warning("jwt_private_key_created", path=str(path))
            try:
                private_key = keys.load_private_key(path)
            except keys.KeyFileError as exc:
                raise ImproperlyConfigured(str(exc)) from exc
            public_key = private_key.public_key()
            _keys[path] = SigningKey(private_key=private_key, public_key=public_key, kid=keys.key_id(public_key))
        return _keys[path]


_previous: dict[Path, rsa.RSAPublicKey | None] = {}


def previous_public_key() -> rsa.RSAPublicKey | None:
    """The previous signing key (`JWT_PREVIOUS_PUBLIC_KEY_FILE`), loaded once per process; None outside a rotation.

    Read at start like the signing key (and like `JWT_PUBLIC_KEY` in settings), so one process never
    signs, serves and verifies with different key sets; a rotation takes effect when users reloads.
    """
    path = Path(settings.JWT_PREVIOUS_PUBLIC_KEY_FILE)
    with _lock:
        if path not in _previous:
            try:
                _previous[path] = keys.load_previous_public_key(path)
            except keys.KeyFileError as exc:
                raise ImproperlyConfigured(str(exc)) from exc
        return _previous[path]


def reload_keys() -> None:
    """Forget the keys loaded so far: the next use reads the key files again, as a freshly started process does."""
    with _lock:
        _keys.clear()
        _previous.clear()


def verification_keys() -> dict[str, rsa.RSAPublicKey]:
    """The keys tokens of ours may be signed with, by kid: the current one, then the previous one."""
    current = signing_key()
    found = {current.kid: current.public_key}
    if (previous := previous_public_key()) is not None:
        found.setdefault(keys.key_id(previous), previous)
    return found


def jwks() -> dict[str, Any]:
    """Current and previous key: tokens signed by either verify everywhere during a rotation's overlap."""
    return {"keys": [keys.public_jwk(public_key) for public_key in verification_keys().values()]}


def _encode(payload: dict[str, Any]) -> str:
    key = signing_key()
    return jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def access_token_issue(
    *, user_id: uuid.UUID, email: str, is_staff: bool, is_superuser: bool, issued_at: dt.datetime
) -> str:
    return _encode(
        {
            "sub": str(user_id),
            "email": email,
            "is_staff": is_staff,
            "is_superuser": is_superuser,
            "type": ACCESS,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(issued_at.timestamp()),
            "exp": int((issued_at + access_token_lifetime()).timestamp()),
            "jti": uuid.uuid4().hex,
        }
    )


def refresh_token_encode(
    *, token_id: uuid.UUID, family_id: uuid.UUID, user_id: uuid.UUID, issued_at: dt.datetime, expires_at: dt.datetime
) -> str:
    return _encode(
        {
            "sub": str(user_id),
            "type": REFRESH,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(issued_at.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": str(token_id),
            "fam": str(family_id),
        }
    )


def refresh_token_decode(token: str) -> RefreshClaims:
    """Verify a refresh JWT's signature (RS256, our key only), expiry, issuer, audience and type."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidRefreshToken("The refresh token is malformed.") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidRefreshToken()
    # Refresh tokens signed by the previous key keep working during a rotation's overlap, so a customer
    # who refreshes then gets tokens of the new key instead of having to log in again.
    key = verification_keys().get(str(header.get("kid", "")))
    if key is None:
        raise InvalidRefreshToken()
    try:
        payload = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "fam"]},
            leeway=settings.JWT_LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidRefreshToken("The refresh token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidRefreshToken() from exc
    if payload.get("type") != REFRESH:
        raise InvalidRefreshToken("This is not a refresh token.")
    try:
        return RefreshClaims(
            token_id=uuid.UUID(str(payload["jti"])),
            family_id=uuid.UUID(str(payload["fam"])),
            user_id=uuid.UUID(str(payload["sub"])),
        )
    except ValueError as exc:
        raise InvalidRefreshToken() from exc


def access_token_lifetime() -> dt.timedelta:
    return dt.timedelta(seconds=settings.JWT_ACCESS_TTL_SECONDS)


def refresh_token_lifetime() -> dt.timedelta:
    return dt.timedelta(seconds=settings.JWT_REFRESH_TTL_SECONDS)
