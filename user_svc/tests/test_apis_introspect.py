"""POST /api/auth/introspect: the other admins' staff-session check; answers without ever spending the token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from shopkit.testing.problems import assert_problem
from shopkit.testing.tokens import access_token
from user_svc.accounts import services
from user_svc.accounts.models import RefreshToken, User
from user_svc.accounts.services import TokenPair
from user_svc.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Login = Callable[..., TokenPair]


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def _introspect(client: APIClient, token: str) -> dict[str, object]:
    response = client.post("/api/auth/introspect", {"token": token}, format="json")
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body: dict[str, object] = response.json()
    return body


def test_an_active_staff_token_is_described(client: APIClient, login: Login) -> None:
    # given
    staff = UserFactory.create(email="boss@example.com", is_staff=True, is_superuser=True)
    pair = login(staff)
    stored = RefreshToken.objects.get()

    # when
    body = _introspect(client, pair.refresh)

    # then
    assert body == {
        "active": True,
        "token_type": "refresh",
        "sub": str(staff.id),
        "email": "boss@example.com",
        "is_staff": True,
        "is_superuser": True,
        "exp": int(stored.expires_at.timestamp()),
    }


@pytest.mark.django_db(transaction=True)
def test_introspection_never_spends_the_token_even_when_checks_race(
    client: APIClient, user: User, login: Login
) -> None:
    # given
    pair = login(user)

    def check(_: int) -> Any:
        try:
            return APIClient().post("/api/auth/introspect", {"token": pair.refresh}, format="json")
        finally:
            connection.close()

    # when: several admin requests check the same session at once, each on its own connection
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(check, range(4)))

    # then: all active, and the token still rotates (no reuse detected, nothing revoked)
    assert [a.json()["active"] for a in answers] == [True, True, True, True]
    assert RefreshToken.objects.get().used_at is None
    assert client.post("/api/auth/refresh", {"refresh": pair.refresh}, format="json").status_code == 200


def test_a_customers_token_is_active_but_not_staff(client: APIClient, user: User, login: Login) -> None:
    # when
    body = _introspect(client, login(user).refresh)

    # then
    assert (body["active"], body["is_staff"], body["is_superuser"]) == (True, False, False)


@pytest.mark.parametrize("why", ["logged_out", "rotated", "expired", "account_inactive", "account_deleted"])
def test_a_token_that_no_longer_works_is_inactive_and_nothing_else(
    client: APIClient, user: User, login: Login, why: str
) -> None:
    # given
    pair = login(user)
    if why == "logged_out":
        services.auth_logout(refresh=pair.refresh)
    elif why == "rotated":
        services.auth_refresh(refresh=pair.refresh)
    elif why == "expired":
        now = timezone.now()
        RefreshToken.objects.update(created_at=now - dt.timedelta(days=15), expires_at=now - dt.timedelta(seconds=1))
    elif why == "account_inactive":
        User.objects.filter(pk=user.pk).update(is_active=False)
    else:
        User.objects.filter(pk=user.pk).delete()

    # when
    body = _introspect(client, pair.refresh)

    # then
    assert body == {"active": False}


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "ACCESS"])
def test_something_that_is_not_one_of_our_refresh_tokens_is_inactive(client: APIClient, token: str) -> None:
    # given: garbage, or an access token (right signature, wrong type)
    if token == "ACCESS":
        token = access_token(email="boss@example.com", is_staff=True)

    # when
    body = _introspect(client, token)

    # then
    assert body == {"active": False}


def test_introspection_without_a_token_is_a_400_problem(client: APIClient) -> None:
    # when
    response = client.post("/api/auth/introspect", {}, format="json")

    # then
    body = assert_problem(response, 400)
    assert "token" in body["errors"]
