"""The catalog admin: lists, list editing through the services (cache invalidated), read-only reservations."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from product_svc.catalog import services
from product_svc.catalog.models import Category, Product, Reservation
from product_svc.tests.factories import ProductFactory


@pytest.fixture
def admin_client(staff_admin_client: Client) -> Client:
    """Signed in through the admin's login page against a users stand-in (shopkit.testing)."""
    return staff_admin_client


def test_product_list_searches_by_sku(admin_client: Client, category: Category) -> None:
    # given
    ProductFactory.create(sku="FIND-ME", name="Findable", category=category)
    ProductFactory.create(sku="OTHER", name="Other", category=category)

    # when
    response = admin_client.get("/admin/catalog/product/", {"q": "FIND-ME"})

    # then
    assert response.status_code == 200
    assert "Findable" in response.text
    assert "Other" not in response.text


@pytest.mark.parametrize("params", [{"in_stock": "no"}, {"active__exact": "0"}])
def test_product_list_filters(admin_client: Client, category: Category, params: dict[str, str]) -> None:
    # given
    ProductFactory.create(name="Sold Out Retired", stock=0, active=False, category=category)
    ProductFactory.create(name="Still For Sale", stock=3, category=category)

    # when
    response = admin_client.get("/admin/catalog/product/", params)

    # then
    assert response.status_code == 200
    assert "Sold Out Retired" in response.text
    assert "Still For Sale" not in response.text


def test_editing_price_and_stock_in_the_list_is_visible_in_the_api_at_once(
    admin_client: Client, api_client: Any, category: Category, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the product is cached by a read
    product = ProductFactory.create(price=Decimal("120.00"), stock=4, category=category)
    assert api_client.get(f"/api/products/{product.id}").json()["stock"] == 4

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/catalog/product/",
            {
                "form-TOTAL_FORMS": "1",
                "form-INITIAL_FORMS": "1",
                "form-0-id": str(product.id),
                "form-0-price": "99.50",
                "form-0-stock_on_hand": "11",
                "form-0-active": "on",
                "_save": "Save",
            },
        )

    # then
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.price, product.stock) == (Decimal("99.50"), 11)
    shown = api_client.get(f"/api/products/{product.id}").json()
    assert (shown["price"], shown["stock"]) == ("99.50", 11)


def test_adding_a_product_in_the_admin_goes_through_the_service(admin_client: Client, category: Category) -> None:
    # when
    response = admin_client.post(
        "/admin/catalog/product/add/",
        {
            "sku": "ADM-1",
            "name": "Admin Desk",
            "slug": "admin-desk",
            "description": "",
            "price": "120.00",
            "currency": "USD",
            "stock_on_hand": "4",
            "active": "on",
            "category": str(category.id),
        },
    )

    # then
    assert response.status_code == 302, response.content
    product = Product.objects.get(sku="ADM-1")
    assert (product.name, product.price, product.stock, product.category_id) == (
        "Admin Desk",
        Decimal("120.00"),
        4,
        category.id,
    )


def test_reservations_are_read_only(admin_client: Client, category: Category) -> None:
    # given
    product = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    reservation = services.stock_reserve(order_id=order_id, lines=[(product.id, 2)]).reservation

    # when
    listed = admin_client.get("/admin/catalog/reservation/")
    shown = admin_client.get(f"/admin/catalog/reservation/{reservation.id}/change/")
    add = admin_client.get("/admin/catalog/reservation/add/")
    delete = admin_client.post(f"/admin/catalog/reservation/{reservation.id}/delete/", {"post": "yes"})

    # then
    assert listed.status_code == shown.status_code == 200
    assert str(order_id) in listed.text
    assert (add.status_code, delete.status_code) == (403, 403)
    assert Reservation.objects.filter(id=reservation.id).exists()


def test_category_admin_lists_and_adds_categories(admin_client: Client, db: None) -> None:
    # when
    added = admin_client.post("/admin/catalog/category/add/", {"slug": "garden", "name": "Garden", "description": ""})
    listed = admin_client.get("/admin/catalog/category/")

    # then
    assert added.status_code == 302, added.content
    assert Category.objects.filter(slug="garden", name="Garden").exists()
    assert "Garden" in listed.text
