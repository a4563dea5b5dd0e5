"""Accounts: the shop's user (e-mail login, UUID id) and its server-side refresh tokens."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 150
# Raw passwords are bounded so a huge one cannot make hashing a denial of service.
PASSWORD_MAX_LENGTH = 128


def normalize_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively: stored trimmed and lower-case."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("an e-mail address is required")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.full_clean()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        if fields["is_staff"] is not True or fields["is_superuser"] is not True:
            raise ValueError("a superuser must have is_staff=True and is_superuser=True")
        return self._create(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        # The admin's sign-in form and ModelBackend look users up by e-mail, whatever its case.
        return self.get(email=normalize_email(username or ""))


class User(AbstractBaseUser, PermissionsMixin):
    """A customer or a staff member; the e-mail address is the login."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(
        "e-mail address",
        max_length=EMAIL_MAX_LENGTH,
        unique=True,
        error_messages={"unique": "An account with this e-mail address already exists."},
    )
    first_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True, default="")
    last_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True, default="")
    is_staff = models.BooleanField(default=False, help_text="Signs in to the admin of every service.")
    is_active = models.BooleanField(default=True, help_text="Inactive users cannot sign in or refresh tokens.")
    date_joined = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ("email",)
        constraints = (
            # Together with `unique` on the column: e-mail addresses are unique case-insensitively.
            models.CheckConstraint(condition=Q(email=Lower("email")), name="accounts_user_email_lowercase"),
            models.CheckConstraint(condition=~Q(email=""), name="accounts_user_email_not_empty"),
        )
        indexes = (models.Index(fields=("date_joined",), name="accounts_user_joined_idx"),)

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name


class RefreshToken(models.Model):
    """A refresh token handed out (the JWT's `jti`): spent on rotation, revoked on logout or reuse.

    Tokens descending from one login share a family: replaying a spent token revokes the family,
    so a stolen token stops working for the thief and the victim alike (reuse detection).
    """

    id = models.UUIDField(primary_key=True, editable=False, help_text="The token's `jti`.")
    family_id = models.UUIDField(db_index=True, editable=False, help_text="The token's `fam`: one per login.")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, help_text="When it was rotated into a new pair.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="accounts_refresh_expires_later"),
        )
        indexes = (models.Index(fields=("user", "revoked_at"), name="accounts_refresh_user_idx"),)

    def __str__(self) -> str:
        return str(self.id)

    @property
    def is_usable(self) -> bool:
        """Still exchangeable for a new pair (neither spent, revoked nor expired)."""
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()
