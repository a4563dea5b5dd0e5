"""Event handlers of the carts app (run by `consume_events`): interfaces that call one service each."""

from __future__ import annotations

import uuid

from cart_svc.carts import services
from shopkit.events.consumer import Event

ORDER_CONFIRMED = "shop.order.confirmed.v1"


def handle_order_confirmed(event: Event) -> None:
    """An ordered product leaves the customer's cart; a redelivered event finds nothing left to remove.

    Malformed data raises (KeyError, ValueError, TypeError): the consumer retries, then dead-letters it.
    """
    data = event.data
    services.cart_clear_for_order(
        user_id=uuid.UUID(str(data["user_id"])),
        order_id=uuid.UUID(str(data["order_id"])),
        product_ids=[uuid.UUID(str(line["product_id"])) for line in data["lines"]],
    )
