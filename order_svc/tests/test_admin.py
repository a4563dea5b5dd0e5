"""The orders admin: read-only pages with lines and history, UUID search, and the cancel action."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from order_svc.orders.models import Order, OrderStatus
from order_svc.tests.factories import OrderFactory, confirmed_order
from shopkit.events.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_admin_order_page_shows_lines_and_history(admin_client: Any) -> None:
    # given
    order = confirmed_order(user_id=uuid.uuid4(), lines=2)
    line = order.lines.first()
    assert line is not None

    # when
    response = admin_client.get(f"/admin/orders/order/{order.id}/change/")

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert line.name in page
    assert "stock reserved" in page


@pytest.mark.parametrize("by", ["id", "user_id", "nonsense"])
def test_admin_search_matches_order_and_user_ids_only(admin_client: Any, by: str) -> None:
    # given
    order = confirmed_order(user_id=uuid.uuid4())
    other = confirmed_order(user_id=uuid.uuid4())
    term = {"id": str(order.id), "user_id": str(order.user_id), "nonsense": "not a uuid"}[by]

    # when
    response = admin_client.get("/admin/orders/order/", {"q": term})

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert (str(order.id) in page) is (by != "nonsense")
    assert str(other.id) not in page


def test_admin_cancel_action_cancels_confirmed_orders_and_reports_the_rest(
    admin_client: Any, products_down: None
) -> None:
    # given: products is down, so the stock comes back through the event
    confirmed = confirmed_order(user_id=uuid.uuid4())
    failed = OrderFactory.create(status=OrderStatus.FAILED, failure_reason="insufficient_stock")

    # when
    response = admin_client.post(
        "/admin/orders/order/",
        {"action": "cancel_orders", "_selected_action": [str(confirmed.id), str(failed.id)]},
        follow=True,
    )

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "1 order(s) cancelled." in page
    assert "cannot be cancelled" in page
    assert Order.objects.get(id=confirmed.id).status == OrderStatus.CANCELLED
    assert Order.objects.get(id=failed.id).status == OrderStatus.FAILED
    event = OutboxEvent.objects.get()
    assert event.payload["data"] == {
        "order_id": str(confirmed.id),
        "user_id": str(confirmed.user_id),
        "reason": "staff",
        "stock_released": False,
    }


def test_admin_cannot_add_or_delete_orders(admin_client: Any) -> None:
    # given
    order = confirmed_order(user_id=uuid.uuid4())

    # when
    add = admin_client.get("/admin/orders/order/add/")
    delete = admin_client.post(f"/admin/orders/order/{order.id}/delete/", {"post": "yes"})

    # then
    assert add.status_code == 403
    assert delete.status_code == 403
    assert Order.objects.filter(id=order.id).exists()


def test_staff_sign_in_to_the_orders_admin_with_the_users_service_identity(users_service: Any, settings: Any) -> None:
    # given: the staff member exists only in users (the orders database has no password for them)
    settings.ADMIN_LOGIN_RATE = ""
    users_service.add_account("boss@example.com", "a-boss-passphrase")
    client = Client()

    # when
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "boss@example.com", "password": "a-boss-passphrase"}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "<title>Site administration | Shop · orders</title>" in index.text
    assert "/api/auth/login" in users_service.paths()
