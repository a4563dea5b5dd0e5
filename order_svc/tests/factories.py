"""factory_boy factories of the orders app's models (for reads; checkouts in tests go through the service)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from factory.declarations import LazyAttribute, LazyFunction, Sequence, SubFactory
from factory.django import DjangoModelFactory

from order_svc.orders.models import Order, OrderLine, OrderStatus, OrderStatusChange


class OrderFactory(DjangoModelFactory[Order]):
    class Meta:
        model = Order

    user_id = LazyFunction(uuid.uuid4)  # type: ignore[no-untyped-call]
    status = OrderStatus.CONFIRMED
    currency = "USD"
    idempotency_key = Sequence(lambda n: f"key-{n}")  # type: ignore[no-untyped-call]
    total = Decimal("0.00")


class OrderLineFactory(DjangoModelFactory[OrderLine]):
    class Meta:
        model = OrderLine

    order = SubFactory(OrderFactory)  # type: ignore[no-untyped-call]
    product_id = LazyFunction(uuid.uuid4)  # type: ignore[no-untyped-call]
    name = Sequence(lambda n: f"Product {n}")  # type: ignore[no-untyped-call]
    quantity = 1
    unit_price = Decimal("10.00")
    line_total = LazyAttribute(lambda line: line.unit_price * line.quantity)  # type: ignore[no-untyped-call]


def confirmed_order(*, user_id: uuid.UUID, lines: int = 2, **kwargs: Any) -> Order:
    """A confirmed order with `lines` lines, its total and its history, as checkout leaves it."""
    order = OrderFactory.create(user_id=user_id, **kwargs)
    made = [OrderLineFactory.create(order=order, quantity=i + 1) for i in range(lines)]
    order.total = sum((line.line_total for line in made), Decimal("0.00"))
    order.save(update_fields=["total"])
    OrderStatusChange.objects.create(order=order, status=OrderStatus.PENDING, note="checkout started")
    OrderStatusChange.objects.create(order=order, status=OrderStatus.CONFIRMED, note="stock reserved")
    return order
