"""GET /api/orders and GET /api/orders/{id}: the caller's own orders only, newest first, paginated."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from order_svc.tests.factories import OrderFactory, confirmed_order
from shopkit.testing.problems import assert_problem
from shopkit.testing.shoppers import Shopper

pytestmark = pytest.mark.django_db


def test_order_detail_renders_the_contract_shape(shopper: Shopper) -> None:
    # given
    order = confirmed_order(user_id=shopper.user_id, lines=2)
    line_a, line_b = order.lines.order_by("id")

    # when
    response = shopper.client.get(f"/api/orders/{order.id}")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": str(order.id),
        "status": "confirmed",
        "lines": [
            {
                "product_id": str(line.product_id),
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": "10.00",
                "line_total": f"{line.quantity * 10}.00",
            }
            for line in (line_a, line_b)
        ],
        "total": "30.00",
        "currency": "USD",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "history": [
            {"status": "pending", "at": body["history"][0]["at"], "note": "checkout started"},
            {"status": "confirmed", "at": body["history"][1]["at"], "note": "stock reserved"},
        ],
    }
    assert dt.datetime.fromisoformat(body["created_at"]) == order.created_at


def test_another_users_order_is_not_found(shopper: Shopper, make_shopper: Callable[[], Shopper]) -> None:
    # given
    order = confirmed_order(user_id=make_shopper().user_id)

    # when
    response = shopper.client.get(f"/api/orders/{order.id}")

    # then
    assert_problem(response, 404, "order-not-found")


@pytest.mark.parametrize("order_id", [str(uuid.uuid4()), "not-a-uuid", "1234", "%00"])
def test_unknown_or_malformed_order_id_is_not_found(shopper: Shopper, order_id: str) -> None:
    # when
    response = shopper.client.get(f"/api/orders/{order_id}")

    # then
    assert_problem(response, 404)


def test_order_list_holds_only_own_orders_newest_first(shopper: Shopper, make_shopper: Callable[[], Shopper]) -> None:
    # given
    now = timezone.now()
    older = confirmed_order(user_id=shopper.user_id, created_at=now - dt.timedelta(hours=2))
    newer = confirmed_order(user_id=shopper.user_id, created_at=now - dt.timedelta(hours=1))
    confirmed_order(user_id=make_shopper().user_id)

    # when
    response = shopper.client.get("/api/orders")

    # then
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["items"]] == [str(newer.id), str(older.id)]
    assert (body["count"], body["page"], body["page_size"]) == (2, 1, 20)
    assert [len(item["lines"]) for item in body["items"]] == [2, 2]


def test_order_list_pages(shopper: Shopper) -> None:
    # given
    now = timezone.now()
    orders = [OrderFactory.create(user_id=shopper.user_id, created_at=now - dt.timedelta(minutes=i)) for i in range(5)]

    # when
    second = shopper.client.get("/api/orders", {"page": 2, "page_size": 2}).json()
    past_the_end = shopper.client.get("/api/orders", {"page": 4, "page_size": 2}).json()

    # then
    assert [item["id"] for item in second["items"]] == [str(orders[2].id), str(orders[3].id)]
    assert (second["count"], second["page"], second["page_size"]) == (5, 2, 2)
    assert past_the_end == {"items": [], "count": 5, "page": 4, "page_size": 2}


@pytest.mark.parametrize(
    "params",
    [{"page": 0}, {"page": -1}, {"page": "x"}, {"page_size": 0}, {"page_size": 101}, {"page": 100_001}],
)
def test_order_list_rejects_out_of_range_paging(shopper: Shopper, params: dict[str, Any]) -> None:
    # when
    response = shopper.client.get("/api/orders", params)

    # then
    body = assert_problem(response, 400, "validation-error")
    assert set(body["errors"]) == set(params)


def test_orders_need_a_valid_token(api_client: Any) -> None:
    # when
    anonymous = api_client.get("/api/orders")
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    forged = api_client.get("/api/orders")

    # then
    assert_problem(anonymous, 401)
    assert_problem(forged, 401)


def test_order_list_query_count_does_not_grow_with_orders(shopper: Shopper, django_assert_max_num_queries: Any) -> None:
    # given: count, orders, their lines, their history
    for _ in range(10):
        confirmed_order(user_id=shopper.user_id, lines=3)

    # when
    with django_assert_max_num_queries(4):
        response = shopper.client.get("/api/orders")

    # then
    assert response.status_code == 200
    assert response.json()["count"] == 10


def test_order_detail_query_count(shopper: Shopper, django_assert_max_num_queries: Any) -> None:
    # given: the order, its lines, its history
    order = confirmed_order(user_id=shopper.user_id, lines=5)

    # when
    with django_assert_max_num_queries(3):
        response = shopper.client.get(f"/api/orders/{order.id}")

    # then
    assert response.status_code == 200
    assert len(response.json()["lines"]) == 5
