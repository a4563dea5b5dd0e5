"""Malformed bodies are 400 problems at the gateway, by the services' own rules, and never reach a service."""

from __future__ import annotations

import uuid

import pytest

from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream
from shopkit.testing.malformed import assert_malformed_body_problem, malformed_body_params

PRODUCT = str(uuid.uuid4())
ROUTES = [
    pytest.param("POST", "/api/auth/register", id="register"),
    pytest.param("POST", "/api/auth/login", id="login"),
    pytest.param("POST", "/api/auth/refresh", id="refresh"),
    pytest.param("POST", "/api/auth/logout", id="logout"),
    pytest.param("PATCH", "/api/users/me", id="profile"),
    pytest.param("POST", "/api/users/me/password", id="password"),
    pytest.param("POST", "/api/cart/items", id="add-to-cart"),
    pytest.param("PATCH", f"/api/cart/items/{PRODUCT}", id="cart-quantity"),
    pytest.param("POST", "/api/products", id="product-create"),
    pytest.param("PATCH", f"/api/products/{PRODUCT}", id="product-update"),
]


@pytest.mark.parametrize("body", malformed_body_params())
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_malformed_body_is_a_400_problem_and_no_service_is_called(
    gateway: Gateway, upstream: StubUpstream, staff_auth: dict[str, str], method: str, path: str, body: bytes
) -> None:
    # when
    response = gateway.request(method, path, content=body, headers={**staff_auth, "Content-Type": "application/json"})

    # then
    assert_malformed_body_problem(response.status_code, response.headers["Content-Type"], response.json())
    assert upstream.received == []


def test_a_json_array_as_the_profile_is_refused_not_applied_as_an_empty_change(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str]
) -> None:
    # when: Ninja used to read a non-object as an object without fields and forward `{}`
    response = gateway.request(
        "PATCH",
        "/api/users/me",
        content=b'[{"first_name": "Eve"}]',
        headers={**customer_auth, "Content-Type": "application/json"},
    )

    # then
    assert response.status_code == 400
    assert response.json()["detail"] == "The body must be a JSON object."
    assert upstream.received == []
