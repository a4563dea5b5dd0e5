"""Business metrics of the orders service (Prometheus; multi-process safe under gunicorn)."""

from __future__ import annotations

from prometheus_client import Counter

from order_svc.orders.errors import FailureReason

ORDERS_CREATED = Counter("shop_orders_created_total", "Orders placed (confirmed at checkout).")
ORDERS_CANCELLED = Counter("shop_orders_cancelled_total", "Orders cancelled.")
ORDER_VALUE = Counter("shop_order_value_total", "Sum of the totals of placed orders.", ["currency"])
CHECKOUT_FAILURES = Counter("shop_checkout_failures_total", "Checkouts that did not place an order.", ["reason"])

# Every reason exists from the start at 0, so rates and alerts see a series before the first failure.
# Abandoned checkouts are failed by the expiry job, not by a checkout call: not counted here.
for _reason in FailureReason:
    if _reason != FailureReason.ABANDONED:
        CHECKOUT_FAILURES.labels(reason=_reason.value)
