"""Reads of the accounts app."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from user_svc.accounts import metrics, tokens
from user_svc.accounts.errors import InvalidRefreshToken, UserNotFound
from user_svc.accounts.models import RefreshToken, User, normalize_email


@dataclass(frozen=True)
class TokenIntrospection:
    """What users tells the token's holder about a refresh token (RFC 7662): only `active` when it is not."""

    active: bool
    user_id: uuid.UUID | None = None
    email: str = ""
    is_staff: bool = False
    is_superuser: bool = False
    expires_at: dt.datetime | None = None


INACTIVE = TokenIntrospection(active=False)


def user_get(*, user_id: uuid.UUID) -> User:
    try:
        return User.objects.get(pk=user_id)
    except User.DoesNotExist as exc:
        raise UserNotFound from exc


def user_find_by_email(*, email: str) -> User | None:
    return User.objects.filter(email=normalize_email(email)).first()


def user_email_taken(*, email: str) -> bool:
    return User.objects.filter(email=normalize_email(email)).exists()


def refresh_token_introspect(*, token: str) -> TokenIntrospection:
    """Whether a refresh token still works, and whose it is, without spending it (no rotation).

    Active means: our signature, unexpired, neither spent nor revoked, and its account active. The admins
    of the other services hold one per staff session and ask this every few seconds; rotating here would
    let two concurrent checks look like token reuse and revoke the whole family.
    """
    try:
        claims = tokens.refresh_token_decode(token)
    except InvalidRefreshToken:
        metrics.TOKEN_INTROSPECTIONS.labels(outcome="inactive").inc()
        return INACTIVE
    stored = (
        RefreshToken.objects.select_related("user")
        .filter(id=claims.token_id, family_id=claims.family_id, user_id=claims.user_id)
        .first()
    )
    if stored is None or not stored.is_usable or not stored.user.is_active:
        metrics.TOKEN_INTROSPECTIONS.labels(outcome="inactive").inc()
        return INACTIVE
    metrics.TOKEN_INTROSPECTIONS.labels(outcome="active").inc()
    return TokenIntrospection(
        active=True,
        user_id=stored.user.id,
        email=stored.user.email,
        is_staff=stored.user.is_staff,
        is_superuser=stored.user.is_superuser,
        expires_at=stored.expires_at,
    )
