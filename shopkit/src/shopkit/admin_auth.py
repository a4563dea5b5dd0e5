"""Single staff identity: the admins of products, orders and carts sign staff in against the users service.

Every service but users uses this backend (`shopkit.base_settings.AUTHENTICATION_BACKENDS`); users keeps
Django's own, since the passwords live there. Sessions it starts are re-checked with users
(`shopkit.staff_session`), so they end when users revokes the staff member's access.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from shopkit.auth import InvalidToken, KeysUnavailable, verify_access_token
from shopkit.logging import get_logger
from shopkit.staff_session import issued_refresh_attach, users_logout

log = get_logger(__name__)


class UsersServiceBackend(ModelBackend):
    """Checks the e-mail and password with the users service; staff get a local shadow account.

    The shadow account has no usable password, so the users service stays the only place a
    password lives; `is_staff` in the users service grants this admin in full. The refresh token of
    the sign-in goes with the returned user to the admin's login view, which keeps it in the session.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if not username or not password:
            return None
        try:
            response = httpx.post(
                f"{settings.USERS_URL.rstrip('/')}/api/auth/login",
                json={"email": username, "password": password},
                timeout=settings.UPSTREAM_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            log.warning("staff_login_users_unreachable", error=str(exc))
            return None
        if response.status_code != 200:
            log.info("staff_login_rejected", email=username, status=response.status_code)
            return None
        try:
            body = response.json()
            claims = verify_access_token(body["access"])
            refresh = str(body["refresh"])
        except (InvalidToken, KeysUnavailable, KeyError, ValueError, TypeError):
            log.warning("staff_login_bad_token", email=username)
            return None
        if not claims.is_staff:
            log.info("staff_login_not_staff", email=username)
            # The sign-in started a token family no admin session will hold: end it at once.
            users_logout(token=refresh)
            return None
        user_model = get_user_model()
        user, _ = user_model.objects.update_or_create(
            username=claims.email,
            defaults={"email": claims.email, "is_staff": True, "is_superuser": True, "is_active": True},
        )
        if user.has_usable_password():
            user.set_unusable_password()
            user.save(update_fields=["password"])
        issued_refresh_attach(user, refresh)
        log.info("staff_login_succeeded", email=claims.email, user_id=str(claims.user_id))
        return user
