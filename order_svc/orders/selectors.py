"""Reads of the orders app: a customer's orders (always scoped to the caller) with lines and history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import QuerySet

from order_svc.orders.errors import OrderNotFound
from order_svc.orders.models import Order

MAX_PAGE_SIZE = 100
MAX_PAGE = 100_000


@dataclass(frozen=True)
class OrderPage:
    items: list[Order]
    count: int


def _with_details(queryset: QuerySet[Order]) -> QuerySet[Order]:
    # Two extra queries for any number of orders: every order renders its lines and its history.
    return queryset.prefetch_related("lines", "history")


def order_get(*, order_id: uuid.UUID, user_id: uuid.UUID) -> Order:
    """The caller's order; someone else's order is OrderNotFound, exactly like an unknown id."""
    order = _with_details(Order.objects.filter(id=order_id, user_id=user_id)).first()
    if order is None:
        raise OrderNotFound
    return order


def order_list(*, user_id: uuid.UUID, page: int, page_size: int) -> OrderPage:
    """The caller's orders, newest first; a page past the end is empty, not an error."""
    if not 1 <= page <= MAX_PAGE or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError("page or page_size out of range")  # the API validates; this guards other callers
    orders = Order.objects.filter(user_id=user_id).order_by("-created_at", "-id")
    count = orders.count()
    start = (page - 1) * page_size
    items = list(_with_details(orders[start : start + page_size])) if start < count else []
    return OrderPage(items=items, count=count)


def order_by_idempotency_key(*, user_id: uuid.UUID, idempotency_key: str) -> Order | None:
    return Order.objects.filter(user_id=user_id, idempotency_key=idempotency_key).first()
