"""Input and output shapes of the accounts API (parsing and rendering only; rules live in services)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from user_svc.accounts.models import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH, PASSWORD_MAX_LENGTH

# A refresh JWT is well under 1 KiB; anything far longer is not one of ours.
TOKEN_MAX_LENGTH = 4096


def _password(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, write_only=True, **kwargs)


def _name() -> serializers.CharField:
    return serializers.CharField(max_length=NAME_MAX_LENGTH, required=False, allow_blank=True)


class RegisterInputSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    password = _password()
    first_name = _name()
    last_name = _name()


class LoginInputSerializer(serializers.Serializer[Any]):
    # Not an EmailField: a malformed address is simply a wrong one (401), like any unknown address.
    email = serializers.CharField(max_length=EMAIL_MAX_LENGTH, trim_whitespace=True)
    password = _password()


class RefreshInputSerializer(serializers.Serializer[Any]):
    refresh = serializers.CharField(max_length=TOKEN_MAX_LENGTH)


class IntrospectInputSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=TOKEN_MAX_LENGTH)


class IntrospectionOutputSerializer(serializers.Serializer[Any]):
    """RFC 7662's answer: `{"active": false}` alone for a token that does not work (nothing about why)."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if not instance.active:
            return {"active": False}
        return {
            "active": True,
            "token_type": "refresh",
            "sub": str(instance.user_id),
            "email": instance.email,
            "is_staff": instance.is_staff,
            "is_superuser": instance.is_superuser,
            "exp": int(instance.expires_at.timestamp()),
        }


class ProfileUpdateInputSerializer(serializers.Serializer[Any]):
    first_name = _name()
    last_name = _name()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # e-mail, is_staff and the rest are never silently ignored: the caller learns they did not change.
        others = sorted(set(self.initial_data) - set(self.fields))
        if others:
            raise serializers.ValidationError({name: ["This field cannot be changed here."] for name in others})
        return attrs


class PasswordChangeInputSerializer(serializers.Serializer[Any]):
    current_password = _password()
    new_password = _password()


class UserOutputSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class TokenPairOutputSerializer(serializers.Serializer[Any]):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
