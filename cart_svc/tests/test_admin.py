"""The carts admin: staff sign in with the users identity; read-only carts and lines; removing lines by a service."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from cart_svc.carts.models import CartLine
from cart_svc.tests.factories import CartLineFactory

pytestmark = pytest.mark.django_db


def test_staff_sign_in_to_the_carts_admin_with_the_users_service_identity(users_service: Any, settings: Any) -> None:
    # given
    settings.ADMIN_LOGIN_RATE = ""
    users_service.add_account("boss@example.com", "a-boss-passphrase")
    client = Client()

    # when
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "boss@example.com", "password": "a-boss-passphrase"}
    )

    # then
    assert response.status_code == 302
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "<title>Site administration | Shop · carts</title>" in index.text


def test_cart_and_line_pages_open_read_only(staff_admin_client: Client) -> None:
    # given
    line = CartLineFactory.create()

    # when
    pages = [
        staff_admin_client.get("/admin/carts/cart/"),
        staff_admin_client.get(f"/admin/carts/cart/{line.cart_id}/change/"),
        staff_admin_client.get("/admin/carts/cartline/"),
        staff_admin_client.get(f"/admin/carts/cartline/{line.id}/change/"),
    ]
    add = staff_admin_client.get("/admin/carts/cartline/add/")

    # then
    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    assert line.name in pages[3].text
    assert add.status_code == 403


def test_remove_lines_action_removes_them_through_the_service(staff_admin_client: Client) -> None:
    # given
    kept, removed = CartLineFactory.create(), CartLineFactory.create()

    # when
    response = staff_admin_client.post(
        "/admin/carts/cartline/", {"action": "remove_lines", "_selected_action": [str(removed.id)]}
    )

    # then
    assert response.status_code == 302
    assert list(CartLine.objects.values_list("id", flat=True)) == [kept.id]
