"""shopkit's `fake_products` fixture (what carts' and orders' suites use) behaves like this service."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest

from shopkit.grpc.products import (
    InsufficientStock,
    InvalidArgument,
    ProductNotFound,
    ProductsServiceUnavailable,
    ProductUnavailable,
    ReservationNotFound,
    ReservationReleased,
    products_client,
)
from shopkit.testing.fake_products import FakeProducts
from shopkit.testing.grpc_tls import GrpcTestPki


@pytest.fixture(autouse=True)
def _call_as_orders(settings: Any, grpc_pki: GrpcTestPki) -> None:
    """The fake is exercised as orders uses it (the identity allowed every method)."""
    grpc_pki.use(settings, "orders")


def test_fake_serves_products_added_by_the_test(fake_products: FakeProducts) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price="9.50", stock=3)

    # when
    client = products_client()

    # then
    assert client.get_product(mug.id) == mug
    assert client.get_products([mug.id, uuid.uuid4()]) == {mug.id: mug}
    with pytest.raises(ProductNotFound):
        client.get_product(uuid.uuid4())


def test_fake_reserves_all_or_nothing_and_idempotently(fake_products: FakeProducts) -> None:
    # given
    mug = fake_products.add_product(name="Mug", price=Decimal("9.50"), stock=3)
    pot = fake_products.add_product(name="Pot", stock=1)
    retired = fake_products.add_product(active=False)
    client = products_client()
    order_id = uuid.uuid4()

    # when / then
    with pytest.raises(InsufficientStock) as raised:
        client.reserve_stock(uuid.uuid4(), [(mug.id, 1), (pot.id, 2)])
    assert (raised.value.product_id, raised.value.available) == (pot.id, 1)
    with pytest.raises(ProductUnavailable):
        client.reserve_stock(uuid.uuid4(), [(retired.id, 1)])
    with pytest.raises(InvalidArgument):
        client.reserve_stock(uuid.uuid4(), [(mug.id, 0)])
    assert (fake_products.stock(mug.id), fake_products.stock(pot.id)) == (3, 1)

    first = client.reserve_stock(order_id, [(mug.id, 2)])
    again = client.reserve_stock(order_id, [(mug.id, 2)])
    assert first == again
    assert [(line.name, line.quantity, line.unit_price) for line in first] == [("Mug", 2, Decimal("9.50"))]
    assert fake_products.stock(mug.id) == 1
    assert fake_products.is_held(order_id)

    assert (client.release_stock(order_id), client.release_stock(order_id)) == (True, False)
    assert fake_products.stock(mug.id) == 3


def test_fake_delay_turns_into_a_fast_service_unavailable(fake_products: FakeProducts) -> None:
    # given
    mug = fake_products.add_product()
    fake_products.delay_seconds = 0.5
    client = products_client()
    client.deadline_seconds = 0.2
    started = time.monotonic()

    # when / then
    with pytest.raises(ProductsServiceUnavailable):
        client.get_product(mug.id)
    assert time.monotonic() - started < 0.45


def test_fake_reserves_again_after_a_release_confirms_and_expires_like_the_service(
    fake_products: FakeProducts,
) -> None:
    # given
    mug = fake_products.add_product(stock=5)
    client = products_client()
    order_id, other = uuid.uuid4(), uuid.uuid4()
    client.reserve_stock(order_id, [(mug.id, 2)])
    client.release_stock(order_id)

    # when / then: a released reservation is reserved again, never answered as held
    again = client.reserve_stock(order_id, [(mug.id, 2)])
    assert [line.quantity for line in again] == [2]
    assert (fake_products.status(order_id), fake_products.stock(mug.id)) == ("held", 3)
    assert client.confirm_reservation(order_id) is True
    assert client.confirm_reservation(order_id) is False
    client.reserve_stock(other, [(mug.id, 1)])
    fake_products.expire(other)
    assert (fake_products.status(other), fake_products.stock(mug.id)) == ("expired", 3)
    client.release_stock(order_id)
    with pytest.raises(ReservationReleased):
        client.confirm_reservation(order_id)
    with pytest.raises(ReservationNotFound):
        client.confirm_reservation(uuid.uuid4())
    assert fake_products.stock(mug.id) == 5
