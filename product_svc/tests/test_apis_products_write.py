"""POST /api/products and PATCH /api/products/{id}: staff only, validated, unique SKU and slug."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from product_svc.catalog.models import Category, Product
from product_svc.tests.factories import CategoryFactory, ProductFactory
from shopkit.testing.problems import assert_problem

NEW_PRODUCT = {"sku": "LAMP-1", "name": "Desk Lamp", "price": "12.50", "stock": 3, "category": "kitchen"}


def test_staff_creates_a_product(staff_client: Any, category: Category) -> None:
    # when
    response = staff_client.post("/api/products", NEW_PRODUCT, format="json")

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    product = Product.objects.get(sku="LAMP-1")
    assert body["id"] == str(product.id)
    assert (body["name"], body["slug"], body["price"], body["currency"], body["stock"], body["active"]) == (
        "Desk Lamp",
        "desk-lamp-lamp-1",
        "12.50",
        "USD",
        3,
        True,
    )
    assert body["category"]["slug"] == "kitchen"
    assert (product.price, product.stock, product.category_id) == (Decimal("12.50"), 3, category.id)


def test_staff_creates_a_product_with_every_optional_field(staff_client: Any, category: Category) -> None:
    # given
    body = {**NEW_PRODUCT, "slug": "lamp", "description": "Bright.", "currency": "EUR", "active": False}

    # when
    response = staff_client.post("/api/products", body, format="json")

    # then
    assert response.status_code == 201, response.content
    product = Product.objects.get(sku="LAMP-1")
    assert (product.slug, product.description, product.currency, product.active) == ("lamp", "Bright.", "EUR", False)


def test_customer_cannot_create_a_product(customer_client: Any, category: Category) -> None:
    # when
    response = customer_client.post("/api/products", NEW_PRODUCT, format="json")

    # then
    assert_problem(response, 403)
    assert not Product.objects.exists()


def test_anonymous_cannot_create_a_product(api_client: Any, category: Category) -> None:
    # when
    response = api_client.post("/api/products", NEW_PRODUCT, format="json")

    # then
    assert_problem(response, 401)
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": "-1"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "1.234"}, "price"),
        ({"price": "123456789.00"}, "price"),
        ({"stock": -1}, "stock"),
        ({"stock": 1_000_001}, "stock"),
        ({"sku": ""}, "sku"),
        ({"sku": "has space"}, "sku"),
        ({"sku": "S" * 65}, "sku"),
        ({"name": "N" * 201}, "name"),
        ({"currency": "usd"}, "currency"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"category": "unknown"}, "category"),
    ],
)
def test_invalid_new_product_is_400_naming_the_field(
    staff_client: Any, category: Category, changes: dict[str, Any], field: str
) -> None:
    # when
    response = staff_client.post("/api/products", {**NEW_PRODUCT, **changes}, format="json")

    # then
    body = assert_problem(response, 400)
    assert list(body["errors"]) == [field]
    assert not Product.objects.exists()


def test_missing_required_fields_are_listed(staff_client: Any, category: Category) -> None:
    # when
    response = staff_client.post("/api/products", {}, format="json")

    # then
    body = assert_problem(response, 400, "validation-error")
    assert set(body["errors"]) == {"sku", "name", "price", "stock_on_hand", "category"}


def test_malformed_json_is_400(staff_client: Any, category: Category) -> None:
    # when
    response = staff_client.post("/api/products", "{not json", content_type="application/json")

    # then
    assert_problem(response, 400)


@pytest.mark.parametrize(("field", "code"), [("sku", "sku-taken"), ("slug", "slug-taken")])
def test_taken_sku_or_slug_is_409(staff_client: Any, category: Category, field: str, code: str) -> None:
    # given
    ProductFactory.create(
        sku="LAMP-1" if field == "sku" else "OTHER", slug="lamp" if field == "slug" else "other", category=category
    )

    # when
    response = staff_client.post("/api/products", {**NEW_PRODUCT, "slug": "lamp", "sku": "LAMP-1"}, format="json")

    # then
    body = assert_problem(response, 409, code)
    assert list(body["errors"]) == [field]
    assert Product.objects.count() == 1


def test_staff_changes_price_stock_on_hand_active_and_category(staff_client: Any, category: Category) -> None:
    # given
    product = ProductFactory.create(price=Decimal("10.00"), stock=1, category=category)
    CategoryFactory.create(slug="garden")

    # when
    response = staff_client.patch(
        f"/api/products/{product.id}",
        {
            "price": "9.99",
            "stock_on_hand": 7,
            "active": False,
            "category": "garden",
            "name": "Renamed",
            "description": "",
        },
        format="json",
    )

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (
        body["price"],
        body["stock_on_hand"],
        body["stock_allocated"],
        body["stock"],
        body["active"],
        body["category"]["slug"],
        body["name"],
    ) == ("9.99", 7, 0, 7, False, "garden", "Renamed")
    product.refresh_from_db()
    assert (product.price, product.stock, product.active, product.category.slug, product.description) == (
        Decimal("9.99"),
        7,
        False,
        "garden",
        "",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": "-1"}, "price"),
        ({"stock_on_hand": -3}, "stock_on_hand"),
        ({"stock": 3}, "stock"),
        ({"stock_allocated": 0}, "stock_allocated"),
        ({"active": "perhaps"}, "active"),
        ({"name": None}, "name"),
        ({"sku": "NEW-SKU"}, "sku"),
        ({"category": "unknown"}, "category"),
        ({}, "non_field_errors"),
    ],
)
def test_invalid_changes_are_400_and_change_nothing(
    staff_client: Any, category: Category, changes: dict[str, Any], field: str
) -> None:
    # given
    product = ProductFactory.create(sku="KEEP", price=Decimal("10.00"), stock=5, category=category)

    # when
    response = staff_client.patch(f"/api/products/{product.id}", changes, format="json")

    # then
    body = assert_problem(response, 400)
    assert list(body["errors"]) == [field]
    product.refresh_from_db()
    assert (product.sku, product.price, product.stock, product.category_id) == (
        "KEEP",
        Decimal("10.00"),
        5,
        category.id,
    )


def test_customer_cannot_change_a_product(customer_client: Any, category: Category) -> None:
    # given
    product = ProductFactory.create(price=Decimal("10.00"), category=category)

    # when
    response = customer_client.patch(f"/api/products/{product.id}", {"price": "1.00"}, format="json")

    # then
    assert_problem(response, 403)
    product.refresh_from_db()
    assert product.price == Decimal("10.00")


def test_anonymous_cannot_change_a_product(api_client: Any, category: Category) -> None:
    # given
    product = ProductFactory.create(price=Decimal("10.00"), category=category)

    # when
    response = api_client.patch(f"/api/products/{product.id}", {"price": "1.00"}, format="json")

    # then
    assert_problem(response, 401)


@pytest.mark.parametrize("product_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_changing_an_unknown_product_is_404(staff_client: Any, db: None, product_id: str) -> None:
    # when
    response = staff_client.patch(f"/api/products/{product_id}", {"price": "1.00"}, format="json")

    # then
    assert_problem(response, 404, "product-not-found")


def test_delete_is_not_allowed(staff_client: Any, category: Category) -> None:
    # given
    product = ProductFactory.create(category=category)

    # when
    response = staff_client.delete(f"/api/products/{product.id}")

    # then
    assert_problem(response, 405)
    assert Product.objects.filter(id=product.id).exists()
