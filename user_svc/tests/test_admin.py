"""The users service's admin: users with search and filters, the e-mail add form, token revocation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from user_svc.accounts.models import RefreshToken, User
from user_svc.accounts.services import TokenPair
from user_svc.tests.factories import UserFactory

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
