"""`consume_events`: the products service's Kafka consumer (confirms reservations of confirmed orders,
releases those of cancelled orders) and the runner of its periodic jobs (expiring reservations)."""

from __future__ import annotations

from product_svc.catalog.handlers import (
    ORDER_CANCELLED,
    ORDER_CONFIRMED,
    handle_order_cancelled,
    handle_order_confirmed,
)
from shopkit.events.consumer import ConsumerCommand, Handler


class Command(ConsumerCommand):
    help = "Consume order events: confirm the reservations of confirmed orders, release those of cancelled ones."
    group_id = "products"
    topics = ("shop.orders",)

    def get_handlers(self) -> dict[str, Handler]:
        return {ORDER_CONFIRMED: handle_order_confirmed, ORDER_CANCELLED: handle_order_cancelled}
