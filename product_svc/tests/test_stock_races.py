"""Concurrent reservations on the real database: many threads, each with its own connection."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection

from product_svc.catalog import services
from product_svc.catalog.errors import InsufficientStock
from product_svc.catalog.models import Product, Reservation
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
