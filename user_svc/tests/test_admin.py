"""The users service's admin: search and filters, the add form, changes through the services, sessions ending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from shopkit.events.models import OutboxEvent
from user_svc.accounts.models import RefreshToken, User
from user_svc.accounts.selectors import refresh_token_introspect
from user_svc.accounts.services import TokenPair
from user_svc.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_signs_in_to_the_admin_with_email_in_any_case(client: Client) -> None:
    # given
    UserFactory.create(email="boss@example.com", is_staff=True, is_superuser=True, password="a-staff-passphrase")

    # when
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "BOSS@example.com", "password": "a-staff-passphrase"}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_customer_cannot_sign_in_to_the_admin(client: Client) -> None:
    # given
    UserFactory.create(email="customer@example.com", password="a-customer-passphrase")

    # when
    response = client.post("/admin/login/", {"username": "customer@example.com", "password": "a-customer-passphrase"})

    # then
    assert response.status_code == 200
    assert b"Please enter the correct e-mail address and password for a staff account" in response.content


def test_user_list_shows_staff_and_customers_and_searches_names(admin_client: Client) -> None:
    # given
    UserFactory.create(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    UserFactory.create(email="grace@example.com", first_name="Grace", last_name="Hopper", is_staff=True)

    # when
    everyone = admin_client.get("/admin/accounts/user/")
    found = admin_client.get("/admin/accounts/user/", {"q": "lovelace"})
    staff = admin_client.get("/admin/accounts/user/", {"is_staff__exact": "1"})

    # then
    assert everyone.status_code == 200
    assert [u.email for u in everyone.context["cl"].result_list] == [
        "ada@example.com",
        "admin@example.com",
        "grace@example.com",
    ]
    assert [u.email for u in found.context["cl"].result_list] == ["ada@example.com"]
    assert sorted(u.email for u in staff.context["cl"].result_list) == ["admin@example.com", "grace@example.com"]


def test_admin_adds_a_user_with_normalised_email_and_password(admin_client: Client) -> None:
    # when
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Staff@Example.com",
            "first_name": "New",
            "last_name": "Staff",
            "usable_password": "true",
            "password1": "a-fresh-passphrase",
            "password2": "a-fresh-passphrase",
        },
    )

    # then
    assert response.status_code == 302
    user = User.objects.get(email="new.staff@example.com")
    assert (user.first_name, user.last_name, user.is_staff) == ("New", "Staff", False)
    assert user.check_password("a-fresh-passphrase")


def test_admin_add_form_refuses_an_email_taken_in_another_case(admin_client: Client) -> None:
    # given
    UserFactory.create(email="taken@example.com")

    # when
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "TAKEN@example.com",
            "usable_password": "true",
            "password1": "a-fresh-passphrase",
            "password2": "a-fresh-passphrase",
        },
    )

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == ["An account with this e-mail address already exists."]
    assert User.objects.filter(email="taken@example.com").count() == 1
    assert User.objects.count() == 2


def test_admin_changes_a_user(admin_client: Client) -> None:
    # given
    user = UserFactory.create(email="ada@example.com")

    # when
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"email": "Ada@Example.com", "first_name": "Augusta", "last_name": "King", "is_active": "on", "is_staff": "on"},
    )

    # then
    assert page.status_code == 200
    assert response.status_code == 302
    stored = User.objects.get(pk=user.pk)
    assert (stored.email, stored.first_name, stored.last_name, stored.is_staff) == (
        "ada@example.com",
        "Augusta",
        "King",
        True,
    )
    assert stored.check_password("correct-horse-battery")


def test_refresh_tokens_are_read_only_and_revoked_by_action(
    admin_client: Client, user: User, login: Callable[..., TokenPair]
) -> None:
    # given: two sessions of the user
    login(user)
    login(user)
    first = RefreshToken.objects.order_by("created_at").first()
    assert first is not None

    # when
    listing = admin_client.get("/admin/accounts/refreshtoken/")
    add = admin_client.get("/admin/accounts/refreshtoken/add/")
    response = admin_client.post(
        "/admin/accounts/refreshtoken/", {"action": "revoke_families", "_selected_action": [str(first.pk)]}
    )

    # then
    assert listing.status_code == 200
    assert add.status_code == 403
    assert response.status_code == 302
    assert list(RefreshToken.objects.filter(revoked_at__isnull=False).values_list("pk", flat=True)) == [first.pk]


# --- every change goes through the accounts services ------------------------------------------


def _signed_in_staff(settings: Any, email: str = "grace@example.com") -> tuple[User, Client]:
    """A second staff member with their own admin session, signed in the way staff sign in."""
    settings.ADMIN_LOGIN_RATE = ""
    staff = UserFactory.create(email=email, is_staff=True, is_superuser=True)
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    return staff, client


def _change_form(user: User, **changes: str) -> dict[str, str]:
    form = {"email": user.email, "first_name": user.first_name, "last_name": user.last_name}
    form.update({flag: "on" for flag in ("is_active", "is_staff", "is_superuser") if getattr(user, flag)})
    form.update(changes)
    return {key: value for key, value in form.items() if value != ""}


def test_a_user_added_in_the_admin_publishes_user_registered(admin_client: Client) -> None:
    # when
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New@Example.com",
            "usable_password": "true",
            "password1": "a-fresh-passphrase",
            "password2": "a-fresh-passphrase",
        },
    )

    # then
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert response["Location"] == f"/admin/accounts/user/{user.pk}/change/"
    event = OutboxEvent.objects.get()
    assert (event.event_type, event.key) == ("shop.user.registered.v1", str(user.id))


def test_a_user_added_without_password_sign_in_cannot_sign_in_yet(admin_client: Client) -> None:
    # when
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {"email": "later@example.com", "usable_password": "false"},
    )

    # then
    assert response.status_code == 302
    assert User.objects.get(email="later@example.com").has_usable_password() is False
    assert OutboxEvent.objects.count() == 1


@pytest.mark.parametrize("usable", ["true", "false"])
def test_a_password_set_in_the_admin_revokes_the_users_refresh_tokens(
    admin_client: Client, user: User, login: Callable[..., TokenPair], usable: str
) -> None:
    # given
    pair = login(user)
    form = {
        "usable_password": usable,
        "password1": "a-new-passphrase",
        "password2": "a-new-passphrase",
    }
    if usable == "false":
        form = {"usable_password": "false", "set-usable-password": "false", "unset-password": "1"}

    # when
    response = admin_client.post(f"/admin/accounts/user/{user.pk}/password/", form)

    # then
    assert response.status_code == 302
    stored = User.objects.get(pk=user.pk)
    assert stored.has_usable_password() is (usable == "true")
    assert refresh_token_introspect(token=pair.refresh).active is False


@pytest.mark.parametrize(
    "change",
    [{"is_staff": ""}, {"is_superuser": ""}, {"is_active": ""}, {"email": "grace.hopper@example.com"}],
    ids=["demoted", "no_longer_superuser", "deactivated", "email_changed"],
)
def test_demoting_deactivating_or_renaming_in_the_admin_revokes_refresh_tokens(
    admin_client: Client, login: Callable[..., TokenPair], change: dict[str, str]
) -> None:
    # given
    staff = UserFactory.create(email="grace@example.com", is_staff=True, is_superuser=True)
    pair = login(staff)

    # when
    response = admin_client.post(f"/admin/accounts/user/{staff.pk}/change/", _change_form(staff, **change))

    # then
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert refresh_token_introspect(token=pair.refresh).active is False


def test_changing_names_in_the_admin_keeps_refresh_tokens_and_sets_groups(
    admin_client: Client, user: User, login: Callable[..., TokenPair]
) -> None:
    # given
    pair = login(user)
    group = Group.objects.create(name="support")

    # when
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/", {**_change_form(user, first_name="Augusta"), "groups": [group.pk]}
    )

    # then
    assert response.status_code == 302
    stored = User.objects.get(pk=user.pk)
    assert (stored.first_name, list(stored.groups.all())) == ("Augusta", [group])
    assert refresh_token_introspect(token=pair.refresh).active is True


@pytest.mark.parametrize("how", ["delete_view", "delete_selected"])
def test_deleting_in_the_admin_removes_the_user_and_its_tokens(
    admin_client: Client, user: User, login: Callable[..., TokenPair], how: str
) -> None:
    # given
    pair = login(user)

    # when
    if how == "delete_view":
        response = admin_client.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"})
    else:
        response = admin_client.post(
            "/admin/accounts/user/", {"action": "delete_selected", "_selected_action": [str(user.pk)], "post": "yes"}
        )

    # then
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert RefreshToken.objects.count() == 0
    assert refresh_token_introspect(token=pair.refresh).active is False


def test_deactivate_action_deactivates_and_revokes(
    admin_client: Client, user: User, login: Callable[..., TokenPair]
) -> None:
    # given
    pair = login(user)

    # when
    response = admin_client.post(
        "/admin/accounts/user/", {"action": "deactivate_users", "_selected_action": [str(user.pk)]}
    )

    # then
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).is_active is False
    assert refresh_token_introspect(token=pair.refresh).active is False


def test_changing_ones_own_password_in_the_admin_revokes_tokens_and_keeps_this_session(
    settings: Any, login: Callable[..., TokenPair]
) -> None:
    # given: signed in to this admin, and to another service's admin (a token family here)
    staff, client = _signed_in_staff(settings)
    elsewhere = login(staff)

    # when
    response = client.post(
        "/admin/password_change/",
        {"old_password": DEFAULT_PASSWORD, "new_password1": "a-new-passphrase", "new_password2": "a-new-passphrase"},
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/password_change/done/"
    assert User.objects.get(pk=staff.pk).check_password("a-new-passphrase")
    assert refresh_token_introspect(token=elsewhere.refresh).active is False
    assert client.get("/admin/").status_code == 200


def test_the_admin_names_the_users_service_and_links_the_other_consoles(admin_client: Client) -> None:
    # when
    page = admin_client.get("/admin/").text

    # then
    assert "<title>Site administration | Shop · users</title>" in page
    assert '<span class="shop-console" aria-current="page">users</span>' in page
    assert 'href="http://127.0.0.1:5002/admin/" data-console="orders"' in page


# --- the users admin's own sessions end with Django's checks ----------------------------------


@pytest.mark.parametrize("what", ["removed", "demoted", "deactivated", "password_changed"])
def test_a_staff_members_users_admin_session_ends_when_an_operator_changes_them(
    admin_client: Client, settings: Any, what: str
) -> None:
    # given
    staff, their_client = _signed_in_staff(settings)

    # when: the operator acts in the admin
    if what == "removed":
        admin_client.post(f"/admin/accounts/user/{staff.pk}/delete/", {"post": "yes"})
    elif what == "demoted":
        admin_client.post(f"/admin/accounts/user/{staff.pk}/change/", _change_form(staff, is_staff=""))
    elif what == "deactivated":
        admin_client.post(f"/admin/accounts/user/{staff.pk}/change/", _change_form(staff, is_active=""))
    else:
        admin_client.post(
            f"/admin/accounts/user/{staff.pk}/password/",
            {"usable_password": "true", "password1": "a-new-passphrase", "password2": "a-new-passphrase"},
        )

    # then: their next request goes to the login page
    response = their_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
