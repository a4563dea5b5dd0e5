"""Business metrics of the products service (Prometheus; multi-process safe under gunicorn)."""

from __future__ import annotations

from prometheus_client import Counter

STOCK_RESERVATIONS = Counter(
    "shop_stock_reservations_total",
    "Stock reservation attempts by outcome (reserved, replayed, insufficient-stock, ...).",
    ["outcome"],
)
STOCK_RELEASES = Counter("shop_stock_releases_total", "Stock release requests by outcome.", ["outcome"])
STOCK_CONFIRMATIONS = Counter(
    "shop_stock_confirmations_total",
    "Reservation confirmations by confirmed orders, by outcome (confirmed, already-confirmed, released, "
    "reallocated after expiry, expired-sold: a confirmed order whose expired units were sold meanwhile).",
    ["outcome"],
)
UNITS_RESERVED = Counter("shop_stock_units_reserved_total", "Units of stock allocated by new reservations.")
UNITS_EXPIRED = Counter(
    "shop_stock_units_expired_total", "Units given back because no order confirmed their reservation in time."
)
CATALOG_CACHE = Counter("shop_catalog_cache_requests_total", "Catalog cache lookups by result.", ["result"])

# Outcomes that alerts and panels watch exist from the start at 0, so a first occurrence is an increase.
for _outcome in ("confirmed", "already-confirmed", "released", "reallocated", "expired-sold", "not-found"):
    STOCK_CONFIRMATIONS.labels(outcome=_outcome)
