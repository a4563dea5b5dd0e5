"""Errors the gateway itself raises; each becomes a problem-details response."""

from __future__ import annotations

import enum
from typing import Any

from shopkit.errors import ApplicationError, ErrorCode


class GatewayErrorCode(ErrorCode):
    UPSTREAM_UNAVAILABLE = "upstream-unavailable"
    UPSTREAM_TIMEOUT = "upstream-timeout"
    CIRCUIT_OPEN = "circuit-open"
    RATE_LIMITED = "rate-limited"
    NOT_AUTHENTICATED = "not-authenticated"
    INVALID_TOKEN = "invalid-token"  # noqa: S105 - a problem type, not a secret
    KEYS_UNAVAILABLE = "keys-unavailable"
    STAFF_ONLY = "staff-only"
    VALIDATION_ERROR = "validation-error"
    MALFORMED_JSON = "malformed-json"
    BODY_TOO_LARGE = "body-too-large"
    INVALID_HEADER = "invalid-header"
    SHOP_UNAVAILABLE = "shop-unavailable"


class GatewayError(ApplicationError):
    """An application error that may also carry response headers (`Retry-After`, `WWW-Authenticate`)."""

    def __init__(
        self,
        detail: str,
        *,
        code: str | enum.Enum,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, code=code, extra=extra)
        self.headers = headers or {}


class UpstreamUnavailable(GatewayError):
    """The downstream service refused the connection, broke it, or answered a non-problem 5xx."""

    status = 503
    title = "Service unavailable"


class UpstreamTimeout(GatewayError):
    """The downstream service did not answer within the gateway's deadline."""

    status = 504
    title = "Gateway timeout"


class InvalidHeader(GatewayError):
    """A header the gateway would have to send on cannot be (not visible ASCII, or too long)."""

    status = 400
    title = "Bad request"


class RateLimited(GatewayError):
    status = 429
    title = "Too many requests"


class Unauthenticated(GatewayError):
    status = 401
    title = "Unauthorized"


class StaffOnly(GatewayError):
    status = 403
    title = "Forbidden"
