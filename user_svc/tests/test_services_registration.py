"""Registration: the account, its outbox event in the same transaction, and what is refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from shopkit.events.models import OutboxEvent
from user_svc.accounts.errors import EmailTaken, InvalidPassword
from user_svc.accounts.models import User
from user_svc.accounts.services import user_register
from user_svc.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _registered_total() -> float:
    return REGISTRY.get_sample_value("shop_users_registered_total") or 0.0


def test_register_stores_user_with_normalised_email_and_registered_event(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given
    before = _registered_total()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        user = user_register(
            email="  Ada.Lovelace@Example.COM ", password="analytical-engine-1843", first_name=" Ada ", last_name="L"
        )

    # then
    stored = User.objects.get()
    assert (stored.id, stored.email, stored.first_name, stored.last_name) == (
        user.id,
        "ada.lovelace@example.com",
        "Ada",
        "L",
    )
    assert (stored.is_staff, stored.is_superuser, stored.is_active) == (False, False, True)
    assert stored.check_password("analytical-engine-1843")
    event = OutboxEvent.objects.get()
    assert (event.topic, event.key, event.event_type) == ("shop.users", str(user.id), "shop.user.registered.v1")
    assert event.payload["subject"] == str(user.id)
    assert event.payload["data"] == {
        "user_id": str(user.id),
        "email": "ada.lovelace@example.com",
        "registered_at": stored.date_joined.isoformat(),
    }
    assert _registered_total() == before + 1


def test_register_with_taken_email_in_other_case_is_refused_and_writes_nothing() -> None:
    # given
    UserFactory.create(email="taken@example.com")

    # when
    with pytest.raises(EmailTaken):
        user_register(email="TAKEN@example.com", password="another-good-passphrase")

    # then
    assert User.objects.count() == 1
    assert OutboxEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("password", "message"),
    [
        pytest.param("short", "This password is too short. It must contain at least 8 characters.", id="short"),
        pytest.param("password123", "This password is too common.", id="common"),
        pytest.param("8675309912", "This password is entirely numeric.", id="numeric"),
        pytest.param("grace.hopper@example", "The password is too similar to the e-mail address.", id="like-email"),
    ],
)
def test_register_with_weak_password_is_refused_and_writes_nothing(password: str, message: str) -> None:
    # when
    with pytest.raises(InvalidPassword) as raised:
        user_register(email="grace.hopper@example.com", password=password)

    # then
    assert message in raised.value.extra["errors"]["password"]
    assert User.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


def test_registration_rolled_back_by_the_caller_leaves_neither_user_nor_event() -> None:
    # given
    class CallerFailed(Exception):
        pass

    def register_then_fail() -> None:
        with transaction.atomic():
            user_register(email="rollback@example.com", password="a-fine-passphrase")
            raise CallerFailed

    # when
    with pytest.raises(CallerFailed):
        register_then_fail()

    # then
    assert User.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


def test_user_ids_are_uuids() -> None:
    # when
    user = user_register(email="uuid@example.com", password="a-fine-passphrase")

    # then
    assert isinstance(user.id, uuid.UUID)
    assert User.objects.filter(pk=user.id).exists()
