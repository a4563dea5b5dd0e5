"""Business metrics of the orders service (Prometheus; multi-process safe under gunicorn)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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


@dataclass(frozen=True)
class ExpiryMetrics:
    runs: Counter
    expired: Counter


# Built on first use, by the expirer process alone: the web workers import this module too and must not
# export its counters as 0 under the `orders` job.
@cache
def expiry_metrics() -> ExpiryMetrics:
    metrics = ExpiryMetrics(
        runs=Counter(
            "shop_order_expiry_runs_total",
            "Runs of expire_pending_orders, by outcome (ok, failed: an error, logged, then the next run).",
            ["outcome"],
        ),
        expired=Counter(
            "shop_orders_expired_total", "Checkouts left pending that expiry failed as abandoned (stock given back)."
        ),
    )
    for outcome in ("ok", "failed"):
        metrics.runs.labels(outcome=outcome)
    return metrics
