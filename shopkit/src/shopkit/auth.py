"""JWT access-token verification (RS256 only, keys from the users service's JWKS) for every service."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from django.conf import settings
from django.http import HttpRequest

from shopkit.logging import get_logger
from shopkit.metrics import JWKS_FETCHES

log = get_logger(__name__)

ALGORITHM = "RS256"
ISSUER = "shop-users"
AUDIENCE = "shop"


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or of the wrong kind."""


class KeysUnavailable(Exception):
    """The JWKS endpoint cannot be reached and no usable key set is cached."""


class KeysNotCached(Exception):
    """Verifying this token needs a JWKS fetch, and the caller asked for none (it must not block)."""


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


@dataclass(frozen=True)
class _KeySet:
    """One answer of the JWKS endpoint: the RS256 signing keys by kid, and when it was fetched."""

    url: str
    keys: Mapping[str, Any]
    fetched_at: float


class KeySource:
    """The verifying keys: PEMs from settings, or the users service's JWKS.

    The JWKS is cached for `JWT_JWKS_CACHE_SECONDS`, so a key users stops serving stops verifying
    within that time. A token with a kid the cached set lacks triggers an early refresh (a rotation's
    new key verifies at once), but at most once per `JWT_JWKS_MIN_REFRESH_SECONDS` per process, so a
    flood of made-up kids costs users one request per interval. When a refresh fails the cached set
    stays in use for at most `JWT_JWKS_STALE_IF_ERROR_SECONDS` more (users down does not log everyone
    out at once), and failed attempts are retried at the same bounded rate.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._set: _KeySet | None = None
        self._last_attempt: float | None = None
        self._last_attempt_failed = False

    def candidates(self, kid: str | None, *, fetch: bool = True) -> tuple[Any, ...]:
        """The keys that may have signed a token with this kid (fetch=False: raise KeysNotCached instead of I/O)."""
        pems: str = getattr(settings, "JWT_PUBLIC_KEY", "")
        if pems:
            return _load_pems(pems)
        if not kid:
            raise InvalidToken("token names no signing key")
        return (self._jwks_key(kid, fetch=fetch),)

    def _jwks_key(self, kid: str, *, fetch: bool) -> Any:
        url: str = settings.JWT_JWKS_URL
        key = self._fresh_key(url, kid, self._clock())
        if key is not None:
            return key
        if not fetch:
            # Never the lock either: another thread may hold it for a whole fetch.
            if self._should_fetch(url, kid, self._clock()):
                raise KeysNotCached(kid)
            return self._lookup(url, kid, self._clock())
        with self._lock:
            now = self._clock()
            if self._should_fetch(url, kid, now):
                self._refresh(url, now, reason=self._refresh_reason(url, now))
            return self._lookup(url, kid, self._clock())

    def _is_fresh(self, url: str, now: float) -> bool:
        current = self._set
        return current is not None and current.url == url and now - current.fetched_at < settings.JWT_JWKS_CACHE_SECONDS

    def _fresh_key(self, url: str, kid: str, now: float) -> Any:
        current = self._set
        if current is not None and self._is_fresh(url, now):
            return current.keys.get(kid)
        return None

    def _should_fetch(self, url: str, kid: str, now: float) -> bool:
        current = self._set
        if current is None or current.url != url or not self._is_fresh(url, now):
            # None yet, or expired: fetch, rate limited only after a failure (users is down: do not pile on);
            # a success already bounds this to once per cache lifetime.
            return not self._last_attempt_failed or self._interval_passed(now)
        return kid not in current.keys and self._interval_passed(now)

    def _refresh_reason(self, url: str, now: float) -> str:
        if self._set is None or self._set.url != url:
            return "first"
        return "unknown_kid" if self._is_fresh(url, now) else "expired"

    def _interval_passed(self, now: float) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= settings.JWT_JWKS_MIN_REFRESH_SECONDS

    def _refresh(self, url: str, now: float, *, reason: str) -> None:
        self._last_attempt = now
        try:
            keys = _fetch_jwks(url)
        except KeysUnavailable as exc:
            self._last_attempt_failed = True
            JWKS_FETCHES.labels(reason=reason, outcome="error").inc()
            log.warning("jwks_unavailable", url=url, reason=reason, error=str(exc))
            return
        self._last_attempt_failed = False
        JWKS_FETCHES.labels(reason=reason, outcome="ok").inc()
        previous = set(self._set.keys) if self._set is not None and self._set.url == url else set()
        if set(keys) != previous:
            log.info("jwks_keys_changed", url=url, kids=sorted(keys), dropped=sorted(previous - set(keys)))
        self._set = _KeySet(url=url, keys=keys, fetched_at=now)

    def _lookup(self, url: str, kid: str, now: float) -> Any:
        current = self._set
        if current is None or current.url != url:
            raise KeysUnavailable("the users service's keys cannot be fetched")
        age = now - current.fetched_at
        if age >= settings.JWT_JWKS_CACHE_SECONDS + settings.JWT_JWKS_STALE_IF_ERROR_SECONDS:
            raise KeysUnavailable("the cached keys are too old and the users service's keys cannot be fetched")
        if kid in current.keys:
            return current.keys[kid]
        if self._last_attempt_failed:
            raise KeysUnavailable("the users service's keys cannot be fetched")
        raise InvalidToken("token is signed with an unknown key")

    def reset(self) -> None:
        with self._lock:
            self._set = None
            self._last_attempt = None
            self._last_attempt_failed = False


def _fetch_jwks(url: str) -> dict[str, Any]:
    """The JWKS's RS256 signature keys by kid; KeysUnavailable for any failure (never a partial set)."""
    try:
        response = httpx.get(url, timeout=settings.JWT_JWKS_TIMEOUT, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
        jwk_set = jwt.PyJWKSet.from_dict(document if isinstance(document, dict) else {})
    except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
        raise KeysUnavailable(f"{type(exc).__name__}: {exc}") from exc
    keys = {
        jwk.key_id: jwk.key
        for jwk in jwk_set.keys
        if jwk.key_id
        and jwk.key_type == "RSA"
        and jwk.public_key_use in (None, "sig")
        and jwk.algorithm_name == ALGORITHM
    }
    if not keys:
        raise KeysUnavailable("the JWKS holds no RS256 signing key with a kid")
    return keys


_PEM_BLOCK = re.compile(r"-----BEGIN (RSA )?PUBLIC KEY-----.+?-----END \1?PUBLIC KEY-----", re.DOTALL)
_pem_cache: dict[str, tuple[Any, ...]] = {}


def _load_pems(pems: str) -> tuple[Any, ...]:
    """Every public key of a PEM bundle (the users service verifies with its current and previous key)."""
    if pems not in _pem_cache:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        blocks = [match.group(0) for match in _PEM_BLOCK.finditer(pems)] or [pems]  # none: let cryptography say why
        _pem_cache[pems] = tuple(load_pem_public_key(block.encode()) for block in blocks)
    return _pem_cache[pems]


keys = KeySource()


def verify_access_token(token: str, *, fetch: bool = True) -> Claims:
    """Verify signature (RS256 only), expiry, lifetime, issuer, audience and token type; return the claims.

    fetch=False never does I/O: when the keys must be fetched first it raises KeysNotCached.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("token is malformed") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("token algorithm is not accepted")
    kid = header.get("kid")
    payload = _decode(token, keys.candidates(kid if isinstance(kid, str) else None, fetch=fetch))
    if payload.get("type") != "access":
        raise InvalidToken("token is not an access token")
    # iat is required and not in the future (PyJWT checks it), so this bounds how long any token lives,
    # whoever minted it: a token users would never issue is refused, however far its exp.
    if int(payload["exp"]) - int(payload["iat"]) > settings.JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS:
        raise InvalidToken("token lifetime exceeds the accepted maximum")
    return Claims.from_payload(payload)


def _decode(token: str, candidates: tuple[Any, ...]) -> dict[str, Any]:
    for key in candidates:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti"]},
                leeway=settings.JWT_LEEWAY_SECONDS,
            )
        except jwt.InvalidSignatureError:
            continue  # signed with another of the candidate keys, or forged
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("token is invalid") from exc
        return payload
    raise InvalidToken("token signature is invalid")


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
