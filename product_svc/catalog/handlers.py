"""Event handlers of the catalog (run by `consume_events`): interfaces that call one service each."""

from __future__ import annotations

import uuid

import structlog

from product_svc.catalog import services
from shopkit.events.consumer import Event

log = structlog.get_logger(__name__)

ORDER_CANCELLED = "shop.order.cancelled.v1"


def handle_order_cancelled(event: Event) -> None:
    """A cancelled order's held stock goes back on sale; releasing is idempotent, so redelivery is harmless."""
    order_id = uuid.UUID(str(event.data["order_id"]))
    released = services.stock_release(order_id=order_id)
    log.info("order_cancellation_handled", order_id=str(order_id), event_id=str(event.id), released=released)
