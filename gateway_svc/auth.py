"""Bearer-token checks at the gateway: forged, expired or missing tokens never reach a downstream service."""

from __future__ import annotations

from typing import Any

import structlog
from asgiref.sync import sync_to_async
from django.http import HttpRequest
from ninja.security import HttpBearer

from gateway_svc.errors import GatewayErrorCode, StaffOnly, Unauthenticated, UpstreamUnavailable
from shopkit.auth import Claims, InvalidToken, KeysNotCached, KeysUnavailable, verify_access_token

WWW_AUTHENTICATE = 'Bearer realm="shop"'


def not_authenticated(detail: str = "Sign in: send 'Authorization: Bearer <access token>'.") -> Unauthenticated:
    return Unauthenticated(
        detail, code=GatewayErrorCode.NOT_AUTHENTICATED, headers={"WWW-Authenticate": WWW_AUTHENTICATE}
    )


async def verify(token: str) -> Claims:
    """Verify an access token without blocking the event loop on a JWKS fetch.

    With the keys cached, verifying does no I/O and runs on the event loop; when shopkit would have to
    fetch the JWKS first (expired, or an unknown kid), it runs in a worker thread instead.
    """
    try:
        return verify_access_token(token, fetch=False)
    except KeysNotCached:
        return await sync_to_async(verify_access_token, thread_sensitive=False)(token)


class BearerAuth(HttpBearer):
    """Ninja auth: the verified claims become `request.auth`; failures are 401 problems (503 without keys)."""

    async def authenticate(self, request: HttpRequest, token: str) -> Claims:
        try:
            claims = await verify(token)
        except InvalidToken as exc:
            raise Unauthenticated(
                f"Invalid access token: {exc}.",
                code=GatewayErrorCode.INVALID_TOKEN,
                headers={"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token"'},
            ) from exc
        except KeysUnavailable as exc:
            raise UpstreamUnavailable(
                "Token keys are unavailable; try again shortly.",
                code=GatewayErrorCode.KEYS_UNAVAILABLE,
                headers={"Retry-After": "5"},
            ) from exc
        structlog.contextvars.bind_contextvars(user_id=str(claims.user_id))
        return claims


bearer = BearerAuth()


def claims_of(request: HttpRequest) -> Claims:
    claims: Any = getattr(request, "auth", None)
    if not isinstance(claims, Claims):
        raise not_authenticated()
    return claims


def require_staff(request: HttpRequest) -> Claims:
    claims = claims_of(request)
    if not claims.is_staff:
        raise StaffOnly("Only staff may do this.", code=GatewayErrorCode.STAFF_ONLY)
    return claims
