"""`consume_events`: the carts service's Kafka consumer (empties ordered products out of carts)."""

from __future__ import annotations

from cart_svc.carts.handlers import handle_order_confirmed
from shopkit.events.consumer import ConsumerCommand, Handler
from shopkit.events.contracts import OrderConfirmedV1


class Command(ConsumerCommand):
    help = "Consume order events: remove confirmed orders' products from the customers' carts."
    group_id = "carts"
    topics = ("shop.orders",)

    def get_handlers(self) -> dict[str, Handler]:
        return {OrderConfirmedV1.event_type: handle_order_confirmed}
