"""Cart and checkout through the gateway: gRPC to products, Kafka events back to carts."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shopkit.testing.polling import poll
from shopkit.testing.problems import assert_problem
from tests.e2e.conftest import Customer

# Every wait here: the shared poll with this file's deadline (a call may give its own).
_poll = functools.partial(poll, seconds=30.0, interval=0.2)


@pytest.fixture
def make_product(api: httpx.Client, staff: Customer) -> Callable[..., dict[str, Any]]:
    category = api.get("/api/categories").json()["items"][0]["slug"]

    def make(*, price: str, stock: int) -> dict[str, Any]:
        sku = f"E2E-{uuid.uuid4().hex[:10].upper()}"
        body = {"sku": sku, "name": f"Checkout Item {sku}", "price": price, "stock": stock, "category": category}
        response = api.post("/api/products", json=body, headers=staff.auth)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


def _stock(api: httpx.Client, product_id: str) -> int:
    return int(api.get(f"/api/products/{product_id}").json()["stock"])


def _staff_stock(api: httpx.Client, staff: Customer, product_id: str) -> tuple[int, int, int]:
    body = api.get(f"/api/products/{product_id}", headers=staff.auth).json()
    return body["stock_on_hand"], body["stock_allocated"], body["stock"]


def test_checkout_journey(
    api: httpx.Client,
    new_customer: Callable[[], Customer],
    make_product: Callable[..., dict[str, Any]],
    staff: Customer,
) -> None:
    # given: a customer with two products in the cart
    customer, stranger = new_customer(), new_customer()
    lamp, mug = make_product(price="10.00", stock=5), make_product(price="4.25", stock=3)
    assert (
        api.post("/api/cart/items", json={"product_id": lamp["id"], "quantity": 1}, headers=customer.auth).status_code
        == 200
    )
    added = api.post("/api/cart/items", json={"product_id": lamp["id"], "quantity": 1}, headers=customer.auth)
    added = api.post("/api/cart/items", json={"product_id": mug["id"], "quantity": 1}, headers=customer.auth)
    assert added.status_code == 200, added.text
    cart = added.json()
    assert {(line["product_id"], line["quantity"]) for line in cart["lines"]} == {(lamp["id"], 2), (mug["id"], 1)}
    assert Decimal(cart["total"]) == Decimal("24.25")
    key = {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}

    # when: the customer checks out twice with one key
    first = api.post("/api/orders", headers={**customer.auth, **key})
    second = api.post("/api/orders", headers={**customer.auth, **key})

    # then: one order, priced by products, stock reserved, cart emptied by the event
    assert first.status_code == 201, first.text
    assert second.status_code in (200, 201), second.text
    order = first.json()
    assert second.json()["id"] == order["id"]
    assert order["status"] == "confirmed"
    assert Decimal(order["total"]) == Decimal("24.25")
    assert order["currency"] == "USD"
    assert (_stock(api, lamp["id"]), _stock(api, mug["id"])) == (3, 2)
    # staff see the units allocated to the order, still on hand until it is cancelled
    assert _staff_stock(api, staff, lamp["id"]) == (5, 2, 3)
    assert "stock_allocated" not in api.get(f"/api/products/{lamp['id']}").json()
    _poll(lambda: api.get("/api/cart", headers=customer.auth).json(), lambda c: c["lines"] == [])
    listed = api.get("/api/orders", headers=customer.auth).json()
    assert [o["id"] for o in listed["items"]].count(order["id"]) == 1
    assert listed["count"] == 1
    assert_problem(api.get(f"/api/orders/{order['id']}", headers=stranger.auth), 404)
    assert_problem(api.post(f"/api/orders/{order['id']}/cancel", headers=stranger.auth), 404)

    # when: the customer cancels
    cancelled = api.post(f"/api/orders/{order['id']}/cancel", headers=customer.auth)

    # then: stock is back
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    _poll(lambda: (_stock(api, lamp["id"]), _stock(api, mug["id"])), lambda s: s == (5, 3))
    assert _staff_stock(api, staff, lamp["id"]) == (5, 0, 5)
    assert api.get(f"/api/orders/{order['id']}", headers=customer.auth).json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("quantity", "status"),
    [(0, 400), (-1, 400), (100, 400), ("two", 400), (6, 409)],
)
def test_bad_cart_quantities_are_rejected(
    api: httpx.Client,
    new_customer: Callable[[], Customer],
    make_product: Callable[..., dict[str, Any]],
    quantity: object,
    status: int,
) -> None:
    # given
    customer = new_customer()
    product = make_product(price="3.00", stock=5)

    # when
    response = api.post(
        "/api/cart/items", json={"product_id": product["id"], "quantity": quantity}, headers=customer.auth
    )

    # then
    assert_problem(response, status)
    assert api.get("/api/cart", headers=customer.auth).json()["lines"] == []


def test_unknown_or_malformed_product_cannot_be_added(api: httpx.Client, new_customer: Callable[[], Customer]) -> None:
    customer = new_customer()
    assert_problem(
        api.post("/api/cart/items", json={"product_id": str(uuid.uuid4()), "quantity": 1}, headers=customer.auth), 404
    )
    assert_problem(api.post("/api/cart/items", json={"product_id": "nope", "quantity": 1}, headers=customer.auth), 400)
    assert api.get("/api/cart", headers=customer.auth).json()["lines"] == []


def test_empty_cart_checkout_is_422(api: httpx.Client, new_customer: Callable[[], Customer]) -> None:
    customer = new_customer()
    response = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert_problem(response, 422)
    assert api.get("/api/orders", headers=customer.auth).json()["count"] == 0


def test_checkout_without_idempotency_key_is_400(api: httpx.Client, new_customer: Callable[[], Customer]) -> None:
    customer = new_customer()
    assert_problem(api.post("/api/orders", headers=customer.auth), 400)


def test_checkout_of_more_than_remaining_stock_names_the_item(
    api: httpx.Client,
    new_customer: Callable[[], Customer],
    make_product: Callable[..., dict[str, Any]],
    staff: Customer,
) -> None:
    # given: the cart holds 2 units, then stock drops to 1
    customer = new_customer()
    product = make_product(price="7.00", stock=2)
    api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 2}, headers=customer.auth)
    api.patch(f"/api/products/{product['id']}", json={"stock_on_hand": 1}, headers=staff.auth)

    # when
    response = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})

    # then
    body = assert_problem(response, 409)
    assert body.get("product_id") == product["id"]
    assert _stock(api, product["id"]) == 1
    orders = api.get("/api/orders", headers=customer.auth).json()["items"]
    assert all(o["status"] != "confirmed" for o in orders)


def test_a_staff_stock_write_read_before_checkouts_never_sells_their_units_twice(
    api: httpx.Client,
    new_customer: Callable[[], Customer],
    make_product: Callable[..., dict[str, Any]],
    staff: Customer,
) -> None:
    # given: staff read the product (3 on hand); then a customer buys 2
    product = make_product(price="8.00", stock=3)
    read = api.get(f"/api/products/{product['id']}", headers=staff.auth).json()
    buyer = new_customer()
    api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 2}, headers=buyer.auth)
    placed = api.post("/api/orders", headers={**buyer.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert placed.status_code == 201, placed.text

    # when: staff save what they read along with a new price; one writes the read-only available stock
    saved = api.patch(
        f"/api/products/{product['id']}",
        json={"price": "9.00", "stock_on_hand": read["stock_on_hand"]},
        headers=staff.auth,
    )
    refused = api.patch(f"/api/products/{product['id']}", json={"stock": read["stock"]}, headers=staff.auth)

    # then: one unit is left for sale, so a second customer cannot buy two
    assert saved.status_code == 200, saved.text
    assert (saved.json()["stock_on_hand"], saved.json()["stock_allocated"], saved.json()["stock"]) == (3, 2, 1)
    assert "stock" in assert_problem(refused, 400)["errors"]
    late = new_customer()
    too_many = api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 2}, headers=late.auth)
    assert_problem(too_many, 409)
    api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=late.auth)
    last = api.post("/api/orders", headers={**late.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert last.status_code == 201, last.text
    assert _staff_stock(api, staff, product["id"]) == (3, 3, 0)


def test_orders_need_a_token(api: httpx.Client) -> None:
    assert_problem(api.get("/api/orders"), 401)
    assert_problem(api.get("/api/cart"), 401)
