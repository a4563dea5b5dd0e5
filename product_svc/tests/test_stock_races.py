"""Concurrent reservations and staff edits on the real database: many threads, each with its own connection."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from product_svc.catalog import services
from product_svc.catalog.errors import InsufficientStock
from product_svc.catalog.models import Product, Reservation, ReservationLine
from product_svc.tests.factories import ProductFactory

THREADS = 16
TIMEOUT_SECONDS = 30


def _run_together(task: Callable[[int], Any]) -> list[Any]:
    """Run `task(i)` in THREADS threads released at once; each result or raised exception, in order."""
    barrier = threading.Barrier(THREADS, timeout=TIMEOUT_SECONDS)

    def run(index: int) -> Any:
        try:
            barrier.wait()
            return task(index)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(run, index) for index in range(THREADS)]
        return [future.result(timeout=TIMEOUT_SECONDS) for future in futures]


def test_concurrent_reservations_never_oversell(transactional_db: None) -> None:
    # given: five units and sixteen buyers of one unit each
    product = ProductFactory.create(stock=5)

    # when
    outcomes = _run_together(lambda _: services.stock_reserve(order_id=uuid.uuid4(), lines=[(product.id, 1)]))

    # then: exactly five succeed; the others are told how many are left
    succeeded = [o for o in outcomes if isinstance(o, services.StockReservation)]
    refused = [o for o in outcomes if isinstance(o, InsufficientStock)]
    assert (len(succeeded), len(refused)) == (5, THREADS - 5), outcomes
    assert {o.available for o in refused} == {0}
    assert Product.objects.get(id=product.id).stock == 0
    assert Reservation.objects.count() == 5


def test_concurrent_reservations_for_one_order_take_stock_once(transactional_db: None) -> None:
    # given: the same order's reservation retried by many callers at once
    product = ProductFactory.create(stock=100)
    order_id = uuid.uuid4()

    # when
    outcomes = _run_together(lambda _: services.stock_reserve(order_id=order_id, lines=[(product.id, 3)]))

    # then
    assert all(isinstance(o, services.StockReservation) for o in outcomes), outcomes
    assert sum(not o.replayed for o in outcomes) == 1
    assert {o.reservation.id for o in outcomes} == {outcomes[0].reservation.id}
    assert Product.objects.get(id=product.id).stock == 97


def test_concurrent_releases_give_stock_back_once(transactional_db: None) -> None:
    # given
    product = ProductFactory.create(stock=10)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(product.id, 4)])

    # when
    outcomes = _run_together(lambda _: services.stock_release(order_id=order_id))

    # then
    assert sorted(outcomes) == [False] * (THREADS - 1) + [True]
    assert Product.objects.get(id=product.id).stock == 10


def test_staff_edits_racing_checkouts_never_sell_a_unit_twice(transactional_db: None) -> None:
    # given: five units on hand; staff read the product (5 on hand) before the checkouts start
    product = ProductFactory.create(stock=5, price=Decimal("10.00"))
    read_on_hand = Product.objects.get(id=product.id).stock_on_hand
    buyers = THREADS - 4

    def act(index: int) -> Any:
        if index < 4:
            # staff write what they read, with a price change, in the middle of the checkouts
            return services.product_update(
                product_id=product.id, price=Decimal(f"{11 + index}.00"), stock_on_hand=read_on_hand
            )
        return services.stock_reserve(order_id=uuid.uuid4(), lines=[(product.id, 1)])

    # when
    outcomes = _run_together(act)

    # then: exactly five units were sold; each held reservation has a unit behind it
    reserved = [o for o in outcomes if isinstance(o, services.StockReservation)]
    refused = [o for o in outcomes if isinstance(o, InsufficientStock)]
    updated = [o for o in outcomes if isinstance(o, Product)]
    assert (len(reserved), len(refused), len(updated)) == (5, buyers - 5, 4), outcomes
    product.refresh_from_db()
    assert (product.stock_on_hand, product.stock_allocated, product.stock) == (5, 5, 0)
    held_units = ReservationLine.objects.filter(
        reservation__status__in=Reservation.ALLOCATING, product_id=product.id
    ).aggregate(units=Sum("quantity"))["units"]
    assert held_units == product.stock_allocated == 5


def test_staff_restocking_racing_checkouts_loses_neither(transactional_db: None) -> None:
    # given: two on hand; a delivery of ten arrives while sixteen buyers check out
    product = ProductFactory.create(stock=2)

    def act(index: int) -> Any:
        if index == 0:
            return services.product_update(product_id=product.id, stock_on_hand=12)
        return services.stock_reserve(order_id=uuid.uuid4(), lines=[(product.id, 1)])

    # when
    outcomes = _run_together(act)

    # then: whatever the order, allocated units never exceed on hand and none is lost
    reserved = [o for o in outcomes if isinstance(o, services.StockReservation)]
    product.refresh_from_db()
    assert product.stock_on_hand == 12
    assert product.stock_allocated == len(reserved) <= 12
    assert Reservation.objects.filter(status=Reservation.Status.HELD).count() == len(reserved)
    assert product.stock == 12 - len(reserved)


def test_confirming_racing_expiry_ends_confirmed_with_its_units_allocated_once(
    transactional_db: None, settings: Any
) -> None:
    # given: a reservation whose hold ended just as its order's confirmation arrives
    settings.RESERVATION_HOLD_SECONDS = 60
    product = ProductFactory.create(stock=10)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(product.id, 4)])
    later = timezone.now() + dt.timedelta(minutes=5)

    # when: half the threads confirm, half run the expiry job
    outcomes = _run_together(
        lambda index: services.stock_confirm(order_id=order_id) if index % 2 else services.stock_expire_holds(now=later)
    )

    # then: confirmed, four units allocated (an expiry that won first was undone by the confirmation)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.CONFIRMED
    product.refresh_from_db()
    assert (product.stock_allocated, product.stock) == (4, 6)


def test_retried_reservations_of_a_released_order_allocate_once(transactional_db: None) -> None:
    # given: the order's reservation was released; its checkout is retried by many callers at once
    product = ProductFactory.create(stock=10)
    order_id = uuid.uuid4()
    services.stock_reserve(order_id=order_id, lines=[(product.id, 3)])
    services.stock_release(order_id=order_id)

    # when
    outcomes = _run_together(lambda _: services.stock_reserve(order_id=order_id, lines=[(product.id, 3)]))

    # then
    assert all(isinstance(o, services.StockReservation) for o in outcomes), outcomes
    assert sum(not o.replayed for o in outcomes) == 1
    product.refresh_from_db()
    assert (product.stock_allocated, product.stock) == (3, 7)
