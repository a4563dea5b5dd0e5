"""JWT access-token verification (RS256 only, key from the users service's JWKS) for every service."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import structlog
from django.conf import settings
from django.http import HttpRequest
from rest_framework import authentication, exceptions

from shopkit.logging import get_logger

log = get_logger(__name__)

ALGORITHM = "RS256"
ISSUER = "shop-users"
AUDIENCE = "shop"


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True)
class Claims:
    user_id: uuid.UUID
    email: str
    is_staff: bool
    is_superuser: bool
    token_id: str

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Claims:
        try:
            return cls(
                user_id=uuid.UUID(str(payload["sub"])),
                email=str(payload.get("email", "")),
                is_staff=bool(payload.get("is_staff", False)),
                is_superuser=bool(payload.get("is_superuser", False)),
                token_id=str(payload.get("jti", "")),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidToken("token claims are malformed") from exc


class _KeySource:
    """The verifying key: a PEM from settings, or the users service's JWKS (cached, refetched on unknown kid)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jwks_client: jwt.PyJWKClient | None = None

    def key_for(self, token: str) -> Any:
        pem: str = getattr(settings, "JWT_PUBLIC_KEY", "")
        if pem:
            return _load_pem(pem)
        with self._lock:
            if self._jwks_client is None:
                self._jwks_client = jwt.PyJWKClient(
                    settings.JWT_JWKS_URL, cache_keys=True, lifespan=600, timeout=settings.JWT_JWKS_TIMEOUT
                )
            client = self._jwks_client
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("jwks_unavailable", url=settings.JWT_JWKS_URL, error=str(exc))
            raise KeysUnavailable("the users service's keys cannot be fetched") from exc
        except jwt.PyJWKClientError as exc:
            raise InvalidToken("token is signed with an unknown key") from exc

    def reset(self) -> None:
        with self._lock:
            self._jwks_client = None


class KeysUnavailable(Exception):
    """The JWKS endpoint cannot be reached and no key is cached."""


_pem_cache: dict[str, Any] = {}


def _load_pem(pem: str) -> Any:
    if pem not in _pem_cache:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        _pem_cache[pem] = load_pem_public_key(pem.encode())
    return _pem_cache[pem]


keys = _KeySource()


def verify_access_token(token: str) -> Claims:
    """Verify signature (RS256 only), expiry, issuer, audience and token type; return the claims."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("token is malformed") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("token algorithm is not accepted")
    key = keys.key_for(token)
    try:
        payload = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti"]},
            leeway=settings.JWT_LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("token is invalid") from exc
    if payload.get("type") != "access":
        raise InvalidToken("token is not an access token")
    return Claims.from_payload(payload)


class KeysUnavailableError(exceptions.APIException):
    status_code = 503
    default_detail = "Token keys are unavailable; try again shortly."
    default_code = "keys_unavailable"


class TokenUser:
    """The caller as the access token describes it; other services keep no copy of users."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        self.id = claims.user_id
        self.pk = claims.user_id
        self.email = claims.email
        self.is_staff = claims.is_staff
        self.is_superuser = claims.is_superuser

    def __str__(self) -> str:
        return self.email or str(self.id)


def bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class JWTAuthentication(authentication.BaseAuthentication):
    """DRF authentication: `Authorization: Bearer <access token>` issued by the users service."""

    www_authenticate_realm = "shop"

    def authenticate(self, request: Any) -> tuple[TokenUser, Claims] | None:
        header = request.headers.get("Authorization")
        if header is None:
            return None
        token = bearer_token(request)
        if token is None:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            claims = verify_access_token(token)
        except InvalidToken as exc:
            raise exceptions.AuthenticationFailed(f"Invalid access token: {exc}.") from exc
        except KeysUnavailable as exc:
            raise KeysUnavailableError from exc
        structlog.contextvars.bind_contextvars(user_id=str(claims.user_id))
        return TokenUser(claims), claims

    def authenticate_header(self, request: Any) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
