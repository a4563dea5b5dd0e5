"""`consume_events`: the carts service's Kafka consumer (empties ordered products out of carts)."""

from __future__ import annotations

from cart_svc.carts.handlers import ORDER_CONFIRMED, handle_order_confirmed
from shopkit.events.consumer import ConsumerCommand, Handler


class Command(ConsumerCommand):
    help = "Consume order events: remove confirmed orders' products from the customers' carts."
    group_id = "carts"
    topics = ("shop.orders",)

    def get_handlers(self) -> dict[str, Handler]:
        return {ORDER_CONFIRMED: handle_order_confirmed}
