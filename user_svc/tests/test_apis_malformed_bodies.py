"""Malformed bodies sent straight to the users service (not through the gateway) are 400 problems."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from shopkit.testing.malformed import assert_malformed_body_problem, malformed_body_params
from user_svc.accounts.models import RefreshToken, User
from user_svc.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    pytest.param("patch", "/api/users/me", id="profile"),
    pytest.param("post", "/api/users/me/password", id="password"),
    pytest.param("post", "/api/auth/register", id="register"),
    pytest.param("post", "/api/auth/login", id="login"),
    pytest.param("post", "/api/auth/refresh", id="refresh"),
    pytest.param("post", "/api/auth/logout", id="logout"),
    pytest.param("post", "/api/auth/introspect", id="introspect"),
]


@pytest.mark.parametrize("body", malformed_body_params())
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_malformed_body_is_a_400_problem_and_changes_nothing(
    user_client: APIClient, user: User, method: str, path: str, body: bytes
) -> None:
    # given
    tokens_before = RefreshToken.objects.count()

    # when
    response = getattr(user_client, method)(path, body, content_type="application/json")

    # then
    assert_malformed_body_problem(response.status_code, response["Content-Type"], response.json())
    user.refresh_from_db()
    assert (user.first_name, user.last_name, User.objects.count()) == ("Ada", "Lovelace", 1)
    assert user.check_password(DEFAULT_PASSWORD)
    assert RefreshToken.objects.count() == tokens_before
