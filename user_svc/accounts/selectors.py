"""Reads of the accounts app."""

from __future__ import annotations

import uuid

from user_svc.accounts.errors import UserNotFound
from user_svc.accounts.models import User, normalize_email


def user_get(*, user_id: uuid.UUID) -> User:
    try:
        return User.objects.get(pk=user_id)
    except User.DoesNotExist as exc:
        raise UserNotFound from exc


def user_find_by_email(*, email: str) -> User | None:
    return User.objects.filter(email=normalize_email(email)).first()


def user_email_taken(*, email: str) -> bool:
    return User.objects.filter(email=normalize_email(email)).exists()
