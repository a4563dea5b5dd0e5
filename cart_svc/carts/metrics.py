"""Business metrics of the carts service (Prometheus; multi-process safe under gunicorn)."""

from __future__ import annotations

from prometheus_client import Counter

# Every successful add (a new line or more of an existing one); the Business dashboard divides
# orders created by it for the cart-to-order conversion.
CART_ADDITIONS = Counter("shop_cart_additions_total", "Successful adds to carts (a new line or more of one).")
