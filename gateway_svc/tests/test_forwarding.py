"""Forwarding: what the gateway sends downstream and how it relays the answer."""

from __future__ import annotations

import uuid

from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream, problem, product_body
from shopkit.testing.problems import TRACE_ID, assert_problem

USER = {
    "id": str(uuid.uuid4()),
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "",
    "is_staff": False,
    "date_joined": "2026-01-01T00:00:00Z",
}
CART = {"lines": [], "total": "0.00", "currency": "USD"}


def test_register_forwards_the_fields_the_caller_set_and_relays_the_201(
    gateway: Gateway, upstream: StubUpstream
) -> None:
    # given
    upstream.reply("POST", "/api/auth/register", status=201, body=USER)

    # when
    response = gateway.post(
        "/api/auth/register",
        json={"email": "ada@example.com", "password": "a-long-passphrase", "first_name": "Ada"},
    )

    # then
    assert response.status_code == 201
    assert response.json() == USER
    assert TRACE_ID.match(response.headers["x-trace-id"])
    [sent] = upstream.calls("POST", "/api/auth/register")
    assert sent.body == {"email": "ada@example.com", "password": "a-long-passphrase", "first_name": "Ada"}


def test_product_filters_are_forwarded_normalised(gateway: Gateway, upstream: StubUpstream) -> None:
    # given
    upstream.reply("GET", "/api/products", body={"items": [product_body()], "count": 1, "page": 2, "page_size": 5})

    # when
    response = gateway.get(
        "/api/products",
        params={
            "category": "lighting",
            "min_price": "10",
            "in_stock": "true",
            "ordering": "-price",
            "page": 2,
            "page_size": 5,
            "search": "lamp",
        },
    )

    # then
    assert response.status_code == 200
    assert response.json()["count"] == 1
    [sent] = upstream.calls("GET", "/api/products")
    assert sent.query == {
        "category": "lighting",
        "min_price": "10",
        "in_stock": "true",
        "ordering": "-price",
        "page": "2",
        "page_size": "5",
        "search": "lamp",
    }


def test_checkout_forwards_token_idempotency_key_request_id_and_trace_context(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str]
) -> None:
    # given
    order = {"id": str(uuid.uuid4()), "status": "confirmed", "lines": [], "total": "0.00", "currency": "USD"}
    upstream.reply("POST", "/api/orders", status=201, body=order)
    headers = {**customer_auth, "Idempotency-Key": "checkout-1", "X-Request-ID": "req-42"}

    # when
    response = gateway.post("/api/orders", headers=headers)

    # then
    assert response.status_code == 201
    assert response.json() == order
    [sent] = upstream.calls("POST", "/api/orders")
    assert sent.headers["authorization"] == customer_auth["Authorization"]
    assert sent.headers["idempotency-key"] == "checkout-1"
    assert sent.headers["x-request-id"] == "req-42"
    # one trace: the downstream call is a child of the gateway's request span
    assert sent.headers["traceparent"].split("-")[1] == response.headers["x-trace-id"]


def test_logout_relays_204_without_a_body(gateway: Gateway, upstream: StubUpstream) -> None:
    # given
    upstream.reply("POST", "/api/auth/logout", status=204)

    # when
    response = gateway.post("/api/auth/logout", json={"refresh": "a-refresh-token"})

    # then
    assert response.status_code == 204
    assert response.content == b""
    assert upstream.calls("POST", "/api/auth/logout")[0].body == {"refresh": "a-refresh-token"}


def test_downstream_problem_passes_through_with_the_gateway_trace_id(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str]
) -> None:
    # given
    product_id = str(uuid.uuid4())
    upstream.reply(
        "POST",
        "/api/cart/items",
        status=409,
        body=problem(409, "Only 2 left.", product_id=product_id, available=2),
        content_type="application/problem+json",
    )

    # when
    response = gateway.post("/api/cart/items", json={"product_id": product_id, "quantity": 3}, headers=customer_auth)

    # then
    body = assert_problem(response, 409)
    assert body["detail"] == "Only 2 left."
    assert body["type"] == "https://shop.example/problems/409"
    assert (body["product_id"], body["available"]) == (product_id, 2)
    assert body["trace_id"] != "0" * 32


def test_each_route_reaches_its_service_path(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str], staff_auth: dict[str, str]
) -> None:
    # given
    item = str(uuid.uuid4())
    order = str(uuid.uuid4())
    routes = [
        ("GET", "/api/users/me", None, customer_auth),
        ("PATCH", "/api/users/me", {"last_name": "Lovelace"}, customer_auth),
        (
            "POST",
            "/api/users/me/password",
            {"current_password": "old", "new_password": "new-passphrase"},
            customer_auth,
        ),
        ("POST", "/api/auth/login", {"email": "ada@example.com", "password": "pw"}, {}),
        ("POST", "/api/auth/refresh", {"refresh": "r"}, {}),
        ("GET", "/api/categories", None, {}),
        ("GET", f"/api/products/{item}", None, {}),
        ("POST", "/api/products", {"sku": "S", "name": "N", "price": "1.50", "stock": 1, "category": "c"}, staff_auth),
        ("PATCH", f"/api/products/{item}", {"stock_on_hand": 3}, staff_auth),
        ("GET", "/api/cart", None, customer_auth),
        ("PATCH", f"/api/cart/items/{item}", {"quantity": 2}, customer_auth),
        ("DELETE", f"/api/cart/items/{item}", None, customer_auth),
        ("GET", "/api/orders", None, customer_auth),
        ("GET", f"/api/orders/{order}", None, customer_auth),
        ("POST", f"/api/orders/{order}/cancel", None, customer_auth),
    ]
    for method, path, _, _ in routes:
        upstream.reply(method, path, body={"ok": path})

    # when
    answers = [gateway.request(method, path, json=body, headers=headers) for method, path, body, headers in routes]

    # then
    assert [(a.status_code, a.json()) for a in answers] == [(200, {"ok": path}) for _, path, _, _ in routes]
    assert [(r.method, r.path) for r in upstream.received] == [(method, path) for method, path, _, _ in routes]
    assert upstream.calls("GET", "/api/orders")[0].query == {"page": "1", "page_size": "20"}
    assert upstream.calls("PATCH", f"/api/products/{item}")[0].body == {"stock_on_hand": 3}


def test_staff_routes_are_403_for_customers_without_calling_upstream(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str]
) -> None:
    # when
    response = gateway.post(
        "/api/products",
        json={"sku": "S", "name": "N", "price": "1.50", "stock": 1, "category": "c"},
        headers=customer_auth,
    )

    # then
    assert_problem(response, 403)
    assert upstream.received == []
