"""GET /api/categories, /api/products and /api/products/{id}: filters, pagination, visibility, bad input."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from product_svc.catalog.models import Category
from product_svc.tests.factories import CategoryFactory, ProductFactory
from shopkit.testing.problems import assert_problem


def _names(response: Any) -> list[str]:
    return [item["name"] for item in response.json()["items"]]


def test_category_list_shows_every_category_by_name(api_client: Any, db: None) -> None:
    # given
    garden = CategoryFactory.create(slug="garden", name="Garden", description="Outside.")
    books = CategoryFactory.create(slug="books", name="Books", description="Reading.")

    # when
    response = api_client.get("/api/categories")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {"id": str(books.id), "slug": "books", "name": "Books", "description": "Reading."},
            {"id": str(garden.id), "slug": "garden", "name": "Garden", "description": "Outside."},
        ],
        "count": 2,
    }


def test_product_list_renders_products_with_category_and_pagination(api_client: Any, category: Category) -> None:
    # given
    product = ProductFactory.create(
        sku="MUG-1", name="Mug", slug="mug", description="Holds tea.", price=Decimal("9.50"), stock=3, category=category
    )

    # when
    response = api_client.get("/api/products")

    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["page"], body["page_size"]) == (1, 1, 20)
    item = body["items"][0]
    assert {k: v for k, v in item.items() if k not in ("created_at", "updated_at")} == {
        "id": str(product.id),
        "sku": "MUG-1",
        "name": "Mug",
        "slug": "mug",
        "description": "Holds tea.",
        "price": "9.50",
        "currency": "USD",
        "stock": 3,
        "active": True,
        "category": {"id": str(category.id), "slug": "kitchen", "name": "Kitchen"},
    }
    assert item["created_at"].endswith("Z")


def test_customers_see_only_active_products_but_staff_see_all(
    api_client: Any, staff_client: Any, category: Category
) -> None:
    # given
    ProductFactory.create(name="On sale", category=category)
    ProductFactory.create(name="Withdrawn", active=False, category=category)

    # when
    public = api_client.get("/api/products")
    staff = staff_client.get("/api/products")

    # then
    assert _names(public) == ["On sale"]
    assert _names(staff) == ["On sale", "Withdrawn"]


def test_pages_split_the_list_without_overlap(api_client: Any, category: Category) -> None:
    # given
    for letter in "ABCDE":
        ProductFactory.create(name=f"Item {letter}", category=category)

    # when
    first = api_client.get("/api/products", {"page": 1, "page_size": 2, "ordering": "name"})
    third = api_client.get("/api/products", {"page": 3, "page_size": 2, "ordering": "name"})
    beyond = api_client.get("/api/products", {"page": 4, "page_size": 2})

    # then
    assert _names(first) == ["Item A", "Item B"]
    assert _names(third) == ["Item E"]
    assert beyond.json() == {"items": [], "count": 5, "page": 4, "page_size": 2}


def test_filters_by_category_price_stock_and_search(api_client: Any, db: None) -> None:
    # given
    kitchen = CategoryFactory.create(slug="kitchen")
    garden = CategoryFactory.create(slug="garden")
    ProductFactory.create(name="Cheap Spoon", price=Decimal("2.00"), stock=0, category=kitchen)
    ProductFactory.create(name="Copper Pan", price=Decimal("80.00"), stock=4, category=kitchen, sku="PAN-77")
    ProductFactory.create(name="Rake", price=Decimal("25.00"), stock=2, category=garden, description="For leaves.")

    # when / then
    assert _names(api_client.get("/api/products", {"category": "kitchen"})) == ["Cheap Spoon", "Copper Pan"]
    assert _names(api_client.get("/api/products", {"min_price": "10", "max_price": "50"})) == ["Rake"]
    assert _names(api_client.get("/api/products", {"in_stock": "true"})) == ["Copper Pan", "Rake"]
    assert _names(api_client.get("/api/products", {"in_stock": "false"})) == ["Cheap Spoon"]
    assert _names(api_client.get("/api/products", {"search": "leaves"})) == ["Rake"]
    assert _names(api_client.get("/api/products", {"search": "copper"})) == ["Copper Pan"]
    assert _names(api_client.get("/api/products", {"search": "pan-7"})) == ["Copper Pan"]
    assert _names(api_client.get("/api/products", {"category": "nothing-here"})) == []


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["B", "C", "A"]),
        ("-price", ["A", "C", "B"]),
        ("name", ["A", "B", "C"]),
        ("-name", ["C", "B", "A"]),
        ("created_at", ["A", "B", "C"]),
        ("-created_at", ["C", "B", "A"]),
    ],
)
def test_ordering_sorts_the_list(api_client: Any, category: Category, ordering: str, expected: list[str]) -> None:
    # given
    for name, price in (("A", "30.00"), ("B", "10.00"), ("C", "20.00")):
        ProductFactory.create(name=name, price=Decimal(price), category=category)

    # when
    response = api_client.get("/api/products", {"ordering": ordering})

    # then
    assert _names(response) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": "abc"}, "min_price"),
        ({"min_price": "-1"}, "min_price"),
        ({"max_price": "-5"}, "max_price"),
        ({"min_price": "20", "max_price": "10"}, "max_price"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "101"}, "page_size"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"ordering": "password"}, "ordering"),
        ({"search": "x" * 101}, "search"),
        ({"category": "not a slug!"}, "category"),
    ],
)
def test_bad_list_parameters_are_400_problems_naming_the_field(
    api_client: Any, db: None, params: dict[str, str], field: str
) -> None:
    # when
    response = api_client.get("/api/products", params)

    # then
    body = assert_problem(response, 400, "validation-error")
    assert list(body["errors"]) == [field]


def test_product_detail_shows_one_product(api_client: Any, category: Category) -> None:
    # given
    product = ProductFactory.create(name="Teapot", price=Decimal("31.00"), stock=2, category=category)

    # when
    response = api_client.get(f"/api/products/{product.id}")

    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["price"], body["stock"]) == (str(product.id), "Teapot", "31.00", 2)
    assert body["category"] == {"id": str(category.id), "slug": "kitchen", "name": "Kitchen"}


@pytest.mark.parametrize("product_id", [str(uuid.uuid4()), "not-a-uuid", "123"])
def test_unknown_or_malformed_product_id_is_404_problem(api_client: Any, db: None, product_id: str) -> None:
    # when
    response = api_client.get(f"/api/products/{product_id}")

    # then
    assert_problem(response, 404, "product-not-found")


def test_inactive_product_is_404_for_customers_but_visible_to_staff(
    api_client: Any, staff_client: Any, category: Category
) -> None:
    # given
    product = ProductFactory.create(active=False, category=category)

    # when
    public = api_client.get(f"/api/products/{product.id}")
    staff = staff_client.get(f"/api/products/{product.id}")

    # then
    assert_problem(public, 404, "product-not-found")
    assert staff.status_code == 200
    assert staff.json()["active"] is False


def test_a_bad_token_on_a_public_read_is_401(api_client: Any, db: None) -> None:
    # given
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    # when
    response = api_client.get("/api/products")

    # then
    assert_problem(response, 401)


def test_product_list_runs_two_queries_however_many_products(
    api_client: Any, category: Category, django_assert_max_num_queries: Any
) -> None:
    # given: products in several categories (no per-row category query)
    for index in range(25):
        ProductFactory.create(category=category if index % 2 else CategoryFactory.create())

    # when / then: one count, one page with its categories joined
    with django_assert_max_num_queries(2):
        response = api_client.get("/api/products", {"page_size": 100})
    assert len(response.json()["items"]) == 25


def test_product_detail_runs_one_query(api_client: Any, category: Category, django_assert_num_queries: Any) -> None:
    # given
    product = ProductFactory.create(category=category)

    # when / then
    with django_assert_num_queries(1):
        response = api_client.get(f"/api/products/{product.id}")
    assert response.status_code == 200
