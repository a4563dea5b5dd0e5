"""The cart API end to end inside the service: real PostgreSQL, and products served over a real gRPC
channel by `fake_products` (an in-memory implementation behind a real gRPC server in this process)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from cart_svc.carts.models import Cart, CartLine
from cart_svc.tests.factories import CartFactory, CartLineFactory
from shopkit.testing.problems import assert_problem
from shopkit.testing.shoppers import Shopper

pytestmark = pytest.mark.django_db

EMPTY_CART = {"lines": [], "total": "0.00", "currency": "USD", "stale": False}


def _stored(user_id: uuid.UUID) -> list[tuple[uuid.UUID, int]]:
    return list(
        CartLine.objects.filter(cart__user_id=user_id)
        .order_by("created_at", "id")
        .values_list("product_id", "quantity")
    )


def _add(shopper: Shopper, product_id: uuid.UUID, quantity: int) -> None:
    response = shopper.client.post(
        "/api/cart/items", {"product_id": str(product_id), "quantity": quantity}, format="json"
    )
    assert response.status_code == 200, response.content


# --- GET /api/cart ------------------------------------------------------------------------------


def test_get_cart_without_a_cart_is_empty_and_creates_nothing(shopper: Shopper) -> None:
    # when
    response = shopper.client.get("/api/cart")

    # then
    assert response.status_code == 200
    assert response.json() == EMPTY_CART
    assert not Cart.objects.exists()


def test_get_cart_shows_current_names_and_prices_with_line_totals(fake_products: Any, shopper: Shopper) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price="9.50", stock=10)
    tea = fake_products.add_product(name="Tea", price="3.25", stock=10)
    _add(shopper, mug.id, 2)
    _add(shopper, tea.id, 3)
    fake_products.update_product(mug.id, name="Stoneware mug", price=Decimal("10.00"))

    # when
    response = shopper.client.get("/api/cart")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "lines": [
            {
                "product_id": str(mug.id),
                "name": "Stoneware mug",
                "quantity": 2,
                "unit_price": "10.00",
                "line_total": "20.00",
            },
            {"product_id": str(tea.id), "name": "Tea", "quantity": 3, "unit_price": "3.25", "line_total": "9.75"},
        ],
        "total": "29.75",
        "currency": "USD",
        "stale": False,
    }


def test_get_cart_with_products_down_answers_with_the_remembered_names_and_prices(
    products_down: None, shopper: Shopper
) -> None:
    # given
    cart = CartFactory.create(user_id=shopper.user_id)
    line = CartLineFactory.create(cart=cart, name="Mug", unit_price=Decimal("9.50"), quantity=2)

    # when
    response = shopper.client.get("/api/cart")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "lines": [
            {
                "product_id": str(line.product_id),
                "name": "Mug",
                "quantity": 2,
                "unit_price": "9.50",
                "line_total": "19.00",
            }
        ],
        "total": "19.00",
        "currency": "USD",
        "stale": True,
    }


def test_get_cart_keeps_a_product_products_no_longer_knows_with_its_remembered_price(
    fake_products: Any, shopper: Shopper
) -> None:
    # given
    cart = CartFactory.create(user_id=shopper.user_id)
    gone = CartLineFactory.create(cart=cart, name="Discontinued", unit_price=Decimal("4.00"))

    # when
    response = shopper.client.get("/api/cart")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["lines"] == [
        {
            "product_id": str(gone.product_id),
            "name": "Discontinued",
            "quantity": 1,
            "unit_price": "4.00",
            "line_total": "4.00",
        }
    ]
    assert body["stale"] is False


def test_get_cart_reads_all_lines_in_one_query(
    fake_products: Any, shopper: Shopper, django_assert_num_queries: Any
) -> None:
    # given
    for n in range(5):
        _add(shopper, fake_products.add_product(name=f"P{n}").id, 1)

    # when
    with django_assert_num_queries(1):
        response = shopper.client.get("/api/cart")

    # then
    assert response.status_code == 200
    assert len(response.json()["lines"]) == 5


def test_get_cart_without_a_token_is_unauthorized(api_client: APIClient) -> None:
    # when
    response = api_client.get("/api/cart")

    # then
    assert_problem(response, 401)


# --- POST /api/cart/items -----------------------------------------------------------------------


def _additions() -> float:
    return REGISTRY.get_sample_value("shop_cart_additions_total") or 0.0


def test_post_item_adds_a_line_and_answers_with_the_cart(
    fake_products: Any, shopper: Shopper, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price="9.50", stock=10)
    additions_before = _additions()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = shopper.client.post("/api/cart/items", {"product_id": str(mug.id), "quantity": 2}, format="json")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "lines": [
            {"product_id": str(mug.id), "name": "Mug", "quantity": 2, "unit_price": "9.50", "line_total": "19.00"}
        ],
        "total": "19.00",
        "currency": "USD",
        "stale": False,
    }
    assert _stored(shopper.user_id) == [(mug.id, 2)]
    assert _additions() == additions_before + 1


def test_post_item_twice_increases_the_line(fake_products: Any, shopper: Shopper) -> None:
    # given
    mug = fake_products.add_product(stock=10)
    _add(shopper, mug.id, 2)

    # when
    response = shopper.client.post("/api/cart/items", {"product_id": str(mug.id), "quantity": 3}, format="json")

    # then
    assert response.status_code == 200
    assert [line["quantity"] for line in response.json()["lines"]] == [5]
    assert _stored(shopper.user_id) == [(mug.id, 5)]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"quantity": 0}, "quantity", "Ensure this value is greater than or equal to 1."),
        ({"quantity": -1}, "quantity", "Ensure this value is greater than or equal to 1."),
        ({"quantity": 100}, "quantity", "Ensure this value is less than or equal to 99."),
        ({"quantity": 1.5}, "quantity", "A valid integer is required."),
        ({"quantity": "2"}, "quantity", "A valid integer is required."),
        ({"quantity": True}, "quantity", "A valid integer is required."),
        ({"quantity": None}, "quantity", "This field may not be null."),
        ({"quantity": "x" * 5000}, "quantity", "A valid integer is required."),
        ({"product_id": None}, "product_id", "This field is required."),
        ({"product_id": "not-a-uuid"}, "product_id", "Must be a valid UUID."),
        ({"product_id": "1234"}, "product_id", "Must be a valid UUID."),
    ],
)
def test_post_item_with_bad_input_is_a_400_with_field_errors_and_changes_nothing(
    fake_products: Any, shopper: Shopper, body: dict[str, Any], field: str, message: str
) -> None:
    # given
    mug = fake_products.add_product(stock=500)
    payload: dict[str, Any] = {"product_id": str(mug.id), "quantity": 1, **body}
    if payload["product_id"] is None:
        del payload["product_id"]

    # when
    response = shopper.client.post("/api/cart/items", payload, format="json")

    # then
    problem = assert_problem(response, 400, "validation-error")
    assert problem["errors"] == {field: [message]}
    assert not Cart.objects.exists()


def test_post_item_with_a_body_that_is_not_an_object_is_a_400(shopper: Shopper) -> None:
    # when
    response = shopper.client.post("/api/cart/items", [1, 2], format="json")

    # then: refused by shopkit's parser before the serializer sees it
    assert assert_problem(response, 400, "malformed-json")["detail"] == "The body must be a JSON object."
    assert not Cart.objects.exists()


def test_post_item_with_malformed_json_is_a_400(shopper: Shopper) -> None:
    # when
    response = shopper.client.post("/api/cart/items", "{not json", content_type="application/json")

    # then
    assert_problem(response, 400)
    assert not Cart.objects.exists()


def test_post_item_of_an_unknown_product_is_a_404_naming_it(fake_products: Any, shopper: Shopper) -> None:
    # given
    unknown = uuid.uuid4()

    # when
    response = shopper.client.post("/api/cart/items", {"product_id": str(unknown), "quantity": 1}, format="json")

    # then
    problem = assert_problem(response, 404, "product-not-found")
    assert problem["product_id"] == str(unknown)
    assert not Cart.objects.exists()


def test_post_item_of_an_inactive_product_is_a_409(fake_products: Any, shopper: Shopper) -> None:
    # given
    retired = fake_products.add_product(active=False)

    # when
    response = shopper.client.post("/api/cart/items", {"product_id": str(retired.id), "quantity": 1}, format="json")

    # then
    problem = assert_problem(response, 409, "product-unavailable")
    assert problem["product_id"] == str(retired.id)
    assert not Cart.objects.exists()


def test_post_item_of_more_than_in_stock_is_a_409_with_the_available_units(
    fake_products: Any, shopper: Shopper
) -> None:
    # given
    mug = fake_products.add_product(stock=3)
    _add(shopper, mug.id, 2)

    # when
    response = shopper.client.post("/api/cart/items", {"product_id": str(mug.id), "quantity": 2}, format="json")

    # then
    problem = assert_problem(response, 409, "insufficient-stock")
    assert (problem["product_id"], problem["available"]) == (str(mug.id), 3)
    assert _stored(shopper.user_id) == [(mug.id, 2)]


def test_post_item_taking_a_line_past_99_is_a_400(fake_products: Any, shopper: Shopper) -> None:
    # given
    mug = fake_products.add_product(stock=500)
    _add(shopper, mug.id, 99)

    # when
    response = shopper.client.post("/api/cart/items", {"product_id": str(mug.id), "quantity": 1}, format="json")

    # then
    problem = assert_problem(response, 400, "line-quantity-limit")
    assert problem["errors"] == {"quantity": ["A cart line holds at most 99 units; this one already has 99."]}
    assert _stored(shopper.user_id) == [(mug.id, 99)]


def test_post_item_with_products_down_is_a_503_and_changes_nothing(products_down: None, shopper: Shopper) -> None:
    # when
    response = shopper.client.post("/api/cart/items", {"product_id": str(uuid.uuid4()), "quantity": 1}, format="json")

    # then
    assert_problem(response, 503, "products-unavailable")
    assert not Cart.objects.exists()


# --- PATCH /api/cart/items/{product_id} ---------------------------------------------------------


def test_patch_item_sets_the_quantity_and_answers_with_the_cart(fake_products: Any, shopper: Shopper) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price="2.00", stock=10)
    _add(shopper, mug.id, 5)

    # when
    response = shopper.client.patch(f"/api/cart/items/{mug.id}", {"quantity": 1}, format="json")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "lines": [
            {"product_id": str(mug.id), "name": "Mug", "quantity": 1, "unit_price": "2.00", "line_total": "2.00"}
        ],
        "total": "2.00",
        "currency": "USD",
        "stale": False,
    }
    assert _stored(shopper.user_id) == [(mug.id, 1)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"quantity": 0}, "Ensure this value is greater than or equal to 1."),
        ({"quantity": -3}, "Ensure this value is greater than or equal to 1."),
        ({"quantity": 100}, "Ensure this value is less than or equal to 99."),
        ({"quantity": "five"}, "A valid integer is required."),
        ({}, "This field is required."),
    ],
)
def test_patch_item_with_a_bad_quantity_is_a_400_and_changes_nothing(
    fake_products: Any, shopper: Shopper, body: dict[str, Any], message: str
) -> None:
    # given
    mug = fake_products.add_product(stock=500)
    _add(shopper, mug.id, 5)

    # when
    response = shopper.client.patch(f"/api/cart/items/{mug.id}", body, format="json")

    # then
    problem = assert_problem(response, 400, "validation-error")
    assert problem["errors"] == {"quantity": [message]}
    assert _stored(shopper.user_id) == [(mug.id, 5)]


def test_patch_item_beyond_stock_is_a_409_and_changes_nothing(fake_products: Any, shopper: Shopper) -> None:
    # given
    mug = fake_products.add_product(stock=5)
    _add(shopper, mug.id, 1)

    # when
    response = shopper.client.patch(f"/api/cart/items/{mug.id}", {"quantity": 6}, format="json")

    # then
    problem = assert_problem(response, 409, "insufficient-stock")
    assert problem["available"] == 5
    assert _stored(shopper.user_id) == [(mug.id, 1)]


def test_patch_item_of_a_product_made_inactive_is_a_409_and_changes_nothing(
    fake_products: Any, shopper: Shopper
) -> None:
    # given
    mug = fake_products.add_product(stock=5)
    _add(shopper, mug.id, 1)
    fake_products.update_product(mug.id, active=False)

    # when
    response = shopper.client.patch(f"/api/cart/items/{mug.id}", {"quantity": 2}, format="json")

    # then
    assert_problem(response, 409, "product-unavailable")
    assert _stored(shopper.user_id) == [(mug.id, 1)]


@pytest.mark.parametrize("path_id", ["not-a-uuid", "in-cart-of-someone-else", "unknown"])
def test_patch_item_not_in_the_callers_cart_is_a_404(
    fake_products: Any, shopper: Shopper, make_shopper: Callable[[], Shopper], path_id: str
) -> None:
    # given
    other = make_shopper()
    mug = fake_products.add_product(stock=10)
    _add(other, mug.id, 1)
    target = {"in-cart-of-someone-else": str(mug.id), "unknown": str(uuid.uuid4())}.get(path_id, path_id)

    # when
    response = shopper.client.patch(f"/api/cart/items/{target}", {"quantity": 2}, format="json")

    # then
    assert_problem(response, 404, "cart-line-not-found")
    assert _stored(other.user_id) == [(mug.id, 1)]
    assert _stored(shopper.user_id) == []


# --- DELETE /api/cart/items/{product_id} --------------------------------------------------------


def test_delete_item_removes_the_line_and_answers_with_the_cart(fake_products: Any, shopper: Shopper) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price="1.00")
    tea = fake_products.add_product(name="Tea", price="2.00")
    _add(shopper, mug.id, 1)
    _add(shopper, tea.id, 1)

    # when
    response = shopper.client.delete(f"/api/cart/items/{mug.id}")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "lines": [
            {"product_id": str(tea.id), "name": "Tea", "quantity": 1, "unit_price": "2.00", "line_total": "2.00"}
        ],
        "total": "2.00",
        "currency": "USD",
        "stale": False,
    }
    assert _stored(shopper.user_id) == [(tea.id, 1)]


@pytest.mark.parametrize("path_id", ["not-a-uuid", "in-cart-of-someone-else", "unknown"])
def test_delete_item_not_in_the_callers_cart_is_a_404_and_changes_nothing(
    shopper: Shopper, make_shopper: Callable[[], Shopper], path_id: str
) -> None:
    # given
    other = make_shopper()
    line = CartLineFactory.create(cart=CartFactory.create(user_id=other.user_id))
    target = {"in-cart-of-someone-else": str(line.product_id), "unknown": str(uuid.uuid4())}.get(path_id, path_id)

    # when
    response = shopper.client.delete(f"/api/cart/items/{target}")

    # then
    assert_problem(response, 404, "cart-line-not-found")
    assert CartLine.objects.filter(id=line.id).exists()


def test_delete_item_works_with_products_down(products_down: None, shopper: Shopper) -> None:
    # given
    cart = CartFactory.create(user_id=shopper.user_id)
    line = CartLineFactory.create(cart=cart)

    # when
    response = shopper.client.delete(f"/api/cart/items/{line.product_id}")

    # then
    assert response.status_code == 200
    assert response.json() == EMPTY_CART
    assert not CartLine.objects.exists()


# --- ownership ------------------------------------------------------------------------------------


def test_each_token_sees_only_its_own_cart(
    fake_products: Any, shopper: Shopper, make_shopper: Callable[[], Shopper]
) -> None:
    # given
    other = make_shopper()
    mug, tea = fake_products.add_product(name="Mug"), fake_products.add_product(name="Tea")
    _add(shopper, mug.id, 1)
    _add(other, tea.id, 2)

    # when
    mine = shopper.client.get("/api/cart").json()
    theirs = other.client.get("/api/cart").json()

    # then
    assert [(line["product_id"], line["quantity"]) for line in mine["lines"]] == [(str(mug.id), 1)]
    assert [(line["product_id"], line["quantity"]) for line in theirs["lines"]] == [(str(tea.id), 2)]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/cart"),
        ("post", "/api/cart/items"),
        ("patch", "/api/cart/items/00000000-0000-0000-0000-000000000001"),
        ("delete", "/api/cart/items/00000000-0000-0000-0000-000000000001"),
    ],
)
def test_every_endpoint_needs_a_valid_access_token(api_client: APIClient, method: str, path: str) -> None:
    # given
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    # when
    response = getattr(api_client, method)(path, {"quantity": 1}, format="json")

    # then
    assert_problem(response, 401)


def test_adding_to_a_cart_asks_products_once_and_answers_with_its_current_name_and_price(
    fake_products: Any, shopper: Shopper
) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price="9.50", stock=10)
    fake_products.calls.clear()

    # when
    response = shopper.client.post("/api/cart/items", {"product_id": str(mug.id), "quantity": 2}, format="json")

    # then: the product checked for the add is the one shown; products is not asked a second time
    assert response.status_code == 200, response.content
    assert response.json()["lines"] == [
        {"product_id": str(mug.id), "name": "Mug", "quantity": 2, "unit_price": "9.50", "line_total": "19.00"}
    ]
    assert sum(fake_products.calls.values()) == 1


def test_adding_to_a_cart_with_other_lines_asks_products_only_about_those(fake_products: Any, shopper: Shopper) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price="9.50", stock=10)
    tea = fake_products.add_product(name="Tea", price="3.25", stock=10)
    _add(shopper, mug.id, 1)
    fake_products.update_product(mug.id, price=Decimal("11.00"))
    fake_products.calls.clear()

    # when
    response = shopper.client.post("/api/cart/items", {"product_id": str(tea.id), "quantity": 1}, format="json")

    # then: the other line is priced as products says now
    assert response.status_code == 200, response.content
    assert {line["name"]: line["unit_price"] for line in response.json()["lines"]} == {"Mug": "11.00", "Tea": "3.25"}
    assert fake_products.calls == {"GetProduct": 1, "GetProducts": 1}
