"""Malformed bodies sent straight to the carts service (not through the gateway) are 400 problems."""

from __future__ import annotations

from typing import Any

import pytest

from cart_svc.carts.models import CartLine
from shopkit.testing.malformed import assert_malformed_body_problem, malformed_body_params
from shopkit.testing.shoppers import Shopper

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("body", malformed_body_params())
def test_malformed_add_to_cart_is_a_400_problem_and_adds_nothing(shopper: Shopper, body: bytes) -> None:
    # when
    response = shopper.client.post("/api/cart/items", body, content_type="application/json")

    # then
    assert_malformed_body_problem(response.status_code, response["Content-Type"], response.json())
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("body", malformed_body_params())
def test_malformed_quantity_change_is_a_400_problem_and_changes_nothing(
    fake_products: Any, shopper: Shopper, body: bytes
) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price="9.50", stock=10)
    added = shopper.client.post("/api/cart/items", {"product_id": str(mug.id), "quantity": 2}, format="json")
    assert added.status_code == 200, added.content

    # when
    response = shopper.client.patch(f"/api/cart/items/{mug.id}", body, content_type="application/json")

    # then
    assert_malformed_body_problem(response.status_code, response["Content-Type"], response.json())
    assert list(CartLine.objects.values_list("product_id", "quantity")) == [(mug.id, 2)]
