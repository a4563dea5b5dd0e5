"""`consume_events`: the products service's Kafka consumer (confirms reservations of confirmed orders,
releases those of cancelled orders) and the runner of its periodic jobs (expiring reservations)."""

from __future__ import annotations

from product_svc.catalog.handlers import handle_order_cancelled, handle_order_confirmed
from shopkit.events.consumer import ConsumerCommand, Handler
from shopkit.events.contracts import OrderCancelledV1, OrderConfirmedV1


class Command(ConsumerCommand):
    help = "Consume order events: confirm the reservations of confirmed orders, release those of cancelled ones."
    group_id = "products"
    topics = ("shop.orders",)

    def get_handlers(self) -> dict[str, Handler]:
        return {
            OrderConfirmedV1.event_type: handle_order_confirmed,
            OrderCancelledV1.event_type: handle_order_cancelled,
        }
