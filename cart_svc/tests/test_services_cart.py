"""The cart services against products served by `fake_products`: a real gRPC server, in process, in memory."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from cart_svc.carts import services
from cart_svc.carts.errors import CartFull, CartLineNotFound, CurrencyMismatch, InvalidQuantity, LineQuantityLimit
from cart_svc.carts.models import MAX_CART_LINES, Cart, CartLine
from cart_svc.tests.factories import CartFactory, CartLineFactory
from shopkit.grpc.products import InsufficientStock, ProductNotFound, ProductsServiceUnavailable, ProductUnavailable

pytestmark = pytest.mark.django_db


def _lines(user_id: uuid.UUID) -> list[tuple[uuid.UUID, int, str, Decimal]]:
    return list(
        CartLine.objects.filter(cart__user_id=user_id)
        .order_by("created_at", "id")
        .values_list("product_id", "quantity", "name", "unit_price")
    )


def test_cart_item_add_creates_the_cart_and_a_line_remembering_name_and_price(fake_products: Any) -> None:
    # given
    user_id = uuid.uuid4()
    mug = fake_products.add_product(name="Mug", price="9.50", stock=5)

    # when
    line = services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=2)

    # then
    assert Cart.objects.filter(user_id=user_id).count() == 1
    assert (line.product_id, line.quantity, line.name, line.unit_price, line.currency) == (
        mug.id,
        2,
        "Mug",
        Decimal("9.50"),
        "USD",
    )
    assert _lines(user_id) == [(mug.id, 2, "Mug", Decimal("9.50"))]


def test_cart_item_add_of_a_product_in_the_cart_increases_its_line_and_refreshes_the_snapshot(
    fake_products: Any,
) -> None:
    # given
    user_id = uuid.uuid4()
    mug = fake_products.add_product(name="Mug", price="9.50", stock=5)
    services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=2)
    fake_products.update_product(mug.id, name="Big mug", price=Decimal("11.00"))

    # when
    services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=3)

    # then
    assert _lines(user_id) == [(mug.id, 5, "Big mug", Decimal("11.00"))]


@pytest.mark.parametrize("quantity", [0, -1, 100, True])
def test_cart_item_add_rejects_a_quantity_out_of_range(fake_products: Any, quantity: int) -> None:
    # given
    user_id = uuid.uuid4()
    mug = fake_products.add_product(stock=500)

    # when
    with pytest.raises(InvalidQuantity) as caught:
        services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=quantity)

    # then
    assert caught.value.extra == {"errors": {"quantity": ["Ensure this value is between 1 and 99."]}}
    assert not Cart.objects.exists()


def test_cart_item_add_past_99_in_one_line_is_refused_and_changes_nothing(fake_products: Any) -> None:
    # given
    user_id = uuid.uuid4()
    mug = fake_products.add_product(stock=500)
    services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=90)

    # when
    with pytest.raises(LineQuantityLimit) as caught:
        services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=10)

    # then
    assert caught.value.status == 400
    assert caught.value.detail == "A cart line holds at most 99 units; this one already has 90."
    assert [q for _, q, _, _ in _lines(user_id)] == [90]


@pytest.mark.parametrize(("in_cart", "adding"), [(0, 4), (2, 2)])
def test_cart_item_add_beyond_stock_is_refused_with_the_available_units(
    fake_products: Any, in_cart: int, adding: int
) -> None:
    # given
    user_id = uuid.uuid4()
    mug = fake_products.add_product(stock=3)
    if in_cart:
        services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=in_cart)

    # when
    with pytest.raises(InsufficientStock) as caught:
        services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=adding)

    # then
    assert (caught.value.status, caught.value.extra) == (409, {"product_id": str(mug.id), "available": 3})
    assert [q for _, q, _, _ in _lines(user_id)] == ([in_cart] if in_cart else [])


def test_cart_item_add_of_an_unknown_product_is_not_found(fake_products: Any) -> None:
    # given
    user_id, unknown = uuid.uuid4(), uuid.uuid4()

    # when
    with pytest.raises(ProductNotFound) as caught:
        services.cart_item_add(user_id=user_id, product_id=unknown, quantity=1)

    # then
    assert (caught.value.status, caught.value.extra) == (404, {"product_id": str(unknown)})
    assert not Cart.objects.exists()


def test_cart_item_add_of_an_inactive_product_is_a_conflict(fake_products: Any) -> None:
    # given
    user_id = uuid.uuid4()
    retired = fake_products.add_product(active=False)

    # when
    with pytest.raises(ProductUnavailable) as caught:
        services.cart_item_add(user_id=user_id, product_id=retired.id, quantity=1)

    # then
    assert (caught.value.status, caught.value.extra) == (409, {"product_id": str(retired.id)})
    assert not Cart.objects.exists()


def test_cart_item_add_with_products_down_is_unavailable_and_stores_nothing(products_down: None) -> None:
    # when
    with pytest.raises(ProductsServiceUnavailable):
        services.cart_item_add(user_id=uuid.uuid4(), product_id=uuid.uuid4(), quantity=1)

    # then
    assert not Cart.objects.exists()


def test_cart_item_add_refuses_a_product_in_another_currency(fake_products: Any) -> None:
    # given
    user_id = uuid.uuid4()
    mug = fake_products.add_product(currency="USD")
    tea = fake_products.add_product(currency="EUR")
    services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=1)

    # when
    with pytest.raises(CurrencyMismatch) as caught:
        services.cart_item_add(user_id=user_id, product_id=tea.id, quantity=1)

    # then
    assert caught.value.detail == "The product is priced in EUR, the cart in USD; order it separately."
    assert [p for p, _, _, _ in _lines(user_id)] == [mug.id]


def test_cart_item_add_of_one_product_too_many_is_refused(fake_products: Any) -> None:
    # given
    cart = CartFactory.create()
    CartLine.objects.bulk_create(
        CartLineFactory.build(cart=cart, name=f"P{n}", product_id=uuid.uuid4()) for n in range(MAX_CART_LINES)
    )
    extra = fake_products.add_product()

    # when
    with pytest.raises(CartFull):
        services.cart_item_add(user_id=cart.user_id, product_id=extra.id, quantity=1)

    # then
    assert CartLine.objects.filter(cart=cart).count() == MAX_CART_LINES


def test_cart_item_set_replaces_the_quantity_and_refreshes_the_snapshot(fake_products: Any) -> None:
    # given
    user_id = uuid.uuid4()
    mug = fake_products.add_product(name="Mug", price="9.50", stock=10)
    services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=5)
    fake_products.update_product(mug.id, price=Decimal("8.00"))

    # when
    services.cart_item_set(user_id=user_id, product_id=mug.id, quantity=2)

    # then
    assert _lines(user_id) == [(mug.id, 2, "Mug", Decimal("8.00"))]


def test_cart_item_set_beyond_stock_is_refused_and_changes_nothing(fake_products: Any) -> None:
    # given
    user_id = uuid.uuid4()
    mug = fake_products.add_product(stock=10)
    services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=5)
    fake_products.update_product(mug.id, stock=6)

    # when
    with pytest.raises(InsufficientStock) as caught:
        services.cart_item_set(user_id=user_id, product_id=mug.id, quantity=7)

    # then
    assert caught.value.available == 6
    assert [q for _, q, _, _ in _lines(user_id)] == [5]


def test_cart_item_set_of_a_product_not_in_the_cart_is_not_found_without_asking_products(
    products_down: None,
) -> None:
    # given: products is down, so any call to it would be a 503
    cart = CartFactory.create()

    # when
    with pytest.raises(CartLineNotFound) as caught:
        services.cart_item_set(user_id=cart.user_id, product_id=uuid.uuid4(), quantity=1)

    # then
    assert caught.value.status == 404


def test_cart_item_remove_deletes_only_that_line(fake_products: Any) -> None:
    # given
    user_id = uuid.uuid4()
    mug, tea = fake_products.add_product(name="Mug"), fake_products.add_product(name="Tea")
    services.cart_item_add(user_id=user_id, product_id=mug.id, quantity=1)
    services.cart_item_add(user_id=user_id, product_id=tea.id, quantity=2)

    # when
    services.cart_item_remove(user_id=user_id, product_id=mug.id)

    # then
    assert [(p, q) for p, q, _, _ in _lines(user_id)] == [(tea.id, 2)]


def test_cart_item_remove_of_a_product_not_in_the_cart_is_not_found() -> None:
    # given
    line = CartLineFactory.create()

    # when
    with pytest.raises(CartLineNotFound):
        services.cart_item_remove(user_id=line.cart.user_id, product_id=uuid.uuid4())
    with pytest.raises(CartLineNotFound):
        services.cart_item_remove(user_id=uuid.uuid4(), product_id=line.product_id)

    # then
    assert CartLine.objects.count() == 1


def test_cart_clear_for_order_removes_the_ordered_products_only_and_is_idempotent() -> None:
    # given
    cart = CartFactory.create()
    ordered = CartLineFactory.create(cart=cart)
    kept = CartLineFactory.create(cart=cart)
    someone_elses = CartLineFactory.create(product_id=ordered.product_id)
    order_id = uuid.uuid4()

    # when
    first = services.cart_clear_for_order(user_id=cart.user_id, order_id=order_id, product_ids=[ordered.product_id])
    second = services.cart_clear_for_order(user_id=cart.user_id, order_id=order_id, product_ids=[ordered.product_id])

    # then
    assert (first, second) == (1, 0)
    assert set(CartLine.objects.values_list("id", flat=True)) == {kept.id, someone_elses.id}


def test_cart_clear_for_order_of_a_customer_without_a_cart_does_nothing() -> None:
    # when
    removed = services.cart_clear_for_order(user_id=uuid.uuid4(), order_id=uuid.uuid4(), product_ids=[uuid.uuid4()])

    # then
    assert removed == 0
    assert not Cart.objects.exists()


def test_cart_lines_remove_deletes_the_given_lines_across_carts() -> None:
    # given
    first, second, kept = CartLineFactory.create(), CartLineFactory.create(), CartLineFactory.create()

    # when
    removed = services.cart_lines_remove(line_ids=[first.id, second.id, uuid.uuid4()], removed_by="staff@example.com")

    # then
    assert removed == 2
    assert list(CartLine.objects.values_list("id", flat=True)) == [kept.id]
