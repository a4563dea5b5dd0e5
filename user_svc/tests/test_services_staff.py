"""Staff-side account changes: creation publishes `user.registered`; losing access or credentials revokes tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group

from shopkit.events.models import OutboxEvent
from user_svc.accounts import services
from user_svc.accounts.errors import EmailTaken, InvalidPassword
from user_svc.accounts.models import RefreshToken, User
from user_svc.accounts.selectors import refresh_token_introspect
from user_svc.accounts.services import TokenPair
from user_svc.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Login = Callable[..., TokenPair]


def _fields(user: User, **changes: Any) -> dict[str, Any]:
    current = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
    }
    return {**current, **changes}


def _live_tokens(user: User) -> int:
    return RefreshToken.objects.filter(user=user, revoked_at__isnull=True).count()


def test_user_create_stores_the_account_and_its_registered_event() -> None:
    # when
    user = services.user_create(email=" New@Example.com ", password="a-fresh-passphrase", first_name=" New ")

    # then
    stored = User.objects.get()
    assert (stored.email, stored.first_name, stored.is_staff) == ("new@example.com", "New", False)
    assert stored.check_password("a-fresh-passphrase")
    event = OutboxEvent.objects.get()
    assert (event.event_type, event.key) == ("shop.user.registered.v1", str(user.id))
    assert event.payload["data"]["email"] == "new@example.com"


def test_user_create_without_a_password_makes_an_account_that_cannot_sign_in_yet() -> None:
    # when
    services.user_create(email="later@example.com", password=None)

    # then
    assert User.objects.get().has_usable_password() is False
    assert OutboxEvent.objects.count() == 1


def test_user_create_refuses_a_taken_address_and_a_weak_password() -> None:
    # given
    UserFactory.create(email="taken@example.com")

    # when / then
    with pytest.raises(EmailTaken):
        services.user_create(email="TAKEN@example.com", password="a-fresh-passphrase")
    with pytest.raises(InvalidPassword):
        services.user_create(email="weak@example.com", password="123")
    assert User.objects.count() == 1
    assert OutboxEvent.objects.count() == 0


@pytest.mark.parametrize(
    "change",
    [{"is_staff": False}, {"is_superuser": False}, {"is_active": False}, {"email": "renamed@example.com"}],
    ids=["demoted", "no_longer_superuser", "deactivated", "email_changed"],
)
def test_losing_access_or_changing_the_login_revokes_every_refresh_token(login: Login, change: dict[str, Any]) -> None:
    # given: two sessions (say, the products and the orders admin)
    staff = UserFactory.create(email="boss@example.com", is_staff=True, is_superuser=True)
    first, second = login(staff), login(staff)

    # when
    services.user_update(user_id=staff.id, **_fields(staff, **change))

    # then
    assert _live_tokens(staff) == 0
    assert refresh_token_introspect(token=first.refresh).active is False
    assert refresh_token_introspect(token=second.refresh).active is False


@pytest.mark.parametrize(
    "change",
    [
        {"first_name": "Augusta", "last_name": "King"},
        {"is_staff": True, "is_superuser": True},
        {"email": "ADA@example.com"},
    ],
    ids=["names", "promoted", "same_email_other_case"],
)
def test_other_changes_keep_the_sessions(user: User, login: Login, change: dict[str, Any]) -> None:
    # given
    pair = login(user)

    # when
    updated = services.user_update(user_id=user.id, **_fields(user, **change))

    # then
    assert refresh_token_introspect(token=pair.refresh).active is True
    stored = User.objects.get(pk=user.pk)
    assert stored.email == "ada@example.com"
    assert (stored.first_name, stored.is_staff) == (updated.first_name, updated.is_staff)


def test_user_update_sets_groups_and_refuses_a_taken_address(user: User) -> None:
    # given
    UserFactory.create(email="taken@example.com")
    group = Group.objects.create(name="support")

    # when
    services.user_update(user_id=user.id, **_fields(user), groups=[group])

    # then
    assert list(User.objects.get(pk=user.pk).groups.all()) == [group]
    with pytest.raises(EmailTaken):
        services.user_update(user_id=user.id, **_fields(user, email="Taken@example.com"))
    assert User.objects.get(pk=user.pk).email == "ada@example.com"


@pytest.mark.parametrize("password", ["a-new-passphrase", None], ids=["set", "disabled"])
def test_a_password_set_by_staff_revokes_every_refresh_token(user: User, login: Login, password: str | None) -> None:
    # given
    pair = login(user)

    # when
    services.user_password_set(user_id=user.id, password=password)

    # then
    stored = User.objects.get(pk=user.pk)
    assert stored.has_usable_password() is (password is not None)
    if password:
        assert stored.check_password(password)
    assert refresh_token_introspect(token=pair.refresh).active is False


def test_a_weak_password_set_by_staff_is_refused_and_changes_nothing(user: User, login: Login) -> None:
    # given
    pair = login(user)

    # when / then
    with pytest.raises(InvalidPassword):
        services.user_password_set(user_id=user.id, password="ada")
    assert refresh_token_introspect(token=pair.refresh).active is True


def test_user_deactivate_ends_every_session_and_is_idempotent(user: User, login: Login) -> None:
    # given
    pair = login(user)

    # when
    services.user_deactivate(user_id=user.id)
    services.user_deactivate(user_id=user.id)

    # then
    assert User.objects.get(pk=user.pk).is_active is False
    assert refresh_token_introspect(token=pair.refresh).active is False
    assert _live_tokens(user) == 0


def test_user_delete_removes_the_account_and_every_token(user: User, login: Login) -> None:
    # given
    pair = login(user)

    # when
    services.user_delete(user_id=user.id)

    # then
    assert User.objects.count() == 0
    assert RefreshToken.objects.count() == 0
    assert refresh_token_introspect(token=pair.refresh).active is False
