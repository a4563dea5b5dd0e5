"""Event handlers of the carts app (run by `consume_events`): interfaces that call one service each."""

from __future__ import annotations

from cart_svc.carts import services
from shopkit.events.consumer import Event
from shopkit.events.contracts import OrderConfirmedV1


def handle_order_confirmed(event: Event) -> None:
    """An ordered product leaves the customer's cart; a redelivered event finds nothing left to remove.

    Data that does not match the contract raises (pydantic's ValidationError): the consumer retries,
    then dead-letters it.
    """
    confirmed = OrderConfirmedV1.from_event(event)
    services.cart_clear_for_order(
        user_id=confirmed.user_id,
        order_id=confirmed.order_id,
        product_ids=[line.product_id for line in confirmed.lines],
    )
