"""Event handlers of the catalog (run by `consume_events`): interfaces that call one service each."""

from __future__ import annotations

import structlog

from product_svc.catalog import services
from product_svc.catalog.errors import ReservationReleased
from shopkit.events.consumer import Event
from shopkit.events.contracts import OrderCancelledV1, OrderConfirmedV1

log = structlog.get_logger(__name__)


def handle_order_cancelled(event: Event) -> None:
    """A cancelled order's held stock goes back on sale; releasing is idempotent, so redelivery is harmless."""
    order_id = OrderCancelledV1.from_event(event).order_id
    released = services.stock_release(order_id=order_id)
    log.info("order_cancellation_handled", order_id=str(order_id), event_id=str(event.id), released=released)


def handle_order_confirmed(event: Event) -> None:
    """A confirmed order claims its reservation, so it never expires.

    Orders confirms over gRPC right after the order commits; this is the path that holds when that
    call failed (products or the network down), since the event comes from orders' outbox. A
    reservation released meanwhile (the order was cancelled and released first) stays released: the
    cancellation event that follows on the same key finds nothing more to do. Anything else (no
    reservation at all, or units sold after an expiry) raises, and the event is retried, then
    dead-lettered for an operator.
    """
    order_id = OrderConfirmedV1.from_event(event).order_id
    try:
        confirmed = services.stock_confirm(order_id=order_id)
    except ReservationReleased:
        log.info("order_confirmation_of_released_reservation", order_id=str(order_id), event_id=str(event.id))
        return
    log.info("order_confirmation_handled", order_id=str(order_id), event_id=str(event.id), confirmed=confirmed)
