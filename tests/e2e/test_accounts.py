"""A customer's account journey through the gateway: register, log in, profile, refresh, log out."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from shopkit.testing.problems import TRACE_ID, assert_problem
from tests.e2e.conftest import Customer


def test_register_login_profile_refresh_and_logout(api: httpx.Client) -> None:
    # given
    email, password = "journey-owner@example.com", "a-long-and-unusual-passphrase"

    # when
    registered = api.post("/api/auth/register", json={"email": email, "password": password, "first_name": "Grace"})
    tokens = api.post("/api/auth/login", json={"email": email, "password": password})

    # then
    assert registered.status_code == 201
    assert registered.json()["email"] == email
    assert TRACE_ID.match(registered.headers["x-trace-id"])
    assert tokens.status_code == 200
    pair = tokens.json()
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] > 0
    auth = {"Authorization": f"Bearer {pair['access']}"}

    me = api.get("/api/users/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["first_name"] == "Grace"

    patched = api.patch("/api/users/me", headers=auth, json={"last_name": "Hopper"})
    assert patched.status_code == 200
    assert api.get("/api/users/me", headers=auth).json()["last_name"] == "Hopper"

    rotated = api.post("/api/auth/refresh", json={"refresh": pair["refresh"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != pair["refresh"]
    # the old refresh token is spent
    assert_problem(api.post("/api/auth/refresh", json={"refresh": pair["refresh"]}), 401)

    new_refresh = api.post("/api/auth/login", json={"email": email, "password": password}).json()["refresh"]
    assert api.post("/api/auth/logout", json={"refresh": new_refresh}).status_code == 204
    assert_problem(api.post("/api/auth/refresh", json={"refresh": new_refresh}), 401)


def test_wrong_password_is_401_problem(api: httpx.Client, new_customer: Callable[[], Customer]) -> None:
    # given
    customer = new_customer()

    # when
    response = api.post("/api/auth/login", json={"email": customer.email, "password": "not-the-password"})

    # then
    assert_problem(response, 401)


def test_duplicate_email_is_409_and_first_account_still_works(
    api: httpx.Client, new_customer: Callable[[], Customer]
) -> None:
    # given
    customer = new_customer()

    # when
    response = api.post("/api/auth/register", json={"email": customer.email, "password": "another-password-77"})

    # then
    assert_problem(response, 409)
    assert api.post("/api/auth/login", json={"email": customer.email, "password": customer.password}).status_code == 200


def test_malformed_json_is_400_problem(api: httpx.Client) -> None:
    response = api.post(
        "/api/auth/register",
        content=b'{"email": "x@example.com", "password":',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400)


def test_invalid_registration_fields_are_400_with_field_errors(api: httpx.Client) -> None:
    # when
    response = api.post("/api/auth/register", json={"email": "not-an-email", "password": "short"})

    # then
    body = assert_problem(response, 400)
    assert isinstance(body.get("errors"), dict | list)


def test_profile_needs_a_valid_token(api: httpx.Client, new_customer: Callable[[], Customer]) -> None:
    # given
    customer = new_customer()
    header, payload, signature = customer.access.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"

    # then
    assert_problem(api.get("/api/users/me"), 401)
    assert_problem(api.get("/api/users/me", headers={"Authorization": f"Bearer {forged}"}), 401)
    assert_problem(api.get("/api/users/me", headers={"Authorization": "Bearer not.a.jwt"}), 401)
    assert_problem(api.get("/api/users/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401)


def test_refresh_reuse_revokes_the_token_family(api: httpx.Client, new_customer: Callable[[], Customer]) -> None:
    # given: a refresh token that has been rotated once
    customer = new_customer()
    first = api.post("/api/auth/refresh", json={"refresh": customer.refresh})
    assert first.status_code == 200

    # when: the spent token is replayed (a thief's copy)
    assert_problem(api.post("/api/auth/refresh", json={"refresh": customer.refresh}), 401)

    # then: the legitimate successor is revoked too
    assert_problem(api.post("/api/auth/refresh", json={"refresh": first.json()["refresh"]}), 401)
