"""Writes of the accounts app: registration, sign-in, token rotation and revocation, profile, password, staff edits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import structlog
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from shopkit.errors import ApplicationError
from shopkit.events import emit_event
from shopkit.events.contracts import UserRegisteredV1
from user_svc.accounts import metrics, tokens
from user_svc.accounts.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidPassword,
    InvalidRefreshToken,
    UserNotFound,
    WrongCurrentPassword,
)
from user_svc.accounts.models import RefreshToken, User, normalize_email
from user_svc.accounts.selectors import user_email_taken, user_find_by_email

log = structlog.get_logger(__name__)

TOKEN_TYPE = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


RefreshOutcome = Literal["rotated", "unknown", "revoked", "reused", "expired", "inactive"]


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int
    token_type: str = TOKEN_TYPE


def _password_validate(password: str, *, user: User, field: str) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidPassword(field=field, messages=list(exc.messages)) from exc


def _user_full_clean(user: User) -> None:
    try:
        # Uniqueness is left to the database (the unique index), so a concurrent twin cannot slip through.
        user.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise ApplicationError(
            "The request is invalid.", code="validation-error", extra={"errors": exc.message_dict}
        ) from exc


def _user_insert(*, user: User, password: str | None) -> User:
    """Store a new account and, in the same transaction, its `shop.user.registered.v1` event.

    Without a password (a staff member may create an account that cannot sign in yet) the password is unusable.
    """
    if password is None:
        user.set_unusable_password()
    else:
        _password_validate(password, user=user, field="password")
        user.set_password(password)
    if user_email_taken(email=user.email):
        raise EmailTaken
    _user_full_clean(user)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError as exc:
        # Lost a race with a concurrent registration of the same address.
        raise EmailTaken from exc
    emit_event(UserRegisteredV1(user_id=user.id, email=user.email, registered_at=user.date_joined))
    transaction.on_commit(metrics.USERS_REGISTERED.inc)
    return user


@transaction.atomic
def user_register(*, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Create a customer account and, in the same transaction, its `shop.user.registered.v1` event."""
    user = User(email=normalize_email(email), first_name=first_name.strip(), last_name=last_name.strip())
    _user_insert(user=user, password=password)
    log.info("user_registered", user_id=str(user.id))
    return user


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """A staff member creates an account (the users admin): the same checks and event as a registration."""
    user = User(
        email=normalize_email(email),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    _user_insert(user=user, password=password)
    log.info("user_created_by_staff", user_id=str(user.id), is_staff=is_staff, is_superuser=is_superuser)
    return user


def _token_pair_issue(*, user: User, family_id: uuid.UUID, now: dt.datetime) -> TokenPair:
    """Store a new refresh token of `family_id` and sign it with a fresh access token."""
    refresh = RefreshToken(
        id=uuid.uuid4(),
        family_id=family_id,
        user=user,
        created_at=now,
        expires_at=now + tokens.refresh_token_lifetime(),
    )
    refresh.save(force_insert=True)
    return TokenPair(
        access=tokens.access_token_issue(
            user_id=user.id, email=user.email, is_staff=user.is_staff, is_superuser=user.is_superuser, issued_at=now
        ),
        refresh=tokens.refresh_token_encode(
            token_id=refresh.id, family_id=family_id, user_id=user.id, issued_at=now, expires_at=refresh.expires_at
        ),
        expires_in=int(tokens.access_token_lifetime().total_seconds()),
    )


@transaction.atomic
def auth_login(*, email: str, password: str) -> TokenPair:
    """Check the credentials and start a new token family; any failure is the same 401."""
    user = user_find_by_email(email=email)
    if user is None:
        # Hash anyway, so response time does not tell whether the address has an account.
        User().set_password(password)
    if user is None or not user.check_password(password) or not user.is_active:
        metrics.LOGINS.labels(outcome="failed").inc()
        log.info("login_failed", user_id=str(user.id) if user else None)
        raise InvalidCredentials
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(last_login=now)
    pair = _token_pair_issue(user=user, family_id=uuid.uuid4(), now=now)
    metrics.LOGINS.labels(outcome="succeeded").inc()
    log.info("login_succeeded", user_id=str(user.id))
    return pair


def auth_refresh(*, refresh: str) -> TokenPair:
    """Rotate a refresh token: it is spent and a new pair of the same family is issued.

    Replaying a spent token means two parties hold it: the whole family is revoked, so neither the
    thief nor the victim can go on refreshing. The revocation must survive the 401 that follows,
    hence the transaction commits before the error is raised (not `@transaction.atomic`).
    """
    claims = tokens.refresh_token_decode(refresh)
    now = timezone.now()
    with transaction.atomic():
        token = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(id=claims.token_id, family_id=claims.family_id, user_id=claims.user_id)
            .first()
        )
        outcome = _refresh_outcome(token, now=now)
        if token is not None and outcome in ("reused", "inactive"):
            _families_revoke(family_ids=[token.family_id], now=now)
        pair = None
        if token is not None and outcome == "rotated":
            token.used_at = now
            token.save(update_fields=["used_at", "updated_at"])
            pair = _token_pair_issue(user=token.user, family_id=token.family_id, now=now)
    metrics.TOKEN_REFRESHES.labels(outcome=outcome).inc()
    if pair is None:
        log_method = log.warning if outcome == "reused" else log.info
        log_method("token_refresh_rejected", reason=outcome, family_id=str(claims.family_id))
        raise InvalidRefreshToken
    log.info("token_refreshed", user_id=str(claims.user_id), family_id=str(claims.family_id))
    return pair


def _refresh_outcome(token: RefreshToken | None, *, now: dt.datetime) -> RefreshOutcome:
    if token is None:
        return "unknown"
    if token.revoked_at is not None:
        return "revoked"
    if token.used_at is not None:
        return "reused"
    if token.expires_at <= now:
        return "expired"
    if not token.user.is_active:
        return "inactive"
    return "rotated"


@transaction.atomic
def auth_logout(*, refresh: str) -> None:
    """Revoke the refresh token's family (the session it belongs to); idempotent."""
    claims = tokens.refresh_token_decode(refresh)
    now = timezone.now()
    revoked = RefreshToken.objects.filter(
        family_id=claims.family_id, user_id=claims.user_id, revoked_at__isnull=True
    ).update(revoked_at=now, updated_at=now)
    log.info("logged_out", user_id=str(claims.user_id), family_id=str(claims.family_id), revoked=revoked)


def _families_revoke(*, family_ids: Iterable[uuid.UUID], now: dt.datetime) -> int:
    return RefreshToken.objects.filter(family_id__in=list(family_ids), revoked_at__isnull=True).update(
        revoked_at=now, updated_at=now
    )


@transaction.atomic
def refresh_token_families_revoke(*, token_ids: Iterable[uuid.UUID]) -> int:
    """Revoke every family the given tokens belong to (the admin's action); returns tokens revoked."""
    family_ids = set(RefreshToken.objects.filter(id__in=list(token_ids)).values_list("family_id", flat=True))
    revoked = _families_revoke(family_ids=family_ids, now=timezone.now())
    log.info("refresh_token_families_revoked", families=len(family_ids), revoked=revoked)
    return revoked


def _user_lock(*, user_id: uuid.UUID) -> User:
    try:
        return User.objects.select_for_update().get(pk=user_id)
    except User.DoesNotExist as exc:
        # A valid access token of a deleted account.
        raise UserNotFound from exc


@transaction.atomic
def user_profile_update(*, user_id: uuid.UUID, first_name: str | None = None, last_name: str | None = None) -> User:
    user = _user_lock(user_id=user_id)
    changed: list[str] = []
    if first_name is not None:
        user.first_name = first_name.strip()
        changed.append("first_name")
    if last_name is not None:
        user.last_name = last_name.strip()
        changed.append("last_name")
    if changed:
        _user_full_clean(user)
        user.save(update_fields=[*changed, "updated_at"])
        log.info("user_profile_updated", user_id=str(user.id), fields=changed)
    return user


@transaction.atomic
def user_password_change(*, user_id: uuid.UUID, current_password: str, new_password: str) -> None:
    """Set a new password and revoke every refresh token: other sessions must sign in again."""
    user = _user_lock(user_id=user_id)
    if not user.check_password(current_password):
        log.info("password_change_rejected", user_id=str(user.id))
        raise WrongCurrentPassword
    _password_validate(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    revoked = _user_refresh_tokens_revoke(user=user, now=timezone.now())
    log.info("password_changed", user_id=str(user.id), refresh_tokens_revoked=revoked)


@transaction.atomic
def user_staff_create(*, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Create a staff superuser (one identity for every service's admin); the password is validated too."""
    user = User(
        email=normalize_email(email),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        is_staff=True,
        is_superuser=True,
    )
    _user_insert(user=user, password=password)
    log.info("staff_user_created", user_id=str(user.id))
    return user


def _user_refresh_tokens_revoke(*, user: User, now: dt.datetime) -> int:
    """Every refresh token of the user stops working: its admin sessions elsewhere end at their next check."""
    return RefreshToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now, updated_at=now)


# Changes after which the person must sign in again everywhere: the login name, or access taken away.
_ACCESS_FIELDS = ("email", "is_active", "is_staff", "is_superuser")


@transaction.atomic
def user_update(
    *,
    user_id: uuid.UUID,
    email: str,
    first_name: str,
    last_name: str,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    groups: Iterable[Group] | None = None,
    user_permissions: Iterable[Permission] | None = None,
) -> User:
    """A staff member changes an account (the users admin).

    A new e-mail address, deactivation, or losing staff or superuser status revokes every refresh token
    of the account, so its sessions in every admin end and its API sessions cannot be refreshed.
    """
    user = _user_lock(user_id=user_id)
    before = {name: getattr(user, name) for name in _ACCESS_FIELDS}
    user.email = normalize_email(email)
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.is_active, user.is_staff, user.is_superuser = is_active, is_staff, is_superuser
    _user_full_clean(user)
    if user.email != before["email"] and User.objects.filter(email=user.email).exclude(pk=user.pk).exists():
        raise EmailTaken
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise EmailTaken from exc
    if groups is not None:
        user.groups.set(list(groups))
    if user_permissions is not None:
        user.user_permissions.set(list(user_permissions))
    # Losing a flag ends sessions; gaining one does not (the next sign-in carries it).
    lost_access = [name for name in _ACCESS_FIELDS[1:] if before[name] and not getattr(user, name)]
    email_changed = user.email != before["email"]
    revoked = _user_refresh_tokens_revoke(user=user, now=timezone.now()) if lost_access or email_changed else 0
    log.info(
        "user_updated_by_staff",
        user_id=str(user.id),
        lost_access=lost_access,
        email_changed=email_changed,
        refresh_tokens_revoked=revoked,
    )
    return user


@transaction.atomic
def user_password_set(*, user_id: uuid.UUID, password: str | None) -> User:
    """A staff member sets an account's password (None: password sign-in disabled); every session ends."""
    user = _user_lock(user_id=user_id)
    if password is None:
        user.set_unusable_password()
    else:
        _password_validate(password, user=user, field="password")
        user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    revoked = _user_refresh_tokens_revoke(user=user, now=timezone.now())
    log.info("password_set_by_staff", user_id=str(user.id), usable=password is not None, refresh_tokens_revoked=revoked)
    return user


@transaction.atomic
def user_deactivate(*, user_id: uuid.UUID) -> User:
    """The account can no longer sign in or refresh; its sessions in every admin end. Idempotent."""
    user = _user_lock(user_id=user_id)
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active", "updated_at"])
    revoked = _user_refresh_tokens_revoke(user=user, now=timezone.now())
    log.info("user_deactivated", user_id=str(user.id), refresh_tokens_revoked=revoked)
    return user


@transaction.atomic
def user_delete(*, user_id: uuid.UUID) -> None:
    """Delete the account; its refresh tokens go with it, so no session of it survives anywhere."""
    user = _user_lock(user_id=user_id)
    tokens_deleted = RefreshToken.objects.filter(user=user).count()
    user.delete()
    log.info("user_deleted", user_id=str(user_id), refresh_tokens_deleted=tokens_deleted)
