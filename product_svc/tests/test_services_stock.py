"""stock_reserve / stock_release: all or nothing, idempotent per order, never below zero."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from product_svc.catalog import services
from product_svc.catalog.errors import InsufficientStock, InvalidReservation, ProductNotFound, ProductUnavailable
from product_svc.catalog.models import Category, Product, Reservation, ReservationLine
from product_svc.tests.factories import ProductFactory


def _stock(product: Product) -> int:
    return Product.objects.values_list("stock", flat=True).get(id=product.id)


def test_reserve_takes_stock_and_records_current_names_and_prices(category: Category) -> None:
    # given
    mug = ProductFactory.create(name="Mug", price=Decimal("9.50"), stock=5, category=category)
    pot = ProductFactory.create(name="Pot", price=Decimal("30.00"), stock=2, category=category)
    order_id = uuid.uuid4()

    # when
    result = services.stock_reserve(order_id=order_id, lines=[(mug.id, 2), (pot.id, 2)])

    # then
    assert result.replayed is False
    assert sorted((line.name, line.quantity, line.unit_price, line.currency) for line in result.lines) == [
        ("Mug", 2, Decimal("9.50"), "USD"),
        ("Pot", 2, Decimal("30.00"), "USD"),
    ]
    assert (_stock(mug), _stock(pot)) == (3, 0)
    reservation = Reservation.objects.get(order_id=order_id)
    assert reservation.status == Reservation.Status.HELD
    assert reservation.lines.count() == 2


def test_reserving_again_for_the_same_order_replays_without_moving_stock(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    first = services.stock_reserve(order_id=order_id, lines=[(mug.id, 2)])

    # when
    second = services.stock_reserve(order_id=order_id, lines=[(mug.id, 2)])

    # then
    assert second.replayed is True
    assert second.reservation.id == first.reservation.id
    assert [(line.product_id, line.quantity) for line in second.lines] == [(mug.id, 2)]
    assert _stock(mug) == 3
    assert Reservation.objects.count() == 1


def test_one_short_line_reserves_nothing(category: Category) -> None:
    # given
    plenty = ProductFactory.create(stock=10, category=category)
    scarce = ProductFactory.create(stock=1, category=category)
    order_id = uuid.uuid4()

    # when
    with pytest.raises(InsufficientStock) as raised:
        services.stock_reserve(order_id=order_id, lines=[(plenty.id, 3), (scarce.id, 2)])

    # then
    assert (raised.value.product_id, raised.value.available, raised.value.status) == (scarce.id, 1, 409)
    assert raised.value.extra == {"product_id": str(scarce.id), "available": 1}
    assert (_stock(plenty), _stock(scarce)) == (10, 1)
    assert not Reservation.objects.exists()
    assert not ReservationLine.objects.exists()


def test_an_inactive_product_cannot_be_reserved(category: Category) -> None:
    # given
    retired = ProductFactory.create(stock=10, active=False, category=category)

    # when
    with pytest.raises(ProductUnavailable) as raised:
        services.stock_reserve(order_id=uuid.uuid4(), lines=[(retired.id, 1)])

    # then
    assert raised.value.extra == {"product_id": str(retired.id)}
    assert _stock(retired) == 10
    assert not Reservation.objects.exists()


def test_an_unknown_product_cannot_be_reserved(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=10, category=category)
    unknown = uuid.uuid4()

    # when
    with pytest.raises(ProductNotFound) as raised:
        services.stock_reserve(order_id=uuid.uuid4(), lines=[(mug.id, 1), (unknown, 1)])

    # then
    assert raised.value.extra == {"product_id": str(unknown)}
    assert _stock(mug) == 10
    assert not Reservation.objects.exists()


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [("p", 0)],
        [("p", -1)],
        [("p", 10_001)],
        [("p", 1), ("p", 1)],
    ],
)
def test_malformed_reservations_are_refused(category: Category, lines: list[tuple[str, int]]) -> None:
    # given
    mug = ProductFactory.create(stock=100_000, category=category)

    # when / then
    with pytest.raises(InvalidReservation):
        services.stock_reserve(order_id=uuid.uuid4(), lines=[(mug.id, quantity) for _, quantity in lines])
    assert _stock(mug) == 100_000
    assert not Reservation.objects.exists()


def test_too_many_lines_are_refused(db: None) -> None:
    # when / then
    with pytest.raises(InvalidReservation):
        services.stock_reserve(order_id=uuid.uuid4(), lines=[(uuid.uuid4(), 1) for _ in range(101)])


def test_release_gives_the_units_back_once(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=5, category=category)
    pot = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 2), (pot.id, 5)])

    # when
    first = services.stock_release(order_id=order_id)
    second = services.stock_release(order_id=order_id)

    # then
    assert (first, second) == (True, False)
    assert (_stock(mug), _stock(pot)) == (5, 5)
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.RELEASED


def test_releasing_an_unknown_order_releases_nothing(db: None) -> None:
    assert services.stock_release(order_id=uuid.uuid4()) is False


def test_reserving_a_released_order_replays_and_takes_nothing(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 2)])
    services.stock_release(order_id=order_id)

    # when
    result = services.stock_reserve(order_id=order_id, lines=[(mug.id, 2)])

    # then
    assert result.replayed is True
    assert result.reservation.status == Reservation.Status.RELEASED
    assert _stock(mug) == 5


def test_the_database_refuses_negative_stock(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=1, category=category)

    # when / then: the check constraint backs the conditional updates
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(id=mug.id).update(stock=F("stock") - 2)
    assert _stock(mug) == 1


def test_the_database_refuses_a_negative_price(category: Category) -> None:
    # given
    mug = ProductFactory.create(category=category)

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(id=mug.id).update(price=Decimal("-0.01"))
