"""The shared admin: staff sign in with the users identity, sessions end when users stops vouching, branding."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.test import Client

from shopkit.staff_session import SESSION_CHECKED_AT_KEY, SESSION_REFRESH_KEY, USERS_BACKEND
from shopkit.testing.plugin import STAFF_EMAIL
from shopkit.testing.users_standin import UsersStandIn

pytestmark = pytest.mark.django_db


@pytest.fixture
def checks_every_request(settings: Any) -> None:
    settings.STAFF_SESSION_CHECK_SECONDS = 0


def _dead_address() -> str:
    """An address nothing listens on: a port the OS just handed out and took back."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _introspections(users: UsersStandIn) -> int:
    return users.paths().count("/api/auth/introspect")


def test_staff_signs_in_with_the_users_identity_and_the_session_keeps_its_refresh_token(
    users_service: UsersStandIn, settings: Any
) -> None:
    # given
    settings.ADMIN_LOGIN_RATE = ""
    users_service.add_account("Boss@Example.com", "a-boss-passphrase")
    client = Client()

    # when
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "boss@example.com", "password": "a-boss-passphrase"}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    session = client.session
    assert session[BACKEND_SESSION_KEY] == USERS_BACKEND
    login_body = next(body for path, body in users_service.requests if path == "/api/auth/login")
    assert session[SESSION_REFRESH_KEY] != ""
    assert login_body == {"email": "boss@example.com", "password": "a-boss-passphrase"}
    shadow = get_user_model().objects.get(username="boss@example.com")
    assert (shadow.is_staff, shadow.is_superuser, shadow.has_usable_password()) == (True, True, False)


def test_a_customer_is_refused_and_the_token_family_of_the_attempt_is_revoked_at_once(
    users_service: UsersStandIn, settings: Any
) -> None:
    # given
    settings.ADMIN_LOGIN_RATE = ""
    users_service.add_account("customer@example.com", "a-customer-passphrase", is_staff=False)

    # when
    response = Client().post("/admin/login/", {"username": "customer@example.com", "password": "a-customer-passphrase"})

    # then
    assert response.status_code == 200
    assert "staff account" in response.text
    assert users_service.paths() == ["/api/auth/login", "/api/auth/logout"]


def test_session_ends_at_the_next_check_once_users_revokes_the_staff_members_tokens(
    staff_admin_client: Client, users_service: UsersStandIn, checks_every_request: None
) -> None:
    # given: signed in; then users revokes (password changed, deactivated, demoted or deleted there)
    assert staff_admin_client.get("/admin/").status_code == 200
    users_service.revoke_all(STAFF_EMAIL)

    # when
    response = staff_admin_client.get("/admin/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    login_page = staff_admin_client.get(response["Location"])
    assert "Your staff session has ended" in login_page.text
    assert staff_admin_client.get("/admin/").status_code == 302


def test_session_of_someone_users_no_longer_calls_staff_ends(
    staff_admin_client: Client, users_service: UsersStandIn, checks_every_request: None
) -> None:
    # given
    users_service.accounts[STAFF_EMAIL].is_staff = False

    # when
    response = staff_admin_client.get("/admin/")

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_session_is_checked_at_most_once_per_interval(
    staff_admin_client: Client, users_service: UsersStandIn, settings: Any
) -> None:
    # given: the login itself was the last check
    settings.STAFF_SESSION_CHECK_SECONDS = 30
    users_service.revoke_all(STAFF_EMAIL)

    # when
    within = [staff_admin_client.get("/admin/").status_code for _ in range(3)]
    session = staff_admin_client.session
    session[SESSION_CHECKED_AT_KEY] = time.time() - 31
    session.save()
    after = staff_admin_client.get("/admin/")

    # then
    assert within == [200, 200, 200]
    assert after.status_code == 302
    assert _introspections(users_service) == 1


def test_a_good_check_is_remembered_for_the_interval(
    staff_admin_client: Client, users_service: UsersStandIn, settings: Any
) -> None:
    # given
    settings.STAFF_SESSION_CHECK_SECONDS = 30
    session = staff_admin_client.session
    session[SESSION_CHECKED_AT_KEY] = time.time() - 31
    session.save()

    # when
    statuses = [staff_admin_client.get("/admin/").status_code for _ in range(3)]

    # then
    assert statuses == [200, 200, 200]
    assert _introspections(users_service) == 1


@pytest.mark.parametrize("outage", ["refused", "error"])
def test_while_users_cannot_answer_the_session_lasts_only_until_its_last_good_check_is_a_minute_old(
    staff_admin_client: Client, users_service: UsersStandIn, settings: Any, checks_every_request: None, outage: str
) -> None:
    # given: users is down (nothing listens) or answers 503
    settings.STAFF_SESSION_MAX_UNCHECKED_SECONDS = 60
    if outage == "refused":
        settings.USERS_URL = _dead_address()
    else:
        users_service.forced_status = 503

    # when
    young = staff_admin_client.get("/admin/")
    session = staff_admin_client.session
    session[SESSION_CHECKED_AT_KEY] = time.time() - 61
    session.save()
    old = staff_admin_client.get("/admin/")

    # then
    assert young.status_code == 200
    assert old.status_code == 302
    assert "the users service could not confirm it" in staff_admin_client.get(old["Location"]).text


def test_a_users_service_session_without_a_refresh_token_is_ended(
    users_service: UsersStandIn, checks_every_request: None
) -> None:
    # given: a session from before tokens were kept (force_login stores none either)
    staff = get_user_model().objects.create(username="old@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff, backend=USERS_BACKEND)

    # when
    response = client.get("/admin/")

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert users_service.paths() == []


def test_logging_out_of_the_admin_revokes_the_sessions_token_family_at_users(
    staff_admin_client: Client, users_service: UsersStandIn
) -> None:
    # given
    token = staff_admin_client.session[SESSION_REFRESH_KEY]

    # when
    response = staff_admin_client.post("/admin/logout/")

    # then
    assert response.status_code == 200
    assert ("/api/auth/logout", {"refresh": token}) in users_service.requests
    assert staff_admin_client.get("/admin/").status_code == 302


def test_requests_without_a_session_cookie_never_ask_users(
    users_service: UsersStandIn, checks_every_request: None
) -> None:
    # when
    response = Client().get("/health/live")

    # then
    assert response.status_code == 200
    assert "Vary" not in response or "Cookie" not in response["Vary"]
    assert users_service.paths() == []


def test_admin_pages_name_the_shop_and_service_and_link_the_other_consoles(client: Client, settings: Any) -> None:
    # given
    settings.SERVICE_NAME = "orders"
    settings.SHOP_NAME = "Shop"
    settings.SHOP_ADMIN_CONSOLES = {
        "users": "https://users.example.com/admin/",
        "products": "https://products.example.com/admin/",
        "orders": "https://orders.example.com/admin/",
        "carts": "https://carts.example.com/admin/",
    }

    # when
    page = client.get("/admin/login/").text

    # then
    assert "<title>Log in | Shop · orders</title>" in page
    assert '<div id="site-name"><a href="/admin/">Shop · orders</a></div>' in page
    for name in ("users", "products", "carts"):
        assert f'href="https://{name}.example.com/admin/" data-console="{name}"' in page
    assert 'href="https://orders.example.com/admin/"' not in page
    assert '<span class="shop-console" aria-current="page">orders</span>' in page
