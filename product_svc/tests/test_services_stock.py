"""Stock: on hand apart from allocated; reserve, release, confirm and expire, all or nothing, never below zero."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from product_svc.catalog import services
from product_svc.catalog.errors import (
    InsufficientStock,
    InvalidReservation,
    ProductNotFound,
    ProductUnavailable,
    ReservationNotFound,
    ReservationReleased,
    StockBelowAllocated,
)
from product_svc.catalog.models import Category, Product, Reservation, ReservationLine
from product_svc.tests.factories import ProductFactory


def _stock(product: Product) -> int:
    return int(Product.objects.values_list("stock", flat=True).get(id=product.id))


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


def test_reserving_again_after_a_release_allocates_again(category: Category) -> None:
    # given: a checkout whose reservation was released (its answer lost, then retried)
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 2)])
    services.stock_release(order_id=order_id)

    # when
    result = services.stock_reserve(order_id=order_id, lines=[(mug.id, 2)])

    # then: a released reservation is never answered as held; the units are taken again
    assert result.replayed is False
    assert result.reservation.status == Reservation.Status.HELD
    assert [(line.product_id, line.quantity) for line in result.lines] == [(mug.id, 2)]
    assert _stock(mug) == 3
    assert ReservationLine.objects.filter(reservation__order_id=order_id).count() == 1


def test_reserving_again_after_a_release_is_refused_when_the_units_were_sold(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=2, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 2)])
    services.stock_release(order_id=order_id)
    services.stock_reserve(order_id=uuid.uuid4(), lines=[(mug.id, 1)])

    # when / then
    with pytest.raises(InsufficientStock) as refused:
        services.stock_reserve(order_id=order_id, lines=[(mug.id, 2)])
    assert refused.value.available == 1
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.RELEASED
    assert _stock(mug) == 1


def test_the_database_refuses_more_allocated_than_on_hand(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=1, category=category)

    # when / then: the check constraint backs the conditional updates, whoever writes
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(id=mug.id).update(stock_allocated=F("stock_allocated") + 2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(id=mug.id).update(stock_on_hand=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(id=mug.id).update(stock_allocated=-1)
    assert _stock(mug) == 1


def test_staff_setting_on_hand_read_before_a_checkout_keeps_what_it_allocated(category: Category) -> None:
    # given: staff read 10 on hand; then a checkout allocates 3
    desk = ProductFactory.create(stock=10, category=category)
    services.stock_reserve(order_id=uuid.uuid4(), lines=[(desk.id, 3)])

    # when: staff write the value they read, with a price change
    updated = services.product_update(product_id=desk.id, price=Decimal("99.00"), stock_on_hand=10)

    # then: the 3 units stay allocated to the order; 7 are for sale, not 10
    assert (updated.stock_on_hand, updated.stock_allocated, updated.stock) == (10, 3, 7)
    assert _stock(desk) == 7


def test_staff_cannot_set_on_hand_below_what_is_allocated(category: Category) -> None:
    # given
    desk = ProductFactory.create(stock=10, category=category)
    services.stock_reserve(order_id=uuid.uuid4(), lines=[(desk.id, 6)])

    # when / then
    with pytest.raises(StockBelowAllocated) as refused:
        services.product_update(product_id=desk.id, stock_on_hand=5, price=Decimal("1.00"))
    assert refused.value.extra["allocated"] == 6
    desk.refresh_from_db()
    assert (desk.stock_on_hand, desk.stock_allocated, desk.price) == (10, 6, Decimal("10.00"))


def test_staff_may_set_on_hand_to_exactly_what_is_allocated(category: Category) -> None:
    # given
    desk = ProductFactory.create(stock=10, category=category)
    services.stock_reserve(order_id=uuid.uuid4(), lines=[(desk.id, 6)])

    # when
    updated = services.product_update(product_id=desk.id, stock_on_hand=6)

    # then
    assert (updated.stock_on_hand, updated.stock_allocated, updated.stock) == (6, 6, 0)


# -- confirmation and expiry ----------------------------------------------------------------------


def _later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def test_a_new_reservation_is_held_until_the_hold_time(category: Category, settings: Any) -> None:
    # given
    settings.RESERVATION_HOLD_SECONDS = 600
    mug = ProductFactory.create(stock=5, category=category)
    before = timezone.now()

    # when
    reservation = services.stock_reserve(order_id=uuid.uuid4(), lines=[(mug.id, 1)]).reservation

    # then
    assert reservation.status == Reservation.Status.HELD
    assert reservation.expires_at is not None
    assert before + dt.timedelta(seconds=600) <= reservation.expires_at <= _later(600)


def test_a_held_reservation_no_order_confirms_gives_its_units_back_after_the_hold(
    category: Category, settings: Any
) -> None:
    # given: a caller reserved and never stored (or confirmed) its order
    settings.RESERVATION_HOLD_SECONDS = 600
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 4)])

    # when: before the hold ends, then after
    early = services.stock_expire_holds(now=_later(590))
    late = services.stock_expire_holds(now=_later(610))

    # then
    assert (early, late) == (0, 1)
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.EXPIRED
    assert _stock(mug) == 5
    assert services.stock_expire_holds(now=_later(620)) == 0


def test_a_confirmed_reservation_never_expires(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 4)])

    # when
    first, second = services.stock_confirm(order_id=order_id), services.stock_confirm(order_id=order_id)
    expired = services.stock_expire_holds(now=_later(86_400 * 365))

    # then
    assert (first, second, expired) == (True, False, 0)
    reservation = Reservation.objects.get(order_id=order_id)
    assert (reservation.status, reservation.expires_at) == (Reservation.Status.CONFIRMED, None)
    assert _stock(mug) == 1


def test_a_retried_reservation_of_a_confirmed_order_replays(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 4)])
    services.stock_confirm(order_id=order_id)

    # when
    result = services.stock_reserve(order_id=order_id, lines=[(mug.id, 4)])

    # then
    assert (result.replayed, result.reservation.status) == (True, Reservation.Status.CONFIRMED)
    assert _stock(mug) == 1


def test_cancelling_a_confirmed_order_releases_its_units(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 4)])
    services.stock_confirm(order_id=order_id)

    # when
    released = services.stock_release(order_id=order_id)

    # then
    assert released is True
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.RELEASED
    assert _stock(mug) == 5


def test_confirming_a_released_reservation_is_refused_and_takes_nothing(category: Category) -> None:
    # given
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 4)])
    services.stock_release(order_id=order_id)

    # when / then
    with pytest.raises(ReservationReleased):
        services.stock_confirm(order_id=order_id)
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.RELEASED
    assert _stock(mug) == 5


def test_confirming_an_order_without_a_reservation_is_not_found(db: None) -> None:
    with pytest.raises(ReservationNotFound):
        services.stock_confirm(order_id=uuid.uuid4())


def test_confirming_an_expired_reservation_allocates_again_while_the_units_remain(
    category: Category, settings: Any
) -> None:
    # given: the order was confirmed, but its confirmation reached products after the hold
    settings.RESERVATION_HOLD_SECONDS = 600
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 4)])
    services.stock_expire_holds(now=_later(610))
    assert _stock(mug) == 5

    # when
    confirmed = services.stock_confirm(order_id=order_id)

    # then
    assert confirmed is True
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.CONFIRMED
    assert _stock(mug) == 1


def test_confirming_an_expired_reservation_whose_units_were_sold_is_refused(category: Category, settings: Any) -> None:
    # given
    settings.RESERVATION_HOLD_SECONDS = 600
    mug = ProductFactory.create(stock=5, category=category)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(mug.id, 4)])
    services.stock_expire_holds(now=_later(610))
    services.stock_reserve(order_id=uuid.uuid4(), lines=[(mug.id, 3)])

    # when / then
    with pytest.raises(InsufficientStock):
        services.stock_confirm(order_id=order_id)
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.EXPIRED
    assert _stock(mug) == 2


def test_the_database_refuses_a_negative_price(category: Category) -> None:
    # given
    mug = ProductFactory.create(category=category)

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(id=mug.id).update(price=Decimal("-0.01"))
