"""Malformed bodies sent straight to the products service (not through the gateway) are 400 problems."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from product_svc.catalog.models import Category, Product
from product_svc.tests.factories import ProductFactory
from shopkit.testing.malformed import assert_malformed_body_problem, malformed_body_params

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("body", malformed_body_params())
def test_malformed_product_create_is_a_400_problem_and_creates_nothing(
    staff_client: Any, category: Category, body: bytes
) -> None:
    # when
    response = staff_client.post("/api/products", body, content_type="application/json")

    # then
    assert_malformed_body_problem(response.status_code, response["Content-Type"], response.json())
    assert not Product.objects.exists()


@pytest.mark.parametrize("body", malformed_body_params())
def test_malformed_product_update_is_a_400_problem_and_changes_nothing(
    staff_client: Any, category: Category, body: bytes
) -> None:
    # given
    product = ProductFactory.create(category=category, name="Mug", price=Decimal("9.50"))

    # when
    response = staff_client.patch(f"/api/products/{product.id}", body, content_type="application/json")

    # then
    assert_malformed_body_problem(response.status_code, response["Content-Type"], response.json())
    product.refresh_from_db()
    assert (product.name, product.price, product.stock_on_hand) == ("Mug", Decimal("9.50"), 10)
