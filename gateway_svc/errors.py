"""Errors the gateway itself raises: shopkit's application errors, named for where they arise."""

from __future__ import annotations

from shopkit.errors import ApplicationError, ErrorCode, PermissionDenied, ServiceUnavailable
from shopkit.errors import Unauthenticated as PlatformUnauthenticated


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
    """An application error of the gateway's own (its API answers each with its headers, gateway_svc.api)."""


class UpstreamUnavailable(GatewayError, ServiceUnavailable):
    """The downstream service refused the connection, broke it, or answered a non-problem 5xx."""


class UpstreamTimeout(GatewayError):
    """The downstream service did not answer within the gateway's deadline."""

    status = 504
    title = "Gateway timeout"


class InvalidHeader(GatewayError):
    """A header the gateway would have to send on cannot be (not visible ASCII, or too long): a 400."""


class RateLimited(GatewayError):
    status = 429
    title = "Too many requests"


class Unauthenticated(GatewayError, PlatformUnauthenticated):
    """No access token, or one that does not verify (with `WWW-Authenticate`)."""


class StaffOnly(GatewayError, PermissionDenied):
    """A staff-only endpoint asked by a customer."""
