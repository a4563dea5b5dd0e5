"""Periodic jobs of the orders service, run by its outbox relay process (`SHOP_PERIODIC_TASKS`)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from order_svc.orders.services import order_expire_pending


def expire_pending_orders() -> int:
    """Give back the stock of checkouts pending longer than `ORDER_PENDING_EXPIRY_SECONDS`."""
    return order_expire_pending(older_than=dt.timedelta(seconds=settings.ORDER_PENDING_EXPIRY_SECONDS))
