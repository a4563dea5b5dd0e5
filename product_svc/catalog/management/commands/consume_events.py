"""`consume_events`: the products service's Kafka consumer (releases stock of cancelled orders)."""

from __future__ import annotations

from product_svc.catalog.handlers import ORDER_CANCELLED, handle_order_cancelled
from shopkit.events.consumer import ConsumerCommand, Handler


class Command(ConsumerCommand):
    help = "Consume order events: release the stock of cancelled orders."
    group_id = "products"
    topics = ("shop.orders",)

    def get_handlers(self) -> dict[str, Handler]:
        return {ORDER_CANCELLED: handle_order_cancelled}
