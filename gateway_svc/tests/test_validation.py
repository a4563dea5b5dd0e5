"""Input is bounded at the gateway: bad input is a 400 (or 404, 413) problem and never reaches a service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream
from shopkit.testing.problems import assert_problem

PRODUCT = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/auth/register", {"email": "not-an-email", "password": "long-enough-1"}, "email"),
        ("POST", "/api/auth/register", {"email": "a@example.com", "password": "short"}, "password"),
        ("POST", "/api/auth/register", {"email": "a@example.com", "password": "x" * 129}, "password"),
        (
            "POST",
            "/api/auth/register",
            {"email": "a@example.com", "password": "long-enough-1", "first_name": "n" * 151},
            "first_name",
        ),
        ("POST", "/api/auth/register", {"password": "long-enough-1"}, "email"),
        ("POST", "/api/auth/login", {"email": "a@example.com", "password": ""}, "password"),
        ("PATCH", "/api/users/me", {"first_name": None}, "first_name"),
        ("POST", "/api/cart/items", {"product_id": PRODUCT, "quantity": 0}, "quantity"),
        ("POST", "/api/cart/items", {"product_id": PRODUCT, "quantity": 100}, "quantity"),
        ("POST", "/api/cart/items", {"product_id": PRODUCT, "quantity": "two"}, "quantity"),
        ("POST", "/api/cart/items", {"product_id": "nope", "quantity": 1}, "product_id"),
        ("PATCH", f"/api/cart/items/{PRODUCT}", {"quantity": -1}, "quantity"),
        ("POST", "/api/products", {"sku": "S", "name": "N", "price": "-1", "stock": 1, "category": "c"}, "price"),
        ("PATCH", f"/api/products/{PRODUCT}", {"price": "abc"}, "price"),
        ("PATCH", f"/api/products/{PRODUCT}", {"category": "no spaces"}, "category"),
        ("PATCH", f"/api/products/{PRODUCT}", {"stock_on_hand": -1}, "stock_on_hand"),
        # available stock and the allocation are never set by staff: a value read earlier would sell twice
        ("PATCH", f"/api/products/{PRODUCT}", {"price": "1.00", "stock": 3}, "stock"),
        ("PATCH", f"/api/products/{PRODUCT}", {"stock_allocated": 0}, "stock_allocated"),
        # what the schema forbids (additionalProperties: false, patterns) the gateway refuses, and the reverse
        ("POST", "/api/auth/register", {"email": "a@example.com", "password": "long-enough-1", "role": "x"}, "role"),
        ("POST", "/api/auth/refresh", {"refresh": "   "}, "refresh"),
        ("PATCH", "/api/users/me", {"first_name": "Ada", "is_staff": True}, "is_staff"),
        ("POST", "/api/cart/items", {"product_id": PRODUCT, "quantity": 1, "note": "x"}, "note"),
        ("POST", "/api/cart/items", {"product_id": PRODUCT, "quantity": 6.5}, "quantity"),
        ("POST", "/api/cart/items", {"product_id": PRODUCT, "quantity": True}, "quantity"),
        ("POST", "/api/cart/items", {"product_id": PRODUCT, "quantity": "6"}, "quantity"),
        ("POST", "/api/products", {"sku": "-S", "name": "N", "price": "1", "stock": 1, "category": "c"}, "sku"),
        ("POST", "/api/products", {"sku": "S", "name": "  ", "price": "1", "stock": 1, "category": "c"}, "name"),
        ("POST", "/api/products", {"sku": "S", "name": "N", "price": 1.5, "stock": 1, "category": "c"}, "price"),
        # the document's oneOf: stock_on_hand or stock, exactly one
        ("POST", "/api/products", {"sku": "S", "name": "N", "price": "1", "category": "c"}, "body"),
        (
            "POST",
            "/api/products",
            {"sku": "S", "name": "N", "price": "1", "stock": 1, "stock_on_hand": 1, "category": "c"},
            "body",
        ),
        ("PATCH", f"/api/products/{PRODUCT}", {"price": ""}, "price"),
        ("PATCH", f"/api/products/{PRODUCT}", {"price": "1.005"}, "price"),
        ("PATCH", f"/api/products/{PRODUCT}", {"price": "123456789"}, "price"),
        ("PATCH", f"/api/products/{PRODUCT}", {"category": "c" * 81}, "category"),
    ],
)
def test_invalid_body_is_400_with_field_errors_and_no_upstream_call(
    gateway: Gateway,
    upstream: StubUpstream,
    staff_auth: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    # when
    response = gateway.request(method, path, json=body, headers=staff_auth)

    # then
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == [field]
    assert upstream.received == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"page_size": "1000"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"search": "s" * 101}, "search"),
        ({"ordering": "password"}, "ordering"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"min_price": "abc"}, "min_price"),
        ({"max_price": "-5"}, "max_price"),
        ({"max_price": ""}, "max_price"),
        ({"min_price": "1.234"}, "min_price"),
        ({"in_stock": "1"}, "in_stock"),
        ({"in_stock": ""}, "in_stock"),
        ({"search": ""}, "search"),
        ({"search": "   "}, "search"),
        ({"search": "a\x00b"}, "search"),
        ({"category": ""}, "category"),
    ],
)
def test_invalid_product_filters_are_400_without_upstream_call(
    gateway: Gateway, upstream: StubUpstream, params: dict[str, str], field: str
) -> None:
    # when
    response = gateway.get("/api/products", params=params)

    # then
    assert list(assert_problem(response, 400)["errors"]) == [field]
    assert upstream.received == []


@pytest.mark.parametrize("key", [None, "", "k" * 65, "has space"])
def test_checkout_needs_a_sane_idempotency_key(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str], key: str | None
) -> None:
    # given
    headers = customer_auth if key is None else {**customer_auth, "Idempotency-Key": key}

    # when
    response = gateway.post("/api/orders", headers=headers)

    # then
    assert list(assert_problem(response, 400)["errors"]) == ["Idempotency-Key"]
    assert upstream.received == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/products/not-a-uuid"),
        ("PATCH", "/api/products/123"),
        ("PATCH", "/api/cart/items/nope"),
        ("DELETE", "/api/cart/items/nope"),
        ("GET", "/api/orders/nope"),
        ("POST", "/api/orders/nope/cancel"),
    ],
)
def test_malformed_uuid_in_path_is_404(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str], method: str, path: str
) -> None:
    # when
    response = gateway.request(method, path, headers=customer_auth, json={"quantity": 1})

    # then
    assert_problem(response, 404)
    assert upstream.received == []


@pytest.mark.parametrize(
    ("path", "body", "sent"),
    [
        ("/api/cart/items", {"product_id": PRODUCT, "quantity": 6.0}, {"product_id": PRODUCT, "quantity": 6}),
        (f"/api/cart/items/{PRODUCT}", {"quantity": 2.0}, {"quantity": 2}),
    ],
)
def test_an_integral_number_is_an_integer_as_json_schema_says(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str], path: str, body: Any, sent: Any
) -> None:
    # given: JSON Schema's `integer` admits 6.0, so the gateway takes it and forwards the integer
    method = "POST" if path == "/api/cart/items" else "PATCH"
    upstream.reply(method, path, body={"lines": [], "total": "0.00", "currency": "USD"})

    # when
    response = gateway.request(method, path, json=body, headers=customer_auth)

    # then
    assert response.status_code == 200
    [forwarded] = upstream.calls(method, path)
    assert forwarded.body == sent


@pytest.mark.parametrize("body", [b"[]", b'[{"first_name": "Ada"}]', b"null", b'"Ada"'])
def test_a_body_that_is_not_an_object_is_400(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str], body: bytes
) -> None:
    # when: the schema says `type: object` for every body
    response = gateway.request(
        "PATCH", "/api/users/me", content=body, headers={**customer_auth, "content-type": "application/json"}
    )

    # then
    assert assert_problem(response, 400)["detail"] == "The body must be a JSON object."
    assert upstream.received == []


def test_malformed_json_is_400(gateway: Gateway, upstream: StubUpstream) -> None:
    # when
    response = gateway.post(
        "/api/auth/register",
        content=b'{"email": "x@example.com", "password":',
        headers={"content-type": "application/json"},
    )

    # then
    assert assert_problem(response, 400)["type"] == "https://shop.example/problems/malformed-json"
    assert upstream.received == []


def test_body_over_the_cap_is_413(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = {"email": "a@example.com", "password": "p" * 2000}

    # when
    response = gateway.post("/api/auth/login", json=body)

    # then
    assert_problem(response, 413)
    assert upstream.received == []


def test_streamed_body_over_the_cap_is_413(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given: a chunked body (no Content-Length) far larger than the cap
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 512

    # when
    response = gateway.post("/api/auth/login", content=chunks(), headers={"content-type": "application/json"})

    # then
    assert_problem(response, 413)
    assert upstream.received == []


def test_unknown_path_and_wrong_method_are_problems(gateway: Gateway) -> None:
    # when
    unknown = gateway.get("/api/nothing-here")
    wrong_method = gateway.request("PUT", "/api/categories")

    # then
    assert_problem(unknown, 404)
    assert_problem(wrong_method, 405)
    assert wrong_method.headers["allow"] == "GET"
