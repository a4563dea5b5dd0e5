"""Browsing the catalog through the gateway: categories, filters, pagination, detail, staff writes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from shopkit.testing.problems import assert_problem
from tests.e2e.conftest import Customer


def test_demo_catalog_has_categories_and_products(api: httpx.Client) -> None:
    # when
    categories = api.get("/api/categories")
    products = api.get("/api/products", params={"page_size": 10})

    # then
    assert categories.status_code == 200
    assert categories.json()["count"] >= 5
    assert products.status_code == 200
    body = products.json()
    assert body["count"] >= 50
    assert len(body["items"]) == 10
    first = body["items"][0]
    assert {"id", "sku", "name", "price", "currency", "stock"} <= set(first)
    Decimal(first["price"])  # money is a decimal string
    uuid.UUID(first["id"])


def test_pages_do_not_overlap(api: httpx.Client) -> None:
    # when
    page1 = api.get("/api/products", params={"page": 1, "page_size": 5, "ordering": "name"}).json()
    page2 = api.get("/api/products", params={"page": 2, "page_size": 5, "ordering": "name"}).json()

    # then
    ids1 = {p["id"] for p in page1["items"]}
    ids2 = {p["id"] for p in page2["items"]}
    assert len(ids1) == len(ids2) == 5
    assert not ids1 & ids2
    assert page1["count"] == page2["count"]


def test_filters_narrow_the_list(api: httpx.Client) -> None:
    # given
    category = api.get("/api/categories").json()["items"][0]["slug"]

    # when
    by_category = api.get("/api/products", params={"category": category, "page_size": 100}).json()
    by_price = api.get("/api/products", params={"min_price": "10", "max_price": "50", "page_size": 100}).json()
    in_stock = api.get("/api/products", params={"in_stock": "true", "page_size": 100}).json()
    by_price_desc = api.get("/api/products", params={"ordering": "-price", "page_size": 20}).json()

    # then
    assert by_category["count"] > 0
    assert all(p["category"]["slug"] == category for p in by_category["items"])
    assert by_price["count"] > 0
    assert all(Decimal("10") <= Decimal(p["price"]) <= Decimal("50") for p in by_price["items"])
    assert all(p["stock"] > 0 for p in in_stock["items"])
    prices = [Decimal(p["price"]) for p in by_price_desc["items"]]
    assert prices == sorted(prices, reverse=True)


def test_search_finds_a_product_by_name(api: httpx.Client) -> None:
    # given
    product = api.get("/api/products", params={"page_size": 1}).json()["items"][0]
    term = product["name"].split()[0]

    # when
    found = api.get("/api/products", params={"search": term, "page_size": 100}).json()

    # then
    assert product["id"] in {p["id"] for p in found["items"]}


def test_product_detail_and_unknown_or_malformed_ids(api: httpx.Client) -> None:
    # given
    listed = api.get("/api/products", params={"page_size": 1}).json()["items"][0]

    # when
    detail = api.get(f"/api/products/{listed['id']}")

    # then
    assert detail.status_code == 200
    assert detail.json()["id"] == listed["id"]
    assert detail.json()["name"] == listed["name"]
    assert_problem(api.get(f"/api/products/{uuid.uuid4()}"), 404)
    assert_problem(api.get("/api/products/not-a-uuid"), 404)


@pytest.mark.parametrize(
    "params",
    [
        {"min_price": "abc"},
        {"max_price": "-5"},
        {"page": "0"},
        {"page": "x"},
        {"page_size": "1000"},
        {"in_stock": "maybe"},
        {"ordering": "password"},
    ],
)
def test_bad_filter_values_are_400_problems(api: httpx.Client, params: dict[str, str]) -> None:
    assert_problem(api.get("/api/products", params=params), 400)


def test_only_staff_create_and_change_products(
    api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer]
) -> None:
    # given
    customer = new_customer()
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    new = {"sku": sku, "name": f"Test Lamp {sku}", "price": "12.50", "stock": 3, "category": category}

    # when
    by_customer = api.post("/api/products", json=new, headers=customer.auth)
    anonymous = api.post("/api/products", json=new)
    created = api.post("/api/products", json=new, headers=staff.auth)

    # then
    assert_problem(by_customer, 403)
    assert_problem(anonymous, 401)
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]
    patched = api.patch(f"/api/products/{product_id}", json={"price": "9.99", "stock_on_hand": 7}, headers=staff.auth)
    assert patched.status_code == 200
    shown = api.get(f"/api/products/{product_id}").json()
    assert (shown["price"], shown["stock"]) == ("9.99", 7)
    assert {"stock_on_hand", "stock_allocated"}.isdisjoint(shown)
    for_staff = api.get(f"/api/products/{product_id}", headers=staff.auth).json()
    assert (for_staff["stock_on_hand"], for_staff["stock_allocated"], for_staff["stock"]) == (7, 0, 7)
    assert_problem(api.patch(f"/api/products/{product_id}", json={"price": "-1"}, headers=staff.auth), 400)
    assert api.get(f"/api/products/{product_id}").json()["price"] == "9.99"
