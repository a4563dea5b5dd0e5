"""Periodic jobs of the products service, run by its event consumer process (`SHOP_PERIODIC_TASKS`)."""

from __future__ import annotations

from product_svc.catalog.services import stock_expire_holds


def expire_reservations() -> int:
    """Give back the units of reservations held past `RESERVATION_HOLD_SECONDS` with no confirmed order."""
    return stock_expire_holds()
