"""Admin sessions of staff signed in through the users service: they last only while users still vouches for them.

Signing in to the products, orders or carts admin (`shopkit.admin_auth.UsersServiceBackend`) starts
a token family in the users service; its refresh token stays in this service's server-side session.
`StaffSessionMiddleware` asks users about that token at most every `STAFF_SESSION_CHECK_SECONDS`
(`POST /api/auth/introspect`, which never rotates it: two admin requests may check at once). Users
revokes a person's tokens when they are deleted, demoted, deactivated or their password or e-mail
changes; the next check then ends the session here. When users cannot answer, the session is kept
only while its last good check is younger than `STAFF_SESSION_MAX_UNCHECKED_SECONDS` (fail closed).

This module imports no models: the admin site (loaded with the app registry) uses it too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, logout
from django.http import HttpRequest

from shopkit.logging import get_logger

log = get_logger(__name__)

USERS_BACKEND = "shopkit.admin_auth.UsersServiceBackend"
SESSION_REFRESH_KEY = "shop_staff_refresh"
SESSION_CHECKED_AT_KEY = "shop_staff_checked_at"
# The backend hands the refresh token it was issued to the admin's login view on the user object
# (as Django hands over `user.backend`): the session it belongs in only exists after login().
_ISSUED_REFRESH_ATTR = "_shop_issued_refresh"

_ENDED = "Your staff session has ended: your access or password changed in the users service. Please sign in again."
_UNCHECKED = "Your staff session has ended: the users service could not confirm it. Please sign in again."


@dataclass(frozen=True)
class TokenStatus:
    """The users service's answer about a refresh token (RFC 7662 style)."""

    active: bool
    is_staff: bool = False


def _users_url(path: str) -> str:
    return f"{settings.USERS_URL.rstrip('/')}{path}"


def users_introspect(*, token: str) -> TokenStatus | None:
    """Whether the token is still active and whose it is; None when users cannot answer."""
    try:
        response = httpx.post(
            _users_url("/api/auth/introspect"), json={"token": token}, timeout=settings.UPSTREAM_TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        log.warning("staff_session_check_unreachable", error=str(exc))
        return None
    if response.status_code != 200:
        # Anything but an answer (a 5xx, or a users service without the endpoint) is "cannot tell".
        log.warning("staff_session_check_failed", status=response.status_code)
        return None
    try:
        body: Any = response.json()
        return TokenStatus(active=body["active"] is True, is_staff=body.get("is_staff") is True)
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("staff_session_check_malformed")
        return None


def users_logout(*, token: str) -> None:
    """Revoke the session's token family in users; a failure only means it lapses at its expiry."""
    try:
        response = httpx.post(
            _users_url("/api/auth/logout"), json={"refresh": token}, timeout=settings.UPSTREAM_TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        log.warning("staff_logout_users_unreachable", error=str(exc))
        return
    if response.status_code != 204:
        log.warning("staff_logout_rejected", status=response.status_code)


def issued_refresh_attach(user: Any, refresh: str) -> None:
    setattr(user, _ISSUED_REFRESH_ATTR, refresh)


def staff_session_begin(request: HttpRequest) -> None:
    """After a successful admin login: keep the refresh token the backend was issued in the session."""
    refresh = getattr(request.user, _ISSUED_REFRESH_ATTR, None)
    if not isinstance(refresh, str) or request.session.get(BACKEND_SESSION_KEY) != USERS_BACKEND:
        return
    request.session[SESSION_REFRESH_KEY] = refresh
    request.session[SESSION_CHECKED_AT_KEY] = time.time()


def staff_session_verify(request: HttpRequest) -> None:
    """End this request's admin session unless users still vouches for it (see the module docstring)."""
    session = request.session
    if session.get(BACKEND_SESSION_KEY) != USERS_BACKEND:
        return
    refresh = session.get(SESSION_REFRESH_KEY)
    if not isinstance(refresh, str) or not refresh:
        _end(request, reason="no_token", message=_ENDED)
        return
    now = time.time()
    checked_at = float(session.get(SESSION_CHECKED_AT_KEY) or 0.0)
    if now - checked_at < settings.STAFF_SESSION_CHECK_SECONDS:
        return
    status = users_introspect(token=refresh)
    if status is None:
        if now - checked_at >= settings.STAFF_SESSION_MAX_UNCHECKED_SECONDS:
            _end(request, reason="users_unreachable", message=_UNCHECKED)
        return
    if not status.active:
        _end(request, reason="token_inactive", message=_ENDED)
    elif not status.is_staff:
        _end(request, reason="not_staff", message=_ENDED)
    else:
        session[SESSION_CHECKED_AT_KEY] = now


def staff_session_close(request: HttpRequest) -> None:
    """The staff member logs out of this admin: their token family at users is revoked too."""
    refresh = request.session.get(SESSION_REFRESH_KEY)
    if isinstance(refresh, str) and refresh:
        users_logout(token=refresh)


def _end(request: HttpRequest, *, reason: str, message: str) -> None:
    log.info("staff_session_ended", reason=reason, local_user_id=str(request.session.get(SESSION_KEY)))
    logout(request)
    # The admin's login page shows it: the staff member learns why they are signed out.
    messages.warning(request, message, fail_silently=True)
