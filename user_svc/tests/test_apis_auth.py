"""POST /api/auth/register, /login, /refresh, /logout: answers, stored rows, events and bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
from rest_framework.test import APIClient

from shopkit.auth import verify_access_token
from shopkit.events.models import OutboxEvent
from shopkit.testing.problems import assert_problem
from user_svc.accounts.models import RefreshToken, User
from user_svc.accounts.services import TokenPair
from user_svc.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

Login = Callable[..., TokenPair]


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def test_register_answers_201_with_the_user_and_writes_the_event(client: APIClient) -> None:
    # when
    response = client.post(
        "/api/auth/register",
        {"email": "Grace@Example.com", "password": "cobol-is-forever", "first_name": "Grace"},
        format="json",
    )

    # then
    assert response.status_code == 201
    user = User.objects.get()
    assert response.json() == {
        "id": str(user.id),
        "email": "grace@example.com",
        "first_name": "Grace",
        "last_name": "",
        "is_staff": False,
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }
    assert OutboxEvent.objects.get().event_type == "shop.user.registered.v1"


def test_register_with_taken_email_is_409_and_keeps_one_user(client: APIClient) -> None:
    # given
    UserFactory.create(email="taken@example.com")

    # when
    response = client.post(
        "/api/auth/register", {"email": "Taken@example.com", "password": "cobol-is-forever"}, format="json"
    )

    # then
    body = assert_problem(response, 409, "email-taken")
    assert body["errors"] == {"email": ["An account with this e-mail address already exists."]}
    assert User.objects.count() == 1
    assert OutboxEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        pytest.param(
            {"email": "not-an-email", "password": "cobol-is-forever"}, "email", "validation-error", id="email"
        ),
        pytest.param({"email": "a@example.com", "password": "short"}, "password", "invalid-password", id="weak"),
        pytest.param({"email": "a@example.com"}, "password", "validation-error", id="no-password"),
        pytest.param({"password": "cobol-is-forever"}, "email", "validation-error", id="no-email"),
        pytest.param(
            {"email": "a@example.com", "password": "cobol-is-forever", "first_name": "x" * 151},
            "first_name",
            "validation-error",
            id="long-name",
        ),
        pytest.param(
            {"email": f"{'a' * 250}@example.com", "password": "cobol-is-forever"},
            "email",
            "validation-error",
            id="long",
        ),
        pytest.param({"email": "a@example.com", "password": "p" * 129}, "password", "validation-error", id="long-pw"),
        pytest.param(
            {"email": ["a@example.com"], "password": "cobol-is-forever"}, "email", "validation-error", id="list"
        ),
    ],
)
def test_register_with_invalid_fields_is_400_with_field_errors_and_stores_nothing(
    client: APIClient, payload: dict[str, Any], field: str, code: str
) -> None:
    # when
    response = client.post("/api/auth/register", payload, format="json")

    # then
    body = assert_problem(response, 400, code)
    assert list(body["errors"]) == [field]
    assert User.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout"])
def test_malformed_json_is_400_problem(client: APIClient, path: str) -> None:
    # when
    response = client.post(path, data=b'{"email": "x@example.com", "password":', content_type="application/json")

    # then
    assert_problem(response, 400)
    assert User.objects.count() == 0


def test_register_ignores_a_stray_bad_authorization_header(client: APIClient) -> None:
    # given
    client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")

    # when
    response = client.post(
        "/api/auth/register", {"email": "stray@example.com", "password": "cobol-is-forever"}, format="json"
    )

    # then
    assert response.status_code == 201


def test_login_answers_a_token_pair(client: APIClient, user: User) -> None:
    # when
    response = client.post("/api/auth/login", {"email": "ada@example.com", "password": DEFAULT_PASSWORD}, format="json")

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    assert verify_access_token(body["access"]).user_id == user.id
    assert RefreshToken.objects.get().user_id == user.id


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("ada@example.com", "wrong-password", id="wrong-password"),
        pytest.param("nobody@example.com", DEFAULT_PASSWORD, id="unknown-email"),
        pytest.param("not an e-mail", DEFAULT_PASSWORD, id="malformed-email"),
    ],
)
def test_login_with_wrong_credentials_is_401_with_one_message(
    client: APIClient, user: User, email: str, password: str
) -> None:
    # when
    response = client.post("/api/auth/login", {"email": email, "password": password}, format="json")

    # then
    body = assert_problem(response, 401, "invalid-credentials")
    assert body["detail"] == "The e-mail address or the password is wrong."
    assert RefreshToken.objects.count() == 0


def test_login_of_inactive_user_is_401(client: APIClient) -> None:
    # given
    user = UserFactory.create(is_active=False)

    # when
    response = client.post("/api/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json")

    # then
    assert_problem(response, 401, "invalid-credentials")


def test_login_without_password_is_400(client: APIClient, user: User) -> None:
    body = assert_problem(client.post("/api/auth/login", {"email": user.email}, format="json"), 400, "validation-error")
    assert list(body["errors"]) == ["password"]


def test_login_runs_a_bounded_number_of_queries(
    client: APIClient, user: User, django_assert_max_num_queries: Any
) -> None:
    # when: savepoint, user lookup, last_login, refresh token insert, release
    with django_assert_max_num_queries(5):
        response = client.post("/api/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json")

    # then
    assert response.status_code == 200


def test_refresh_answers_a_new_pair_and_spends_the_old_token(client: APIClient, user: User, login: Login) -> None:
    # given
    pair = login(user)

    # when
    response = client.post("/api/auth/refresh", {"refresh": pair.refresh}, format="json")
    replay = client.post("/api/auth/refresh", {"refresh": pair.refresh}, format="json")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["refresh"] != pair.refresh
    assert verify_access_token(body["access"]).user_id == user.id
    assert_problem(replay, 401, "invalid-refresh-token")
    # the replay revoked the family, so the successor is dead too
    assert_problem(client.post("/api/auth/refresh", {"refresh": body["refresh"]}, format="json"), 401)
    assert RefreshToken.objects.filter(revoked_at__isnull=True).count() == 0


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({}, id="missing"),
        pytest.param({"refresh": "x" * 5000}, id="too-long"),
        pytest.param({"refresh": ["a.b.c"]}, id="list"),
    ],
)
def test_refresh_with_invalid_body_is_400(client: APIClient, payload: dict[str, Any]) -> None:
    assert_problem(client.post("/api/auth/refresh", payload, format="json"), 400, "validation-error")


def test_refresh_with_access_token_is_401(client: APIClient, user: User, login: Login) -> None:
    # given
    pair = login(user)

    # then
    assert_problem(client.post("/api/auth/refresh", {"refresh": pair.access}, format="json"), 401)
    assert RefreshToken.objects.get().used_at is None


def test_logout_answers_204_and_the_refresh_token_stops_working(client: APIClient, user: User, login: Login) -> None:
    # given
    pair = login(user)

    # when
    response = client.post("/api/auth/logout", {"refresh": pair.refresh}, format="json")

    # then
    assert response.status_code == 204
    assert response.content == b""
    assert RefreshToken.objects.get().revoked_at is not None
    assert_problem(client.post("/api/auth/refresh", {"refresh": pair.refresh}, format="json"), 401)


def test_logout_with_forged_token_is_401_and_revokes_nothing(client: APIClient, user: User, login: Login) -> None:
    # given
    pair = login(user)
    payload = jwt.decode(pair.refresh, options={"verify_signature": False})
    forged = jwt.encode(payload, "a-guessed-secret-of-at-least-32-bytes", algorithm="HS256")

    # when
    response = client.post("/api/auth/logout", {"refresh": forged}, format="json")

    # then
    assert_problem(response, 401, "invalid-refresh-token")
    assert RefreshToken.objects.get().revoked_at is None
