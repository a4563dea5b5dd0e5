"""Business metrics of the products service (Prometheus; multi-process safe under gunicorn)."""

from __future__ import annotations

from prometheus_client import Counter

STOCK_RESERVATIONS = Counter(
    "shop_stock_reservations_total",
    "Stock reservation attempts by outcome (reserved, replayed, insufficient-stock, ...).",
    ["outcome"],
)
STOCK_RELEASES = Counter("shop_stock_releases_total", "Stock release requests by outcome.", ["outcome"])
UNITS_RESERVED = Counter("shop_stock_units_reserved_total", "Units of stock taken by new reservations.")
CATALOG_CACHE = Counter("shop_catalog_cache_requests_total", "Catalog cache lookups by result.", ["result"])
